from django.db.models import Count, Max, Q

from .models import InboxStatus, InboxUpdate


def inbox_overview() -> dict[str, object]:
    return InboxUpdate.objects.aggregate(
        pending=Count("pk", filter=Q(status=InboxStatus.PENDING)),
        processing=Count("pk", filter=Q(status=InboxStatus.PROCESSING)),
        failed=Count("pk", filter=Q(status=InboxStatus.FAILED)),
        last_received=Max("received_at"),
    )
