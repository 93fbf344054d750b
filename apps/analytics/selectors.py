"""Readers: seed 000's (answered from the rollups, never by scanning raw requests) and the product
analytics behind the API and the dashboard."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Max, Min, Q, Sum
from django.db.models.functions import TruncDate, TruncDay, TruncHour, TruncWeek
from django.utils import timezone

from apps.llm.models import DailyUsage, UserUsageSummary
from apps.users.models import ActiveUserDay, TelegramUser

from .catalogue import Events
from .models import AnalyticsEvent, ResponseTimeBucket, UserFirstEvent
from .rollups import histogram_percentile


def _as_date(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(day)


def get_user_daily_usage(user_id: int, day: date | str) -> int:
    tokens = DailyUsage.objects.filter(user_id=user_id, date=_as_date(day)).values_list("total_tokens", flat=True)
    return next(iter(tokens), 0)


def get_user_total_usage(user_id: int) -> int:
    tokens = UserUsageSummary.objects.filter(user_id=user_id).values_list("total_tokens", flat=True)
    return next(iter(tokens), 0)


def get_all_users_usage_by_date(day: date | str) -> list[dict]:
    return list(
        DailyUsage.objects.filter(date=_as_date(day))
        .order_by("-total_tokens", "user_id")
        .values(
            "user_id",
            "requests",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cost",
            username=F("user__username"),
        )
    )


# --- Product analytics ---------------------------------------------------------------------------
def _between(start: datetime, end: datetime) -> dict:
    return {"occurred_at__gte": start, "occurred_at__lt": end}


def funnel(steps: list[str], start: datetime, end: datetime, *, exact: bool = False) -> list[dict]:
    """Users reaching each step in order: those whose first time at the first step falls within the window, and
    of them, at each later step, those whose first time at it is at or after their first time at the step
    before, and before the window's end. Conversion is against the step before and against the first step.

    From UserFirstEvent (one row per user and event): a join over at most one row per user and step. `exact`:
    the same definition over the raw events (the same answer while the raw events are all kept)."""
    # Raw SQL: the times as the backend stores them (SQLite compares text).
    start, end = (connection.ops.adapt_datetimefield_value(moment) for moment in (start, end))
    users = (_funnel_raw if exact else _funnel_rollup)(steps, start, end)
    result = []
    for number, step in enumerate(steps):
        previous, first = (users[number - 1], users[0]) if number else (None, None)
        result.append(
            {
                "step": step,
                "users": users[number],
                "conversion_from_previous": 1.0
                if previous is None
                else round(users[number] / previous, 4)
                if previous
                else 0.0,
                "conversion_from_first": 1.0 if first is None else round(users[number] / first, 4) if first else 0.0,
            }
        )
    return result


def _funnel_rollup(steps: list[str], start: datetime, end: datetime) -> tuple[int, ...]:
    table = UserFirstEvent._meta.db_table
    joins, params = [], []
    for number, step in enumerate(steps[1:], start=1):
        joins.append(
            f"LEFT JOIN {table} s{number} ON s{number}.user_id = s{number - 1}.user_id AND s{number}.event_name = %s "
            f"AND s{number}.first_at >= s{number - 1}.first_at AND s{number}.first_at < %s"
        )
        params += [step, end]
    counts = ", ".join(f"COUNT(s{number}.user_id)" for number in range(len(steps)))
    sql = (
        f"SELECT {counts} FROM {table} s0 {' '.join(joins)} "
        "WHERE s0.event_name = %s AND s0.first_at >= %s AND s0.first_at < %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, steps[0], start, end])
        return cursor.fetchone()


def _funnel_raw(steps: list[str], start: datetime, end: datetime) -> tuple[int, ...]:
    """Each step's first time per user over every raw event before the end (a first time at or after the end is
    no first time within it), kept where it is at or after the step before's."""
    table = AnalyticsEvent._meta.db_table
    ctes, params = [], []
    for number, step in enumerate(steps):
        if number == 0:
            ctes.append(
                f"s0 AS (SELECT user_id, MIN(occurred_at) AS t FROM {table} WHERE event_name = %s "
                f"AND occurred_at < %s AND user_id IS NOT NULL GROUP BY user_id HAVING MIN(occurred_at) >= %s)"
            )
            params += [step, end, start]
        else:
            ctes.append(
                f"s{number} AS (SELECT e.user_id, MIN(e.occurred_at) AS t FROM {table} e "
                f"JOIN s{number - 1} p ON p.user_id = e.user_id WHERE e.event_name = %s AND e.occurred_at < %s "
                f"GROUP BY e.user_id, p.t HAVING MIN(e.occurred_at) >= p.t)"
            )
            params += [step, end]
    counts = ", ".join(f"(SELECT COUNT(*) FROM s{number})" for number in range(len(steps)))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} SELECT {counts}", params)
        return cursor.fetchone()


