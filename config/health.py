"""/healthz for load balancers and monitoring: database, broker, queue lag, last event."""

from datetime import timedelta

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.analytics.selectors import last_event_time
from apps.bot.selectors import inbox_oldest_pending
from apps.core.redis import redis_client

# Updates waiting longer than this mean the workers are not keeping up (or not running).
QUEUE_LAG_LIMIT = timedelta(minutes=5)


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _broker() -> tuple[str, int | None]:
    client = redis_client()
    if client is None:
        return "none (tasks run in-process)", None
    client.ping()
    return "ok", client.llen("celery")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report: dict[str, object] = {}
    healthy = True
    try:
        report["database"] = _database()
    except Exception as error:
        report["database"], healthy = f"down: {type(error).__name__}", False
    try:
        report["broker"], report["queue_length"] = _broker()
    except Exception as error:
        report["broker"], healthy = f"down: {type(error).__name__}", False
    if report["database"] == "ok":
        oldest = inbox_oldest_pending()
        lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        report["queue_lag_seconds"] = round(lag, 1)
        if lag > QUEUE_LAG_LIMIT.total_seconds():
            healthy = False
        last = last_event_time()
        report["last_event_at"] = last.isoformat() if last else None
    report["status"] = "ok" if healthy else "degraded"
    return JsonResponse(report, status=200 if healthy else 503)
