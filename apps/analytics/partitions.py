"""The raw events' monthly partitions on PostgreSQL (migration 0009; the machinery is apps/core/partitions.py).

Partitions are made ahead by the nightly job (`event_partitions_ahead`, MONTHS_AHEAD months), and retention
drops a month's partition once the whole month is past the cutoff (events_purge). An event whose month has no
partition (a clock far off, a backfill) lands in the DEFAULT partition; the nightly job makes its month's
partition and moves it there (`event_partitions_ensure` does it for any months). On SQLite every function here
does nothing.
"""

from datetime import datetime

from django.utils import timezone

from apps.core import partitions

from .models import AnalyticsEvent

TABLE = AnalyticsEvent._meta.db_table
COLUMN = AnalyticsEvent._meta.get_field("occurred_at").column
MONTHS_AHEAD = 3


def events_partitioned() -> bool:
    return partitions.partitioned(TABLE)


def event_partitions_list() -> list[partitions.Partition]:
    return partitions.partitions_list(TABLE)


def event_partitions_ensure(*, first: datetime, last: datetime) -> list[str]:
    """A partition for every month from `first`'s through `last`'s (UTC); rows of those months waiting in the
    DEFAULT partition move into theirs. Returns the names of the partitions made."""
    return partitions.partitions_ensure(TABLE, COLUMN, first=first, last=last)


def event_partitions_ahead(*, months: int = MONTHS_AHEAD) -> list[str]:
    """This month's partition and the next `months` months', and one for each month with events waiting in
    the DEFAULT partition (they move into it)."""
    return partitions.partitions_ahead(TABLE, COLUMN, months_ahead=months, now=timezone.now())


def event_partitions_drop(*, before: datetime) -> int:
    """Drops the partitions of months that ended by `before`, and deletes the DEFAULT partition's rows older
    than it. Returns the events that went."""
    if not events_partitioned():
        return 0
    return partitions.partitions_drop(TABLE, before=before) + partitions.default_delete_before(
        TABLE, COLUMN, before=before
    )
