"""The rollups the dashboard reads instead of raw events: each user's first time at each event, and an hourly
log-scale histogram of response times. Kept at ingest (events_store, in the batch's transaction) and rebuilt
from the raw events by rebuild_analytics_rollups; the same upserts serve both, on SQLite and PostgreSQL."""

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction

from apps.core.upsert import upsert

from .catalogue import Events
from .models import AnalyticsEvent, ResponseTimeBucket, UserFirstEvent

# --- The histogram's buckets -----------------------------------------------------------------------------
RATIO = 1.1
_LOG_RATIO = math.log(RATIO)
# What a value read back from a bucket may be off by: relative at or above 1 ms, absolute (ms) below.
RELATIVE_ERROR = math.sqrt(RATIO) - 1
ABSOLUTE_ERROR_BELOW_1_MS = 0.5
ERROR_BOUND = (
    f"From the hourly histogram (log-scale buckets, ratio {RATIO}): percentiles within "
    f"{RELATIVE_ERROR:.1%} of the exact ones (0.5 ms below 1 ms); count and average exact. "
    "Whole hours: every hour the window touches. exact=true reads the raw events instead."
)


def bucket_of(value: float) -> int:
    """0 below 1 ms; b ≥ 1 for [RATIO**(b-1), RATIO**b)."""
    if value < 1:
        return 0
    return 1 + int(math.floor(math.log(value) / _LOG_RATIO))


def bucket_value(bucket: int) -> float:
    """The bucket's geometric middle (0.5 ms for the one below 1 ms)."""
    return 0.5 if bucket <= 0 else RATIO ** (bucket - 0.5)


def histogram_percentile(counts: Sequence[tuple[int, int]], share: float) -> float:
    """percentile_cont over the values the (bucket, count) pairs, sorted by bucket, stand for: linear between the
    closest ranks, each rank read as its bucket's middle."""
    total = sum(count for _, count in counts)
    position = (total - 1) * share
    low = int(position)
    high = min(low + 1, total - 1)
    values, seen = {}, 0
    for bucket, count in counts:
        for rank in (low, high):
            if rank not in values and seen <= rank < seen + count:
                values[rank] = bucket_value(bucket)
        seen += count
        if high in values:
            break
    return values[low] + (values[high] - values[low]) * (position - low)


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def response_histogram(
    timings: Iterable[tuple[datetime, Any, Any]],
) -> dict[tuple[datetime, int, int], list[float]]:
    """(hour, metric, bucket) → [count, total_ms] for ai_response_time's (occurred_at, duration_ms, ttft_ms):
    as the raw path, a ttft counts only with a numeric duration."""
    histogram: dict[tuple[datetime, int, int], list[float]] = {}
    for occurred_at, duration, ttft in timings:
        duration = _number(duration)
        if duration is None:
            continue
        hour = _hour(occurred_at)
        for metric, value in ((ResponseTimeBucket.Metric.DURATION, duration), (ResponseTimeBucket.Metric.TTFT, ttft)):
            value = _number(value)
            if value is None:
                continue
            cell = histogram.setdefault((hour, int(metric), bucket_of(value)), [0, 0.0])
            cell[0] += 1
            cell[1] += value
    return histogram


