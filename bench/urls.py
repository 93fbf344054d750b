import json
import random

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from apps.bot.models import InboxStatus, InboxUpdate


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    """Baseline 1: what Django and gunicorn cost with no work at all."""
    return HttpResponse(status=200)


@csrf_exempt
def one_insert(request: HttpRequest) -> HttpResponse:
    """Baseline 2: the floor cost of acknowledging durably, one INSERT of the parsed body through the ORM.

    Negative ids keep these rows apart from real update ids (the webhook accepts only >= 0).
    """
    InboxUpdate.objects.create(
        update_id=-random.getrandbits(62), status=InboxStatus.DONE, payload=json.loads(request.body)
    )
    return HttpResponse(status=200)


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/insert/", one_insert),
    path("", include("config.urls")),
]
