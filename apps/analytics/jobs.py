"""Retention windows of analytics data and the daily database-size snapshot."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import AnalyticsEvent, DatabaseSizeSnapshot


def events_purge(*, retention_days: int | None = None) -> int:
    """Raw events older than ANALYTICS_RETENTION_DAYS go; usage rollups (DailyUsage, UserUsageSummary)
    are kept: they never depended on the raw events."""
    cutoff = timezone.now() - timedelta(days=retention_days or settings.ANALYTICS_RETENTION_DAYS)
    deleted, _ = AnalyticsEvent.objects.filter(occurred_at__lt=cutoff).delete()
    return deleted


def database_size_snapshot() -> DatabaseSizeSnapshot:
    from apps.billing.selectors import database_budget

    budget = database_budget()
    return DatabaseSizeSnapshot.objects.create(
        total_bytes=budget["used"],
        tables={row["table"]: {"bytes": row["bytes"], "rows": row["rows"]} for row in budget["tables"]},
    )
