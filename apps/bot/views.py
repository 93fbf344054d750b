import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.billing.services import tracked_link_visit

from .services import InvalidUpdate, inbox_receive, update_parse

SECRET_HEADER = "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"


def _secret_ok(request: HttpRequest) -> bool:
    expected = settings.TELEGRAM_WEBHOOK_SECRET
    given = request.META.get(SECRET_HEADER, "")
    # While no secret is configured, nobody can be told apart from Telegram: refuse everyone.
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@csrf_exempt
@require_POST
def telegram_webhook(request: HttpRequest) -> HttpResponse:
    """Store the update and answer at once; processing happens in a Celery task."""
    if not _secret_ok(request):
        return JsonResponse({"error": "wrong or missing secret token"}, status=403)
    limit = settings.TELEGRAM_WEBHOOK_MAX_BODY
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    body = request.read(limit + 1) if declared <= limit else b""
    if declared > limit or len(body) > limit:
        return JsonResponse({"error": f"body larger than {limit} bytes"}, status=413)
    try:
        payload = update_parse(body)
    except InvalidUpdate as error:
        return JsonResponse({"error": str(error)}, status=400)
    inbox_receive(payload=payload)
    return HttpResponse(status=200)


@require_GET
def tracked_link(request: HttpRequest, slug: str) -> HttpResponse:
    """/go/<slug>: redirect to the platform, recording the visit of the user the link's token names."""
    target = tracked_link_visit(slug, request.GET.get("u", ""))
    if target is None:
        raise Http404("no such link")
    return HttpResponseRedirect(target)