def _percentile(ordered: list[float], share: float) -> float:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if len(ordered) == 1:
        return float(ordered[0])
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def response_times(start: datetime, end: datetime, interval: str = "hour", *, exact: bool = False) -> list[dict]:
    """count, avg, p50 and p95 of ai_response_time's duration_ms per hour or day (settings.TIME_ZONE), and the
    p50 of its ttft_ms (time to the answer's first text; None where no event of the bucket has one).

    From the hourly histogram (ResponseTimeBucket) of every hour the window touches: count and avg exact,
    percentiles within rollups.RELATIVE_ERROR (4.9%) of the exact ones. `exact`: over the raw events, percentiles
    as PostgreSQL's percentile_cont (linear between closest ranks)."""
    if not exact:
        return _response_times_rollup(start, end, interval)
    if connection.vendor == "postgresql":
        return _response_times_postgres(start, end, interval)
    trunc = TruncHour if interval == "hour" else TruncDay
    buckets: dict[datetime, tuple[list[float], list[float]]] = {}
    events = (
        AnalyticsEvent.objects.filter(event_name=Events.RESPONSE_TIME, **_between(start, end))
        .annotate(bucket=trunc("occurred_at"))
        .values_list("bucket", "properties")
    )
    for bucket, properties in events.iterator():
        if not isinstance(properties, dict):
            continue
        duration, ttft = properties.get("duration_ms"), properties.get("ttft_ms")
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            durations, ttfts = buckets.setdefault(bucket, ([], []))
            durations.append(duration)
            if isinstance(ttft, int | float) and not isinstance(ttft, bool):
                ttfts.append(ttft)
    return [
        _response_row(bucket, sorted(durations), sorted(ttfts))
        for bucket, (durations, ttfts) in sorted(buckets.items())
    ]


def _response_times_rollup(start: datetime, end: datetime, interval: str) -> list[dict]:
    # Whole hours: from the start's own hour, when it does not start one.
    first_hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    buckets = ResponseTimeBucket.objects.filter(hour__gte=first_hour, hour__lt=end)
    if interval == "hour":  # one row per hour, metric and bucket already: read in the unique index's order
        rows = buckets.order_by("hour", "metric", "bucket").values_list("hour", "metric", "bucket", "count", "total_ms")
    else:
        rows = (
            buckets.annotate(key=TruncDay("hour"))
            .values_list("key", "metric", "bucket")
            .annotate(events=Sum("count"), total=Sum("total_ms"))
            .order_by("key", "metric", "bucket")
        )
    histograms: dict[datetime, dict[int, list[tuple[int, int]]]] = {}
    totals: dict[datetime, float] = {}
    for key, metric, bucket, count, total in rows:
        histograms.setdefault(key, {}).setdefault(metric, []).append((bucket, count))
        if metric == ResponseTimeBucket.Metric.DURATION:
            totals[key] = totals.get(key, 0.0) + total
    result = []
    for key, metrics in histograms.items():
        durations, ttfts = metrics.get(ResponseTimeBucket.Metric.DURATION), metrics.get(ResponseTimeBucket.Metric.TTFT)
        if not durations:
            continue
        count = sum(n for _, n in durations)
        result.append(
            {
                "bucket": key,
                "count": count,
                "avg_ms": round(totals[key] / count, 1),
                "p50_ms": round(histogram_percentile(durations, 0.5), 1),
                "p95_ms": round(histogram_percentile(durations, 0.95), 1),
                "ttft_p50_ms": round(histogram_percentile(ttfts, 0.5), 1) if ttfts else None,
            }
        )
    return result


