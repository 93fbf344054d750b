"""Data retention of the users app: activity logs move to the archive table (seed 004), and the activity log's
monthly partitions on PostgreSQL (users migration 0008, apps/core/partitions.py)."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from apps.core import partitions

from .models import UserActivityLog, UserActivityLogArchive

ACTIVITY_TABLE = UserActivityLog._meta.db_table
ACTIVITY_COLUMN = UserActivityLog._meta.get_field("timestamp").column

_FIELDS = ["id", "user_id", "chat_id", "activity_type", "timestamp", "details"]


def activity_archive(*, older_than_days: int | None = None, busy_user_rows: int = 1000, chunk: int = 5000) -> int:
    """Rows older than ACTIVITY_ARCHIVE_DAYS of users with more than `busy_user_rows` rows move to the
    archive, `chunk` rows per transaction: each row is copied and deleted together, so none is lost or
    doubled however the job stops. Returns how many moved.

    Row by row even where the log is partitioned by month (PostgreSQL): only busy users' rows move, the rest
    of each month stays in the log, so there is no whole partition to detach."""
    cutoff = timezone.now() - timedelta(days=older_than_days or settings.ACTIVITY_ARCHIVE_DAYS)
    busy = (
        UserActivityLog.objects.values("user_id")
        .annotate(rows=Count("id"))
        .filter(rows__gt=busy_user_rows)
        .values_list("user_id", flat=True)
    )
    moved = 0
    for user_id in list(busy):
        while True:
            with transaction.atomic():
                rows = list(
                    UserActivityLog.objects.select_for_update(skip_locked=True)
                    .filter(user_id=user_id, timestamp__lt=cutoff)
                    .order_by("id")
                    .values(*_FIELDS)[:chunk]
                )
                if not rows:
                    break
                now = timezone.now()
                UserActivityLogArchive.objects.bulk_create(
                    [
                        UserActivityLogArchive(archived_at=now, **{k: v for k, v in row.items() if k != "id"})
                        for row in rows
                    ]
                )
                UserActivityLog.objects.filter(pk__in=[row["id"] for row in rows]).delete()
                moved += len(rows)
    return moved


def activity_partitions_ahead(*, months: int = 3) -> list[str]:
    """The activity log's partitions for this month and the next `months` months, and for each month with rows
    waiting in its DEFAULT partition (they move into it); PostgreSQL only. Returns the names of those made."""
    return partitions.partitions_ahead(ACTIVITY_TABLE, ACTIVITY_COLUMN, months_ahead=months, now=timezone.now())
