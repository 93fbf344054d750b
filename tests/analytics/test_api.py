"""The REST API of DESIGN.md: contract, auth, 400s naming the field, figures on crafted data."""

import csv
import json
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.analytics.catalogue import Events
from apps.analytics.rollups import RELATIVE_ERROR
from apps.analytics.services import record_usage, track
from apps.billing.models import Operation, OperationType
from apps.billing.services import add_to_balance, create_operation, ledger_apply
from apps.bot.models import InboxUpdate
from apps.users.models import TelegramUser, UserActivityLog
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/v1/usage/daily/?date=2026-01-01",
    "/api/v1/users/1/usage/",
    "/api/v1/users/1/usage/total/",
    "/api/v1/users/1/operations/",
    "/api/v1/users/1/balance/",
    "/api/v1/llm/costs/",
    "/api/v1/events/",
    "/api/v1/funnel/?steps=bot_started,ai_dialog_started",
    "/api/v1/response-times/",
    "/api/v1/retention/",
]


def at(hours: float) -> datetime:
    return datetime(2026, 3, 2, 10, 0, tzinfo=timezone.get_current_timezone()) + timedelta(hours=hours)


@pytest.fixture
def user() -> TelegramUser:
    return TelegramUser.objects.create(id=1, username="first")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_anonymous_is_401_non_staff_403_staff_200(url, user, analyst_api):
    assert APIClient().get(url).status_code == 401
    plain = User.objects.create_user("plain")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=plain).key}")
    assert client.get(url).status_code == 403
    assert analyst_api.get(url).status_code == 200


ENDPOINTS_ALL = [
    *ENDPOINTS,
    "/api/v1/activity/daily/",
    "/api/v1/activity/active-users/?date=2026-01-01",
    "/api/v1/users/stages/",
]


@pytest.mark.parametrize("url", ENDPOINTS_ALL)
def test_staff_without_the_view_permissions_are_refused_like_the_admin_refuses_them(url, user, analyst_api):
    bare = User.objects.create_user("bare", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bare).key}")
    assert client.get(url).status_code == 403
    assert analyst_api.get(url).status_code == 200, "the Analyst group reads everything the API serves"


def test_the_analyst_group_holds_exactly_what_the_api_reads(analyst_group):
    from django.urls import get_resolver

    from config import api_urls

    reads = set()
    for pattern in api_urls.urlpatterns:
        reads |= set(pattern.callback.view_class.reads)
    granted = analyst_group.permissions.select_related("content_type")
    assert {f"{p.content_type.app_label}.{p.codename}" for p in granted} == reads
    assert get_resolver()  # the URLconf loads with these views