def _response_row(bucket: datetime, durations: list[float], ttfts: list[float]) -> dict:
    return {
        "bucket": bucket,
        "count": len(durations),
        "avg_ms": round(sum(durations) / len(durations), 1),
        "p50_ms": round(_percentile(durations, 0.5), 1),
        "p95_ms": round(_percentile(durations, 0.95), 1),
        "ttft_p50_ms": round(_percentile(ttfts, 0.5), 1) if ttfts else None,
    }


def _response_times_postgres(start: datetime, end: datetime, interval: str) -> list[dict]:
    """The same figures computed where the rows are: one pass, no rows shipped to Python (buckets in the current
    time zone, as TruncHour and TruncDay)."""
    sql = (
        "SELECT date_trunc(%s, occurred_at AT TIME ZONE %s) AT TIME ZONE %s AS bucket, COUNT(*), AVG(d), "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.95) WITHIN GROUP (ORDER BY d), "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY t) "
        "FROM (SELECT occurred_at, (properties ->> 'duration_ms')::float AS d, "
        "CASE WHEN jsonb_typeof(properties -> 'ttft_ms') = 'number' THEN (properties ->> 'ttft_ms')::float END AS t "
        f"FROM {AnalyticsEvent._meta.db_table} "
        "WHERE event_name = %s AND occurred_at >= %s AND occurred_at < %s "
        "AND jsonb_typeof(properties -> 'duration_ms') = 'number') timed GROUP BY 1 ORDER BY 1"
    )
    with connection.cursor() as cursor:
        zone = timezone.get_current_timezone_name()
        cursor.execute(sql, [interval, zone, zone, Events.RESPONSE_TIME, start, end])
        rows = cursor.fetchall()
    return [
        {
            "bucket": bucket,
            "count": count,
            "avg_ms": round(avg, 1),
            "p50_ms": round(p50, 1),
            "p95_ms": round(p95, 1),
            "ttft_p50_ms": round(ttft, 1) if ttft is not None else None,
        }
        for bucket, count, avg, p50, p95, ttft in rows
    ]


def retention(start: date, end: date, period: str = "day") -> list[dict]:
    """Cohorts of users by registration day or week; for each later period, how many came back (any contact).
    From ActiveUserDay joined to the users' registration: one grouped query, whatever the log's size."""
    span = timedelta(days=7 if period == "week" else 1)

    def period_of(moment: date) -> date:
        return moment - timedelta(days=moment.weekday()) if period == "week" else moment

    first, last = period_of(start), period_of(end)
    registered = TelegramUser.objects.filter(registration_date__date__gte=first, registration_date__date__lte=end)
    cohorts: dict[date, int] = {}
    for day, users in (
        registered.annotate(day=TruncDate("registration_date")).values_list("day").annotate(n=Count("id")).order_by()
    ):
        cohorts[period_of(day)] = cohorts.get(period_of(day), 0) + users
    active: dict[date, dict[int, int]] = {cohort: {} for cohort in cohorts}
    days = ActiveUserDay.objects.filter(
        user__registration_date__date__gte=first,
        user__registration_date__date__lte=end,
        date__gte=first,
        date__lt=last + span,
    ).annotate(cohort=TruncDate("user__registration_date"))
    if period == "week":
        # A user active on several days of a week counts once in it.
        rows = (
            days.annotate(week=TruncWeek("date"), cohort_week=TruncWeek("cohort"))
            .values_list("cohort_week", "week")
            .annotate(users=Count("user_id", distinct=True))
            .order_by()
        )
    else:
        rows = days.values_list("cohort", "date").annotate(users=Count("user_id")).order_by()
    for cohort, day, users in rows:
        cohort, day = _as_day(cohort), _as_day(day)
        index = (day - cohort) // span
        if index >= 0:
            active[cohort][index] = active[cohort].get(index, 0) + users
    table = []
    for cohort in sorted(cohorts):
        periods = (last - cohort) // span + 1
        returned = [active[cohort].get(index, 0) for index in range(periods)]
        size = cohorts[cohort]
        table.append(
            {
                "cohort": cohort,
                "size": size,
                "returned": returned,
                "rates": [round(count / size, 4) for count in returned],
            }
        )
    return table


