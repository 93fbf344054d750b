from datetime import datetime

from django.db.models import Count, Max, Q

from .models import InboxStatus, InboxUpdate


def inbox_overview() -> dict[str, object]:
    return InboxUpdate.objects.aggregate(
        pending=Count("pk", filter=Q(status=InboxStatus.PENDING)),
        processing=Count("pk", filter=Q(status=InboxStatus.PROCESSING)),
        failed=Count("pk", filter=Q(status=InboxStatus.FAILED)),
        last_received=Max("received_at"),
    )


def inbox_oldest_pending() -> datetime | None:
    """When the longest-waiting unprocessed update arrived: how far behind the workers are."""
    pending = InboxUpdate.objects.filter(status=InboxStatus.PENDING).order_by("received_at")
    return pending.values_list("received_at", flat=True).first()