def test_staff_session_works_too(admin_client, user):
    assert admin_client.get("/api/v1/users/1/balance/").status_code == 200


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/usage/daily/", "date"),
        ("/api/v1/usage/daily/?date=yesterday", "date"),
        ("/api/v1/llm/costs/?group_by=planet", "group_by"),
        ("/api/v1/llm/costs/?start=2026-03-05&end=2026-03-01", "start"),
        ("/api/v1/llm/costs/?start=2024-01-01&end=2026-03-01", "end"),
        ("/api/v1/funnel/", "steps"),
        ("/api/v1/funnel/?steps=bot_started", "steps"),
        ("/api/v1/funnel/?steps=bot_started,made_up", "steps"),
        ("/api/v1/response-times/?interval=minute", "interval"),
        ("/api/v1/retention/?period=month", "period"),
        ("/api/v1/events/?start=not-a-date", "start"),
        ("/api/v1/events/?user_id=abc", "user_id"),
        ("/api/v1/activity/active-users/?date=0001-01-01", "date"),
        ("/api/v1/llm/costs/?start=0001-01-01", "start"),
        ("/api/v1/events/?end=0704-10-21T07:43:39-17:06", "end"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(analyst_api, url, field):
    response = analyst_api.get(url)
    assert response.status_code == 400
    assert field in response.json()


def test_an_unknown_user_is_404(analyst_api):
    assert analyst_api.get("/api/v1/users/404/usage/total/").status_code == 404


def test_usage_endpoints_agree_with_the_rollups(analyst_api, user):
    record_usage(
        1,
        "first",
        100,
        prompt_tokens=80,
        completion_tokens=20,
        cost=Decimal("0.001"),
        model="m",
        provider="p",
        occurred_at=at(0),
    )
    record_usage(
        1,
        "first",
        50,
        prompt_tokens=40,
        completion_tokens=10,
        cost=Decimal("0.0005"),
        model="m",
        provider="p",
        occurred_at=at(24),
    )
    [row] = analyst_api.get("/api/v1/usage/daily/?date=2026-03-02").json()
    assert (row["user_id"], row["username"], row["total_tokens"], row["requests"]) == (1, "first", 100, 1)
    assert row["cost"] == "0.00100000", "money is an exact decimal string, never a float"
    series = analyst_api.get("/api/v1/users/1/usage/?start=2026-03-01&end=2026-03-05").json()
    assert [day["total_tokens"] for day in series["days"]] == [100, 50]
    assert series["totals"]["total_tokens"] == 150 and Decimal(series["totals"]["cost"]) == Decimal("0.0015")
    total = analyst_api.get("/api/v1/users/1/usage/total/").json()
    assert (total["total_tokens"], total["requests"], total["success_rate"]) == (150, 2, 1.0)


def test_money_is_a_plain_decimal_string_however_small_and_for_users_who_never_asked(analyst_api, user):
    record_usage(
        1, "first", 10, prompt_tokens=8, completion_tokens=2, cost=Decimal("0.0000005"), model="m", provider="p"
    )
    [row] = analyst_api.get(f"/api/v1/usage/daily/?date={timezone.localdate()}").json()
    assert row["cost"] == "0.00000050", "not 5.0E-7"
    TelegramUser.objects.create(id=2)
    assert analyst_api.get("/api/v1/users/2/usage/total/").json()["cost"] == "0", "a string, as every cost"


def test_operations_are_cursor_paginated_and_filtered(analyst_api, user):
    add_to_balance(1, Decimal("10"))
    for _ in range(3):
        create_operation(1, "generation", Decimal("-1"))
    page = analyst_api.get("/api/v1/users/1/operations/?page_size=2").json()
    assert [op["type"] for op in page["results"]] == ["generation", "generation"] and page["next"]
    rest = analyst_api.get(page["next"]).json()
    assert [op["type"] for op in rest["results"]] == ["generation", "adjustment"] and rest["next"] is None
    assert len(analyst_api.get("/api/v1/users/1/operations/?type=4").json()["results"]) == 1
    by_name = analyst_api.get("/api/v1/users/1/operations/?type=adjustment").json()["results"]
    assert [row["type"] for row in by_name] == ["adjustment"], "the names it returns are accepted too"
    refused = analyst_api.get("/api/v1/users/1/operations/?type=nonsense")
    assert refused.status_code == 400 and "type" in refused.json()
    assert analyst_api.get("/api/v1/users/1/balance/").json() == {"user_id": 1, "balance": "7.0000", "unit": "credits"}


def test_funnel_counts_steps_in_order_per_user(analyst_api):
    steps = [Events.BOT_STARTED, Events.DIALOG_STARTED, Events.PAYMENT_COMPLETED]
    journeys = {
        10: [(Events.BOT_STARTED, 0), (Events.DIALOG_STARTED, 1), (Events.PAYMENT_COMPLETED, 2)],
        11: [(Events.BOT_STARTED, 0), (Events.DIALOG_STARTED, 3)],
        12: [(Events.DIALOG_STARTED, 0), (Events.BOT_STARTED, 1)],  # dialog before start: not in order
        13: [(Events.BOT_STARTED, 5)],
        14: [(Events.PAYMENT_COMPLETED, 1)],  # never started
    }
    properties = {
        Events.BOT_STARTED: {"is_new": True},
        Events.DIALOG_STARTED: {},
        Events.PAYMENT_COMPLETED: {"stars": 50, "credits": "100"},
    }
    for user_id, events in journeys.items():
        for name, hour in events:
            assert track(name, user_id=user_id, properties=properties[name], occurred_at=at(hour))
    rows = analyst_api.get(f"/api/v1/funnel/?steps={','.join(steps)}&start=2026-03-01&end=2026-03-05").json()
    assert [row["users"] for row in rows] == [4, 2, 1]
    assert [row["conversion_from_previous"] for row in rows] == [1.0, 0.5, 0.5]
    assert rows[2]["conversion_from_first"] == 0.25


def test_response_time_percentiles_per_hour(analyst_api):
    for minute, duration in enumerate([100, 200, 300, 400, 1000]):
        track(
            Events.RESPONSE_TIME,
            user_id=1,
            properties={"duration_ms": duration, "model_used": "m"},
            occurred_at=at(minute / 60),
        )
    track(Events.RESPONSE_TIME, user_id=1, properties={"duration_ms": 50, "model_used": "m"}, occurred_at=at(1))
    url = "/api/v1/response-times/?start=2026-03-02&end=2026-03-03&interval=hour"
    exact = analyst_api.get(f"{url}&exact=true").json()
    assert [(r["count"], r["avg_ms"], r["p50_ms"], r["p95_ms"]) for r in exact] == [
        (5, 400.0, 300.0, 880.0),
        (1, 50.0, 50.0, 50.0),
    ]
    # From the histogram: the same counts and averages, percentiles within the stated bound.
    rows = analyst_api.get(url).json()
    assert [(r["bucket"], r["count"], r["avg_ms"]) for r in rows] == [
        (r["bucket"], r["count"], r["avg_ms"]) for r in exact
    ]
    for row, truth in zip(rows, exact, strict=True):
        for figure in ("p50_ms", "p95_ms"):
            assert abs(row[figure] - truth[figure]) <= truth[figure] * RELATIVE_ERROR + 0.05
    assert rows[0]["p50_ms"] != 300.0  # read from the bucket's middle, not the raw value


def test_response_times_carry_the_median_time_to_first_text(analyst_api):
    for duration, ttft in [(4000, 300), (5000, 500), (6000, 700), (900, None)]:
        properties = {"duration_ms": duration, "model_used": "m"}
        if ttft is not None:
            properties["ttft_ms"] = ttft
        track(Events.RESPONSE_TIME, user_id=1, properties=properties, occurred_at=at(0))
    track(Events.RESPONSE_TIME, user_id=1, properties={"duration_ms": 50, "model_used": "m"}, occurred_at=at(1))
    url = "/api/v1/response-times/?start=2026-03-02&end=2026-03-03&interval=hour"
    exact = analyst_api.get(f"{url}&exact=true").json()
    assert [(r["count"], r["p50_ms"], r["ttft_p50_ms"]) for r in exact] == [(4, 4500.0, 500.0), (1, 50.0, None)]
    rows = analyst_api.get(url).json()
    assert [r["count"] for r in rows] == [4, 1]
    assert abs(rows[0]["ttft_p50_ms"] - 500.0) <= 500.0 * RELATIVE_ERROR
    assert rows[1]["ttft_p50_ms"] is None


def test_retention_cohorts_by_day(analyst_api):
    day0 = at(0)
    for user_id in (21, 22):
        TelegramUser.objects.create(id=user_id, registration_date=day0)
        UserActivityLog.objects.create(user_id=user_id, activity_type="message", timestamp=day0)
    UserActivityLog.objects.create(user_id=21, activity_type="message", timestamp=day0 + timedelta(days=1))
    UserActivityLog.objects.create(user_id=22, activity_type="message", timestamp=day0 + timedelta(days=2))
    call_command("rebuild_analytics_rollups", stdout=StringIO())  # the log was written directly, not by contacts
    [cohort] = analyst_api.get("/api/v1/retention/?start=2026-03-02&end=2026-03-04&period=day").json()
    assert (cohort["cohort"], cohort["size"], cohort["returned"]) == ("2026-03-02", 2, [2, 1, 1])
    assert cohort["rates"] == [1.0, 0.5, 0.5]


def test_llm_costs_with_revenue_and_margin(analyst_api, user):
    PaymentFactory(user=user, stars=50, credits=Decimal(100))  # $0.65 at STARS_USD_RATE 0.013: $0.0065 a credit
    Operation.objects.update(created_at=at(-1))
    for model, cost, credits in [("a", "0.002", "0.5"), ("a", "0.001", "0.25"), ("b", "0.010", "1")]:
        request = record_usage(
            1,
            "first",
            10,
            prompt_tokens=8,
            completion_tokens=2,
            cost=Decimal(cost),
            model=model,
            provider="p",
            occurred_at=at(0),
        )
        ledger_apply(user_id=1, type=OperationType.GENERATION, amount=-Decimal(credits), llm_request_id=request.pk)
    rows = analyst_api.get("/api/v1/llm/costs/?start=2026-03-01&end=2026-03-05&group_by=model").json()
    money = ("cost", "cash_revenue", "earned_revenue", "llm_cost", "margin")
    assert [(r["group"], r["requests"], *(Decimal(r[name]) for name in money)) for r in rows] == [
        ("a", 2, Decimal("0.003"), 0, Decimal("0.004875"), Decimal("0.003"), Decimal("0.001875")),
        ("b", 1, Decimal("0.01"), 0, Decimal("0.0065"), Decimal("0.01"), Decimal("-0.0035")),
        (None, 0, 0, Decimal("0.65"), 0, 0, 0),  # cash is no model's
    ]
    assert rows[0]["earned_revenue"] == "0.00487500", "a decimal string"
    [day] = analyst_api.get("/api/v1/llm/costs/?start=2026-03-01&end=2026-03-05").json()
    assert (day["group"], day["requests"], day["margin"]) == ("2026-03-02", 3, "-0.00162500")


def test_events_filter_paginate_and_stream_csv(analyst_api):
    for hour in range(5):
        track(Events.BOT_STARTED, user_id=30 + hour % 2, properties={"is_new": True}, occurred_at=at(hour))
    track(Events.DIALOG_STARTED, user_id=30, occurred_at=at(6))
    page = analyst_api.get("/api/v1/events/?event_name=bot_started&page_size=2").json()
    assert len(page["results"]) == 2 and page["results"][0]["occurred_at"] > page["results"][1]["occurred_at"]
    assert len(analyst_api.get("/api/v1/events/?user_id=31").json()["results"]) == 2
    assert len(analyst_api.get("/api/v1/events/?start=2026-03-02T13:00:00Z&end=2026-03-02").json()["results"]) == 0
    # An offset PostgreSQL would refuse is compared in UTC: 08:54+17:00 on the 3rd is 15:54 on the 2nd.
    late = analyst_api.get("/api/v1/events/", {"start": "2026-03-03T08:54:00+17:00"}).json()["results"]
    assert [event["event_name"] for event in late] == ["ai_dialog_started"]
    response = analyst_api.get("/api/v1/events/?format=csv&event_name=bot_started")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert response["Content-Type"] == "text/csv" and lines[0].startswith("id,event_name,user_id")
    assert len(lines) == 6


def test_events_csv_has_the_json_pages_columns_order_and_properties_as_json(analyst_api):
    track(Events.BOT_STARTED, user_id=30, properties={"is_new": True, "source": "ad"}, occurred_at=at(1))
    track(Events.BOT_STARTED, user_id=31, properties={"is_new": False, "source": ""}, occurred_at=at(2))
    pages = analyst_api.get("/api/v1/events/?event_name=bot_started").json()["results"]
    response = analyst_api.get("/api/v1/events/?format=csv&event_name=bot_started")
    header, *rows = csv.reader(b"".join(response.streaming_content).decode().splitlines())
    assert header == list(pages[0])
    assert [int(row[header.index("id")]) for row in rows] == [event["id"] for event in pages], "newest first"
    assert [json.loads(row[header.index("properties")]) for row in rows] == [event["properties"] for event in pages]


def test_openapi_schema_is_served_to_staff_and_valid(analyst_api, admin_client):
    assert analyst_api.get("/api/schema/").status_code == 200
    assert APIClient().get("/api/schema/").status_code == 401
    assert admin_client.get("/api/docs/").status_code == 200
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=StringIO())


