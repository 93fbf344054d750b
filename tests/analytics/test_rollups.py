"""The rollups the dashboard reads (first time per user and event, the hourly response-time histogram, active
users per day) against the answers of the raw scans, on crafted and on random data."""

import math
import random
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.analytics import selectors
from apps.analytics.catalogue import Events
from apps.analytics.jobs import events_purge, events_rollup
from apps.analytics.models import AnalyticsEvent, ResponseTimeBucket, UserFirstEvent
from apps.analytics.rollups import RELATIVE_ERROR, bucket_of, bucket_value
from apps.analytics.services import analytics_rollups_rebuild, events_pseudonymise, events_store
from apps.users.models import ActiveUserDay, TelegramUser, UserActivityLog
from apps.users.services import (
    ContactActivity,
    TelegramIdentity,
    activity_pseudonymise,
    user_pseudonym_create,
    user_record_contact,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
STEPS = [Events.BOT_STARTED, Events.DIALOG_STARTED, Events.PAYMENT_COMPLETED]


def event(name: str, user_id: int | None, moment: datetime, **properties) -> dict:
    return {
        "event_name": name,
        "user_id": user_id,
        "session_id": "",
        "properties": properties,
        "occurred_at": moment.isoformat(),
    }


def store_shuffled(events: list[dict], *, seed: int = 1, batch: int = 7) -> None:
    """As workers do: batches in any order, each in any order."""
    events = list(events)
    random.Random(seed).shuffle(events)
    batches = [events[start : start + batch] for start in range(0, len(events), batch)]
    for chunk in batches[::-1]:
        events_store(chunk)


def rollup_rows() -> tuple[list, list]:
    firsts = sorted(UserFirstEvent.objects.values_list("user_id", "event_name", "first_at"))
    buckets = sorted(
        (hour, metric, bucket, count, round(total, 6))
        for hour, metric, bucket, count, total in ResponseTimeBucket.objects.values_list(
            "hour", "metric", "bucket", "count", "total_ms"
        )
    )
    return firsts, buckets


def users_per_step(steps: list[str], start: datetime, end: datetime, *, exact: bool) -> list[int]:
    return [row["users"] for row in selectors.funnel(steps, start, end, exact=exact)]


# --- First time per user and event, and the funnel ---------------------------------------------------------
def test_the_first_time_is_the_earliest_whatever_order_the_batches_arrive_in():
    later, earliest = T0 + timedelta(hours=5), T0 + timedelta(hours=1)
    events = [event(Events.DIALOG_STARTED, 1, T0 + timedelta(hours=h)) for h in (5, 3, 1, 1, 8)]
    events_store(events[:1])  # the latest arrives first, alone
    assert UserFirstEvent.objects.get(user_id=1).first_at == later
    events_store(events[1:3])
    events_store(events[3:])  # a duplicate of the first time, and a later one: nothing moves
    assert list(UserFirstEvent.objects.values_list("user_id", "event_name", "first_at")) == [
        (1, Events.DIALOG_STARTED, earliest)
    ]
    events_store([event(Events.DIALOG_STARTED, None, T0)])  # no user: no first time
    assert UserFirstEvent.objects.count() == 1


def test_the_funnel_counts_first_times_in_order_within_the_window():
    start, end = T0, T0 + timedelta(days=3)
    journeys = {
        10: [(Events.BOT_STARTED, 0), (Events.DIALOG_STARTED, 1), (Events.PAYMENT_COMPLETED, 2)],
        11: [(Events.BOT_STARTED, 0), (Events.DIALOG_STARTED, 3), (Events.DIALOG_STARTED, 3)],  # duplicate time
        12: [(Events.DIALOG_STARTED, 0), (Events.BOT_STARTED, 1), (Events.DIALOG_STARTED, 2)],  # first dialog before
        13: [(Events.BOT_STARTED, -24)],  # started before the window: not in it
        14: [(Events.BOT_STARTED, -24), (Events.BOT_STARTED, 2)],  # their first start is before the window
        15: [(Events.BOT_STARTED, 2), (Events.DIALOG_STARTED, 2), (Events.PAYMENT_COMPLETED, 100)],  # paid after end
        16: [(Events.BOT_STARTED, 5), (Events.PAYMENT_COMPLETED, 6)],  # paid without a dialog
        17: [(Events.BOT_STARTED, 1), (Events.DIALOG_STARTED, 1), (Events.PAYMENT_COMPLETED, 1)],  # same moment
    }
    store_shuffled(
        [event(name, user, T0 + timedelta(hours=hour)) for user, steps in journeys.items() for name, hour in steps]
    )
    # In the window: 10, 11, 12, 15, 16, 17; in order: dialog 10, 11, 15, 17; paid 10, 17.
    assert users_per_step(STEPS, start, end, exact=False) == [6, 4, 2]
    assert users_per_step(STEPS, start, end, exact=True) == [6, 4, 2]
    rows = selectors.funnel(STEPS, start, end)
    assert [row["conversion_from_previous"] for row in rows] == [1.0, round(4 / 6, 4), 0.5]


def test_the_funnel_from_the_rollup_equals_the_raw_scan_on_random_data():
    rng = random.Random(5)
    names = [*STEPS, Events.ERROR_OCCURRED]
    events = [
        event(rng.choice(names), rng.randint(1, 60), T0 + timedelta(minutes=rng.randint(-3000, 9000)))
        for _ in range(1500)
    ]
    store_shuffled(events, seed=3, batch=40)
    for days, length in [(0, 1), (0, 3), (1, 2), (-2, 9), (4, 1)]:
        start = T0 + timedelta(days=days)
        end = start + timedelta(days=length)
        for steps in (STEPS, STEPS[:2], [Events.DIALOG_STARTED, Events.BOT_STARTED], [STEPS[0], STEPS[0]]):
            exact = users_per_step(steps, start, end, exact=True)
            assert users_per_step(steps, start, end, exact=False) == exact
    assert users_per_step(STEPS, T0 - timedelta(days=3), T0 + timedelta(days=7), exact=False)[0] > 0


def test_the_api_answers_the_funnel_from_either_path_alike(analyst_api):
    store_shuffled(
        [event(Events.BOT_STARTED, user, T0) for user in range(5)]
        + [event(Events.DIALOG_STARTED, user, T0 + timedelta(hours=1)) for user in range(3)]
    )
    url = f"/api/v1/funnel/?steps={','.join(STEPS)}&start=2026-03-01&end=2026-03-05"
    fast, exact = analyst_api.get(url).json(), analyst_api.get(f"{url}&exact=true").json()
    assert [row["users"] for row in fast] == [row["users"] for row in exact] == [5, 3, 0]
    assert analyst_api.get(f"{url}&exact=maybe").status_code == 400


# --- The response-time histogram -------------------------------------------------------------------------
def test_a_value_read_back_from_its_bucket_is_within_the_stated_bound():
    rng = random.Random(9)
    assert RELATIVE_ERROR < 0.049
    for value in [1, 1.05, 1.1, 2, 999.9, 1000, 12345.6, 3e6] + [math.exp(rng.uniform(0, 15)) for _ in range(5000)]:
        assert abs(bucket_value(bucket_of(value)) - value) <= value * RELATIVE_ERROR * (1 + 1e-9)
    for value in (0, 0.2, 0.99):
        assert abs(bucket_value(bucket_of(value)) - value) <= 0.5


@pytest.mark.parametrize("interval", ["hour", "day"])
def test_histogram_percentiles_hold_the_bound_against_the_exact_ones_on_a_random_sample(interval):
    rng = random.Random(11)
    events = []
    for _ in range(3000):
        moment = T0 + timedelta(minutes=rng.uniform(-600, 3000))
        properties = {"duration_ms": round(rng.lognormvariate(7.5, 0.8), rng.choice([0, 1])), "model_used": "m"}
        if rng.random() < 0.7:  # ttft is missing from the rest
            properties["ttft_ms"] = rng.randint(50, 3000)
        events.append(event(Events.RESPONSE_TIME, rng.randint(1, 30), moment, **properties))
    events += [
        event(Events.RESPONSE_TIME, 1, T0, duration_ms="slow", ttft_ms=5, model_used="m"),  # no number: skipped
        event(Events.RESPONSE_TIME, 1, T0, duration_ms=0.3, model_used="m"),  # below 1 ms
        event(Events.DIALOG_STARTED, 1, T0, duration_ms=100),  # not a response time
    ]
    store_shuffled(events, seed=4, batch=250)
    start, end = T0 - timedelta(hours=4), T0 + timedelta(days=1, hours=3)
    exact = selectors.response_times(start, end, interval, exact=True)
    rows = selectors.response_times(start, end, interval)
    assert [(r["bucket"], r["count"]) for r in rows] == [(r["bucket"], r["count"]) for r in exact]
    assert sum(r["count"] for r in rows) > 1000
    for row, truth in zip(rows, exact, strict=True):
        assert row["avg_ms"] == pytest.approx(truth["avg_ms"], abs=0.11)  # each rounded to 0.1 ms
        for figure in ("p50_ms", "p95_ms", "ttft_p50_ms"):
            if truth[figure] is None:
                assert row[figure] is None
            else:
                # Each figure is rounded to 0.1 ms after the bound applies.
                assert abs(row[figure] - truth[figure]) <= truth[figure] * RELATIVE_ERROR + 0.5 + 0.1


def test_response_times_of_the_api_from_the_histogram_and_exactly(analyst_api):
    store_shuffled([event(Events.RESPONSE_TIME, 1, T0, duration_ms=d, model_used="m") for d in (100, 200, 400)])
    url = "/api/v1/response-times/?start=2026-03-02&end=2026-03-03&interval=day"
    [fast], [exact] = analyst_api.get(url).json(), analyst_api.get(f"{url}&exact=true").json()
    assert (fast["count"], fast["avg_ms"]) == (exact["count"], exact["avg_ms"]) == (3, round(700 / 3, 1))
    assert exact["p50_ms"] == 200.0
    assert abs(fast["p50_ms"] - 200.0) <= 200 * RELATIVE_ERROR and fast["p50_ms"] != 200.0


# --- Rebuild -----------------------------------------------------------------------------------------------
def test_the_rebuild_equals_what_ingest_kept_and_is_idempotent():
    rng = random.Random(21)
    events = []
    for _ in range(800):
        name = rng.choice([*STEPS, Events.RESPONSE_TIME])
        properties = {"duration_ms": rng.randint(1, 20000), "model_used": "m"} if name == Events.RESPONSE_TIME else {}
        if name == Events.RESPONSE_TIME and rng.random() < 0.5:
            properties["ttft_ms"] = rng.randint(1, 900)
        events.append(event(name, rng.randint(1, 40), T0 + timedelta(minutes=rng.randint(0, 20000)), **properties))
    store_shuffled(events, seed=8, batch=33)
    kept = rollup_rows()
    assert kept[0] and kept[1]
    call_command("rebuild_analytics_rollups", stdout=StringIO())
    assert rollup_rows() == kept
    # From nothing (a bulk load that bypassed ingest), and again, in small chunks.
    UserFirstEvent.objects.all().delete()
    ResponseTimeBucket.objects.all().delete()
    from apps.analytics.rollups import first_events_rebuild, histogram_rebuild

    first_events_rebuild(chunk=50)
    histogram_rebuild(days_per_chunk=1)
    assert rollup_rows() == kept
    analytics_rollups_rebuild()
    assert rollup_rows() == kept


def test_the_rebuild_fixes_a_wrong_rollup_and_keeps_what_the_purge_took():
    recent = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    old = recent - timedelta(days=400)
    store_shuffled(
        [event(Events.BOT_STARTED, 1, old), event(Events.BOT_STARTED, 2, recent)]
        + [event(Events.DIALOG_STARTED, 2, recent + timedelta(hours=1))]
        + [event(Events.RESPONSE_TIME, 2, old, duration_ms=5, model_used="m")]
    )
    events_rollup()
    events_purge(retention_days=90)  # user 1's start and the old response time go; their rollups stay
    assert not AnalyticsEvent.objects.filter(user_id=1).exists()
    assert AnalyticsEvent.objects.filter(user_id=2).count() == 2
    assert ResponseTimeBucket.objects.filter(hour=old).exists()
    # Wrong, and later than the oldest raw event left: recounted.
    UserFirstEvent.objects.filter(user_id=2, event_name=Events.DIALOG_STARTED).update(first_at=recent)
    analytics_rollups_rebuild()
    assert UserFirstEvent.objects.get(user_id=2, event_name=Events.DIALOG_STARTED).first_at == recent + timedelta(
        hours=1
    )
    assert UserFirstEvent.objects.get(user_id=1).first_at == old
    assert ResponseTimeBucket.objects.filter(hour=old).exists()


# --- Erasure -----------------------------------------------------------------------------------------------
def test_a_users_first_times_move_with_their_events_to_the_pseudonym():
    store_shuffled(
        [event(Events.BOT_STARTED, 7, T0), event(Events.DIALOG_STARTED, 7, T0 + timedelta(hours=1))]
        + [event(Events.BOT_STARTED, 8, T0)]
    )
    before = users_per_step(STEPS, T0, T0 + timedelta(days=1), exact=False)
    events_pseudonymise(user_id=7, pseudonym_id=-5, names=[])
    assert not UserFirstEvent.objects.filter(user_id=7).exists()
    assert set(UserFirstEvent.objects.filter(user_id=-5).values_list("event_name", flat=True)) == set(STEPS[:2])
    assert users_per_step(STEPS, T0, T0 + timedelta(days=1), exact=False) == before
    assert users_per_step(STEPS, T0, T0 + timedelta(days=1), exact=True) == before


def test_stragglers_move_up_to_until_and_a_later_user_of_the_id_keeps_their_own():
    until = T0 + timedelta(hours=2)
    store_shuffled([event(Events.BOT_STARTED, 7, T0), event(Events.BOT_STARTED, 7, T0 + timedelta(hours=5))])
    events_pseudonymise(user_id=7, pseudonym_id=-5, names=[], until=until)
    assert UserFirstEvent.objects.get(user_id=-5).first_at == T0
    assert UserFirstEvent.objects.get(user_id=7).first_at == T0 + timedelta(hours=5)


# --- Active users per day ----------------------------------------------------------------------------------
def contact(user_id: int, activity_type: str) -> None:
    user_record_contact(
        identity=TelegramIdentity(id=user_id, first_name="A"),
        activity=ContactActivity(chat_id=user_id, activity_type=activity_type),
    )


def raw_activity_daily(start: date, end: date) -> dict:
    """The activity log's own answer (what activity_daily scanned before ActiveUserDay)."""
    rows = (
        UserActivityLog.objects.filter(timestamp__date__gte=start, timestamp__date__lte=end)
        .annotate(day=TruncDate("timestamp"))
        .values("day")
        .annotate(
            users=Count("user_id", distinct=True),
            messages=Count("id", filter=Q(activity_type__in=["message", "command"])),
        )
        .order_by()
    )
    return {row["day"]: (row["users"], row["messages"]) for row in rows}


def test_contacts_keep_one_row_per_user_and_day_with_the_messages_counted():
    for user_id, kind in [(1, "message"), (1, "command"), (1, "callback"), (2, "callback"), (1, "message")]:
        contact(user_id, kind)
    today = timezone.localdate()
    assert sorted(ActiveUserDay.objects.values_list("date", "user_id", "messages")) == [(today, 1, 3), (today, 2, 0)]
    [day] = selectors.activity_daily(today, today)
    assert (day["active_users"], day["messages"]) == raw_activity_daily(today, today)[today] == (2, 3)
    kept = sorted(ActiveUserDay.objects.values_list("date", "user_id", "messages"))
    call_command("rebuild_analytics_rollups", stdout=StringIO())
    assert sorted(ActiveUserDay.objects.values_list("date", "user_id", "messages")) == kept


def test_activity_figures_from_active_user_days_equal_the_logs_on_random_data():
    rng = random.Random(31)
    base = timezone.now() - timedelta(days=20)
    users = [
        TelegramUser.objects.create(id=n, registration_date=base + timedelta(days=rng.randint(0, 10)))
        for n in range(1, 31)
    ]
    UserActivityLog.objects.bulk_create(
        UserActivityLog(
            user=rng.choice(users),
            activity_type=rng.choice(["message", "command", "callback", "payment"]),
            timestamp=base + timedelta(minutes=rng.randint(0, 20 * 1440)),
        )
        for _ in range(1500)
    )
    analytics_rollups_rebuild()  # the log was written directly, as seed_demo and the bench do
    start, end = timezone.localdate(base), timezone.localdate(base) + timedelta(days=20)
    raw = raw_activity_daily(start, end)
    for row in selectors.activity_daily(start, end):
        assert (row["active_users"], row["messages"]) == raw.get(row["date"], (0, 0))
    day = start + timedelta(days=15)
    within = UserActivityLog.objects.filter(timestamp__date__gt=day - timedelta(days=7), timestamp__date__lte=day)
    assert selectors.active_users(day)["wau"] == within.values("user_id").distinct().count()
    for period in ("day", "week"):
        table = selectors.retention(start, end, period)
        assert table and all(row["returned"][0] <= row["size"] for row in table)
    # Week cohorts against the log, by hand.
    week0 = start - timedelta(days=start.weekday())
    members = [u for u in users if week0 <= timezone.localdate(u.registration_date) < week0 + timedelta(days=7)]
    if members:
        [cohort] = [row for row in selectors.retention(start, end, "week") if row["cohort"] == week0]
        returned = [
            UserActivityLog.objects.filter(
                user__in=members,
                timestamp__date__gte=week0 + timedelta(days=7 * index),
                timestamp__date__lt=week0 + timedelta(days=7 * index + 7),
            )
            .values("user_id")
            .distinct()
            .count()
            for index in range(len(cohort["returned"]))
        ]
        assert cohort["returned"] == returned


def test_a_users_active_days_move_to_the_pseudonym():
    contact(3, "message")
    contact(4, "message")
    pseudonym = user_pseudonym_create(TelegramUser.objects.get(pk=3))
    moved = activity_pseudonymise(user_id=3, pseudonym_id=pseudonym.pk)
    assert moved[ActiveUserDay._meta.label] == 1
    assert sorted(ActiveUserDay.objects.values_list("user_id", "messages")) == [(pseudonym.pk, 1), (4, 1)]


def test_a_straggler_sweep_leaves_a_later_user_of_the_id_their_own_day():
    contact(3, "message")
    pseudonym = user_pseudonym_create(TelegramUser.objects.get(pk=3))
    activity_pseudonymise(user_id=3, pseudonym_id=pseudonym.pk)
    erased_at = timezone.now()
    UserActivityLog.objects.create(user_id=3, activity_type="message", timestamp=erased_at - timedelta(seconds=1))
    contact(3, "callback")  # somebody new with the same Telegram id, after the erase
    moved = activity_pseudonymise(user_id=3, pseudonym_id=pseudonym.pk, until=erased_at)
    assert moved[UserActivityLog._meta.label] == 1
    today = timezone.localdate()
    assert sorted(ActiveUserDay.objects.values_list("user_id", "date", "messages")) == sorted(
        [(pseudonym.pk, today, 2), (3, today, 0)]
    )