# --- Upserts ---------------------------------------------------------------------------------------------
def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _moment(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _first_events_sql() -> tuple[str, str]:
    table = _table(UserFirstEvent)
    return (
        f"INSERT INTO {table} (user_id, event_name, first_at)",
        # The earliest wins, whichever batch brings it first; a later one writes nothing.
        f"ON CONFLICT (user_id, event_name) DO UPDATE SET first_at = excluded.first_at "
        f"WHERE excluded.first_at < {table}.first_at",
    )


def first_events_add(firsts: dict[tuple[int, str], datetime]) -> None:
    """Fold (user_id, event_name) → earliest time seen into UserFirstEvent, keeping the earliest."""
    if firsts:
        head, tail = _first_events_sql()
        rows = [(user, name, _moment(at)) for (user, name), at in firsts.items()]
        table = _table(UserFirstEvent)
        # Most events come after their user's first: those rows are left out before the insert, unlocked.
        only = (
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.user_id = r.c0 AND t.event_name = r.c1 "
            "AND t.first_at <= r.c2)"
        )
        upsert(head, tail, rows, ("bigint", "varchar", "timestamptz"), only=only)


def histogram_add(histogram: dict[tuple[datetime, int, int], list[float]]) -> None:
    if not histogram:
        return
    table = _table(ResponseTimeBucket)
    upsert(
        f"INSERT INTO {table} (hour, metric, bucket, count, total_ms)",
        f"ON CONFLICT (hour, metric, bucket) DO UPDATE SET count = {table}.count + excluded.count, "
        f"total_ms = {table}.total_ms + excluded.total_ms",
        [
            (_moment(hour), metric, bucket, int(count), total)
            for (hour, metric, bucket), (count, total) in histogram.items()
        ],
        ("timestamptz", "smallint", "smallint", "integer", "float8"),
    )


def rollups_add(rows: Iterable[tuple]) -> None:
    """At ingest: the batch's (event_name, user_id, properties, occurred_at) folded into the rollups, one statement
    each (two for a batch over 2,000 users and events)."""
    firsts: dict[tuple[int, str], datetime] = {}
    timings = []
    for name, user_id, properties, occurred_at in rows:
        if user_id is not None:
            key = (user_id, name)
            if key not in firsts or occurred_at < firsts[key]:
                firsts[key] = occurred_at
        if name == Events.RESPONSE_TIME and isinstance(properties, dict):
            timings.append((occurred_at, properties.get("duration_ms"), properties.get("ttft_ms")))
    first_events_add(firsts)
    histogram_add(response_histogram(timings))


# --- Rebuild from the raw events -------------------------------------------------------------------------
def _id_ranges(table: str, column: str, size: int) -> Iterator[tuple[int | None, int | None]]:
    """(after, up_to) ranges of `column` holding about `size` rows each, covering every value (None: unbounded)."""
    after = None
    with connection.cursor() as cursor:
        while True:
            where = f"{column} IS NOT NULL" + ("" if after is None else f" AND {column} > %s")
            cursor.execute(
                f"SELECT {column} FROM {table} WHERE {where} ORDER BY {column} LIMIT 1 OFFSET %s",
                ([] if after is None else [after]) + [size - 1],
            )
            row = cursor.fetchone()
            if row is None:
                yield after, None
                return
            yield after, row[0]
            after = row[0]


def _range_sql(column: str, after: int | None, up_to: int | None) -> tuple[str, list]:
    parts, params = [], []
    if after is not None:
        parts.append(f"{column} > %s")
        params.append(after)
    if up_to is not None:
        parts.append(f"{column} <= %s")
        params.append(up_to)
    return " AND ".join(parts) or "1 = 1", params


def _user_filters(user_ids: Iterable[int] | None, chunk: int) -> Iterator[tuple[str, list]]:
    events = _table(AnalyticsEvent)
    if user_ids is None:
        for after, up_to in _id_ranges(events, "user_id", chunk):
            yield _range_sql("user_id", after, up_to)
        return
    ids = sorted(set(user_ids))
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        yield f"user_id IN ({', '.join(['%s'] * len(part))})", part


def first_events_rebuild(*, user_ids: Iterable[int] | None = None, chunk: int = 500_000) -> int:
    """UserFirstEvent again from the raw events, in transactions of about `chunk` events. Firsts older than the
    oldest raw event stay (their events are past retention: nothing left to recount them from). Returns rows."""
    user_ids = None if user_ids is None else list(user_ids)
    events, table = _table(AnalyticsEvent), _table(UserFirstEvent)
    oldest = AnalyticsEvent.objects.order_by("occurred_at").values_list("occurred_at", flat=True).first()
    if oldest is None:
        return 0
    head, tail = _first_events_sql()
    for where, params in _user_filters(user_ids, chunk):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE {where} AND first_at >= %s", [*params, _moment(oldest)])
            cursor.execute(
                f"{head} SELECT user_id, event_name, MIN(occurred_at) FROM {events} "
                f"WHERE {where} AND user_id IS NOT NULL GROUP BY user_id, event_name {tail}",
                params,
            )
    users = UserFirstEvent.objects.all()
    return (users if user_ids is None else users.filter(user_id__in=user_ids)).count()


def _timings(start: datetime, end: datetime) -> Iterator[tuple[datetime, Any, Any]]:
    if connection.vendor == "postgresql":
        sql = (
            "SELECT occurred_at, CASE WHEN jsonb_typeof(properties -> 'duration_ms') = 'number' "
            "THEN (properties ->> 'duration_ms')::float END, CASE WHEN jsonb_typeof(properties -> 'ttft_ms') = "
            f"'number' THEN (properties ->> 'ttft_ms')::float END FROM {_table(AnalyticsEvent)} "
            "WHERE event_name = %s AND occurred_at >= %s AND occurred_at < %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [Events.RESPONSE_TIME, start, end])
            while rows := cursor.fetchmany(10_000):
                yield from rows
        return
    events = AnalyticsEvent.objects.filter(
        event_name=Events.RESPONSE_TIME, occurred_at__gte=start, occurred_at__lt=end
    ).values_list("occurred_at", "properties")
    for occurred_at, properties in events.iterator(chunk_size=10_000):
        if isinstance(properties, dict):
            yield occurred_at, properties.get("duration_ms"), properties.get("ttft_ms")


def histogram_rebuild(*, days_per_chunk: int = 7) -> int:
    """ResponseTimeBucket again from the raw events, a week per transaction. Hours before the oldest raw event's
    stay (past retention); the hour of the oldest raw event is recounted from what is left of it. Returns rows."""
    span = AnalyticsEvent.objects.filter(event_name=Events.RESPONSE_TIME).order_by("occurred_at")
    oldest = span.values_list("occurred_at", flat=True).first()
    if oldest is None:
        return ResponseTimeBucket.objects.count()
    newest = span.reverse().values_list("occurred_at", flat=True).first()
    start = _hour(oldest)
    while start <= newest:
        end = start + timedelta(days=days_per_chunk)
        with transaction.atomic():
            ResponseTimeBucket.objects.filter(hour__gte=start, hour__lt=end).delete()
            histogram_add(response_histogram(_timings(start, end)))
        start = end
    ResponseTimeBucket.objects.filter(hour__gte=start).delete()
    return ResponseTimeBucket.objects.count()