def test_healthz_is_ok_then_degraded_when_updates_wait_too_long(client):
    report = client.get("/healthz").json()
    assert report["status"] == "ok" and report["database"] == "ok"
    InboxUpdate.objects.create(
        update_id=1, payload={"update_id": 1}, received_at=timezone.now() - timedelta(minutes=10)
    )
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["queue_lag_seconds"] >= 600


def test_active_users_and_conversion_by_stage(analyst_api, reference_data):
    from apps.billing.models import CreditPackage, Payment

    day = at(0)
    for user_id, days_ago, stage in [(41, 0, "ordeal"), (42, 3, "ordeal"), (43, 20, None), (44, 40, None)]:
        TelegramUser.objects.create(
            id=user_id, registration_date=day - timedelta(days=days_ago), last_journey_stage=stage
        )
        UserActivityLog.objects.create(
            user_id=user_id, activity_type="message", timestamp=day - timedelta(days=days_ago)
        )
    call_command("rebuild_analytics_rollups", stdout=StringIO())  # the log was written directly, not by contacts
    figures = analyst_api.get("/api/v1/activity/active-users/?date=2026-03-02").json()
    assert (figures["dau"], figures["wau"], figures["mau"], figures["new_users"]) == (1, 2, 3, 1)
    Payment.objects.create(
        user_id=41,
        package=CreditPackage.objects.first(),
        stars=50,
        credits=100,
        telegram_payment_charge_id="c1",
        invoice_payload="p",
    )
    stages = {row["stage"]: row for row in analyst_api.get("/api/v1/users/stages/").json()}
    assert (stages["ordeal"]["users"], stages["ordeal"]["paying"], stages["ordeal"]["conversion"]) == (2, 1, 0.5)
    assert stages["not analysed"]["users"] == 2
