"""Retention windows of analytics data and the daily database-size snapshot."""

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.core.dates import day_start
from apps.users.jobs import activity_partitions_ahead

from .database import database_budget
from .models import AnalyticsEvent, DatabaseSizeSnapshot, EventDailyCount
from .partitions import event_partitions_ahead, event_partitions_drop, events_partitioned


def _day_start(day: date) -> datetime:
    return day_start(day, UTC)  # event days are UTC days


def _retention_cutoff(retention_days: int | None) -> datetime:
    return timezone.now() - timedelta(days=retention_days or settings.ANALYTICS_RETENTION_DAYS)


def _last_counted_day() -> date | None:
    return EventDailyCount.objects.aggregate(last=Max("date"))["last"]


def events_rollup(*, retention_days: int | None = None) -> int:
    """Counts the events of every finished day (UTC) not counted yet into EventDailyCount, recounting the
    last counted day too (a batch may have been stored after it was counted) unless the purge may have
    thinned it. Written in one transaction: a day is counted whole or not at all. Returns the days written."""
    today = timezone.now().astimezone(UTC).date()
    last = _last_counted_day()
    if last is not None:
        start = last if _day_start(last) >= _retention_cutoff(retention_days) else last + timedelta(days=1)
    else:
        first = AnalyticsEvent.objects.order_by("occurred_at").values_list("occurred_at", flat=True).first()
        if first is None:
            return 0
        start = first.astimezone(UTC).date()
    counts = (
        AnalyticsEvent.objects.filter(occurred_at__gte=_day_start(start), occurred_at__lt=_day_start(today))
        .annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("day", "event_name")
        .annotate(events=Count("id"), users=Count("user_id", distinct=True))
        .order_by()
    )
    rows = [
        EventDailyCount(date=row["day"], event_name=row["event_name"], events=row["events"], users=row["users"])
        for row in counts
    ]
    with transaction.atomic():
        EventDailyCount.objects.filter(date__gte=start, date__lt=today).delete()
        EventDailyCount.objects.bulk_create(rows)
    return len({row.date for row in rows})


def events_purge(*, retention_days: int | None = None) -> int:
    """Raw events older than ANALYTICS_RETENTION_DAYS go, but only from days already counted by
    events_rollup: a day never counted keeps its events until it is. The usage rollups (DailyUsage,
    UserUsageSummary) never depended on the raw events.

    On PostgreSQL the events are partitioned by month (partitions.py): a month goes whole, its partition
    dropped, once it ended before the cutoff, so a month's events are kept up to a month longer than
    ANALYTICS_RETENTION_DAYS and none is deleted row by row, except those of the DEFAULT partition (months
    that had no partition yet), which go to the day. Elsewhere they go to the day, row by row."""
    cutoff = _retention_cutoff(retention_days)
    last_counted = _last_counted_day()
    if last_counted is None:
        return 0
    cutoff = min(cutoff, _day_start(last_counted + timedelta(days=1)))
    if events_partitioned():
        return event_partitions_drop(before=cutoff)
    deleted, _ = AnalyticsEvent.objects.filter(occurred_at__lt=cutoff).delete()
    return deleted


def partitions_create() -> int:
    """The monthly partitions of the raw events and of the activity log for this month and the next three,
    where missing, and for months with rows waiting in a DEFAULT partition (PostgreSQL). Returns how many
    were made."""
    return len(event_partitions_ahead()) + len(activity_partitions_ahead())


def database_size_snapshot() -> DatabaseSizeSnapshot:
    budget = database_budget()
    return DatabaseSizeSnapshot.objects.create(
        total_bytes=budget["used"],
        tables={row["table"]: {"bytes": row["bytes"], "rows": row["rows"]} for row in budget["tables"]},
    )