def _as_day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def user_usage(user_id: int, start: date, end: date) -> dict:
    days = list(
        DailyUsage.objects.filter(user_id=user_id, date__gte=start, date__lte=end)
        .order_by("date")
        .values(
            "date",
            "requests",
            "errors",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cost",
            "models",
            "providers",
        )
    )
    totals = {
        name: sum((day[name] for day in days), Decimal(0) if name == "cost" else 0)
        for name in ("requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost")
    }
    return {"user_id": user_id, "start": start, "end": end, "days": days, "totals": totals}


def user_usage_total(user_id: int) -> dict:
    # A user who never asked has no summary; an unsaved one's cost would be the int 0, not money.
    summary = UserUsageSummary.objects.filter(user_id=user_id).first() or UserUsageSummary(
        user_id=user_id, total_cost=Decimal(0)
    )
    return {
        "user_id": user_id,
        "requests": summary.total_requests,
        "errors": summary.total_errors,
        "prompt_tokens": summary.prompt_tokens,
        "completion_tokens": summary.completion_tokens,
        "total_tokens": summary.total_tokens,
        "cost": summary.total_cost,
        "average_latency_ms": round(summary.average_latency_ms, 1),
        "success_rate": round(summary.success_rate, 4),
        "last_activity": summary.last_activity,
    }


def last_event_time() -> datetime | None:
    return AnalyticsEvent.objects.aggregate(last=Max("occurred_at"))["last"]


def recent_event_days(days: int = 30) -> tuple[date, date]:
    """The dashboard's first range, so the data shows on first open however old it is: `days` days ending on
    the latest event's day, from the first event's day if that is later; the last `days` to today with none."""
    span = AnalyticsEvent.objects.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    if span["last"] is None:
        today = timezone.localdate()
        return today - timedelta(days=days - 1), today
    end = timezone.localdate(span["last"])
    return max(timezone.localdate(span["first"]), end - timedelta(days=days - 1)), end


def activity_daily(start: date, end: date) -> list[dict]:
    """Per day: active users (any contact), new users, and messages (texts and commands) received. From
    ActiveUserDay: one row per user and day, not one per contact."""
    days = {
        start + timedelta(days=n): {"active_users": 0, "new_users": 0, "messages": 0}
        for n in range((end - start).days + 1)
    }
    activity = (
        ActiveUserDay.objects.filter(date__gte=start, date__lte=end)
        .values("date")
        .annotate(active_users=Count("user_id"), messages=Sum("messages"))
        .order_by()
    )
    for row in activity:
        days[row["date"]].update(active_users=row["active_users"], messages=row["messages"])
    new = (
        TelegramUser.objects.filter(registration_date__date__gte=start, registration_date__date__lte=end)
        .annotate(day=TruncDate("registration_date"))
        .values("day")
        .annotate(users=Count("id"))
        .order_by()
    )
    for row in new:
        days[row["day"]]["new_users"] = row["users"]
    return [{"date": day, **figures} for day, figures in sorted(days.items())]


def active_users(day: date) -> dict:
    """DAU, WAU and MAU as of `day` (distinct users with any contact in the last 1, 7, 30 days), and
    the users who registered that day. From ActiveUserDay."""

    def within(days: int) -> Q:
        return Q(date__gt=day - timedelta(days=days), date__lte=day)

    counts = ActiveUserDay.objects.filter(within(30)).aggregate(
        dau=Count("user_id", distinct=True, filter=within(1)),
        wau=Count("user_id", distinct=True, filter=within(7)),
        mau=Count("user_id", distinct=True),
    )
    new_users = TelegramUser.objects.filter(registration_date__date=day).count()
    return {"date": day, **counts, "new_users": new_users}
