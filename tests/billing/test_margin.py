"""Revenue and margin, defined once (apps/billing/revenue.py): cash is Stars paid net of refunds, earned is
credits consumed valued FIFO at what the user paid for them, margin is earned less LLM cost with background
spend in it. Every view of them agrees to the cent on the same data."""

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from apps.billing.models import CreditPackage, Operation, OperationType, Payment
from apps.billing.revenue import GROUPINGS, revenue_rows
from apps.billing.services import (
    billing_grant_trial,
    billing_reserve,
    billing_settle,
    create_operation,
    invoice_payload,
    ledger_apply,
    payment_record,
    payment_refund,
)
from apps.bot.flows.stats import today_figures
from apps.core.dates import day_start
from apps.core.money import usd_text
from apps.llm.models import RequestType
from apps.users.models import TelegramUser
from tests.factories import LLMRequestFactory

pytestmark = pytest.mark.django_db

BUYER, FREE_RIDER = 2001, 2002
TODAY = timezone.localdate()
D1, D2, D3 = TODAY - timedelta(days=2), TODAY - timedelta(days=1), TODAY


def moment(day: date, fraction: float) -> datetime:
    """A time on `day`, `fraction` of the way through it (today: of the part that has passed)."""
    start = day_start(day)
    length = timezone.now() - start if day == TODAY else timedelta(days=1)
    return start + length * fraction


@contextmanager
def on(when: datetime) -> Iterator[None]:
    """The ledger operations written inside happened `when`, and so did the refunds Telegram made."""
    last, before = Operation.objects.aggregate(last=Max("id"))["last"] or 0, timezone.now()
    yield
    Operation.objects.filter(id__gt=last).update(created_at=when)
    Payment.objects.filter(refunded_at__gte=before).update(refunded_at=when)


def buy(user_id: int, *, credits: int, stars: int, when: datetime) -> Payment:
    package = CreditPackage.objects.create(title=f"{credits} for {stars}", credits=Decimal(credits), stars=stars)
    with on(when):
        payment, _ = payment_record(
            user_id=user_id,
            payload=invoice_payload(package=package, user_id=user_id),
            currency="XTR",
            total_amount=stars,
            charge_id=f"charge-{user_id}-{package.pk}",
        )
    return payment


def answer(user_id: int, *, credits: str, cost: str, when: datetime, model: str = "gpt-4o-mini", **request) -> None:
    """An LLM request of the user's (chat unless said), and the charge for it through a hold, as chat does."""
    user = TelegramUser.objects.get(pk=user_id)
    llm_request = LLMRequestFactory(user=user, model=model, cost=Decimal(cost), created_at=when, **request)
    if credits:
        with on(when):
            hold = billing_reserve(user_id=user_id, amount=Decimal(credits))
            billing_settle(reserve=hold, charge=Decimal(credits), llm_request_id=llm_request.pk, model=model)


@pytest.fixture
def ledger(settings, bot_api) -> None:
    """Two users over three days ending today, at STARS_USD_RATE 0.013.

    The buyer: a trial of 20 credits, 100 credits for 50 Stars ($0.0065 a credit), then 100 for 100 Stars
    ($0.013) and 50 for 30 Stars, refunded the next day; 30, 100 and 46 credits consumed (a transcription and
    5 credits given back on the third day), a profile summary uncharged. The free rider: a trial and a staff
    adjustment (worth nothing), 10 credits consumed and a journey analysis uncharged."""
    settings.STARS_USD_RATE = Decimal("0.013")
    settings.BILLING_TRIAL_CREDITS = Decimal("20")
    for user_id in (BUYER, FREE_RIDER):
        TelegramUser.objects.create(id=user_id, username=f"user{user_id}")
        with on(moment(D1, 0.1)):
            billing_grant_trial(user_id=user_id)
    buy(BUYER, credits=100, stars=50, when=moment(D1, 0.2))
    answer(BUYER, credits="20", cost="0.0100", when=moment(D1, 0.3))
    answer(BUYER, credits="10", cost="0.0050", when=moment(D1, 0.4))

    buy(BUYER, credits=100, stars=100, when=moment(D2, 0.1))
    refunded = buy(BUYER, credits=50, stars=30, when=moment(D2, 0.2))
    bot_api.star_payment(BUYER, refunded.telegram_payment_charge_id, 30)
    answer(BUYER, credits="100", cost="0.0400", when=moment(D2, 0.3), model="gpt-4o")
    answer(BUYER, credits="", cost="0.0020", when=moment(D2, 0.4), request_type=RequestType.PROFILE_SUMMARY)
    with on(moment(D2, 0.5)):
        ledger_apply(user_id=FREE_RIDER, type=OperationType.ADJUSTMENT, amount=Decimal(10), reason="goodwill")
    answer(FREE_RIDER, credits="10", cost="0.0030", when=moment(D2, 0.6))

    answer(BUYER, credits="50", cost="0.0200", when=moment(D3, 0.2))
    answer(BUYER, credits="1", cost="0.0010", when=moment(D3, 0.3), model="whisper-1", request_type="transcription")
    with on(moment(D3, 0.4)):
        create_operation(BUYER, "refund", Decimal(5))  # a charge given back
    with on(moment(D3, 0.5)):
        payment_refund(payment_id=refunded.pk)
    answer(FREE_RIDER, credits="", cost="0.0005", when=moment(D3, 0.6), request_type=RequestType.JOURNEY_ANALYSIS)


MONEY = ("cash_revenue", "earned_revenue", "llm_cost", "background_cost", "margin")


def money(row: dict) -> tuple[Decimal, ...]:
    return tuple(Decimal(row[name]) for name in MONEY)


def total(rows: list[dict]) -> tuple[Decimal, ...]:
    return tuple(sum((Decimal(row[name]) for row in rows), Decimal(0)) for name in MONEY)


def test_user_pages_dashboard_api_csv_and_stats_agree_to_the_cent(ledger, analyst_api, admin_client):
    period = {"start": day_start(D1).isoformat(), "end": (timezone.now() + timedelta(minutes=1)).isoformat()}
    rows = {name: analyst_api.get("/api/v1/llm/costs/", {**period, "group_by": name}).json() for name in GROUPINGS}

    # The dashboard draws the day rows: the buyer's refund is cash going out on the day it was made; what
    # the first 20 credits (the trial) earn is nothing, what follows is worth what was paid for it.
    assert [(row["group"], *money(row)) for row in rows["day"]] == [
        (D1.isoformat(), Decimal("0.65"), Decimal("0.065"), Decimal("0.015"), 0, Decimal("0.05")),
        (D2.isoformat(), Decimal("1.69"), Decimal("0.715"), Decimal("0.045"), Decimal("0.002"), Decimal("0.67")),
        (D3.isoformat(), Decimal("-0.39"), Decimal("0.598"), Decimal("0.0215"), Decimal("0.0015"), Decimal("0.5765")),
    ]
    by_user = {row["group"]: row for row in rows["user"]}
    buyer = (Decimal("1.95"), Decimal("1.378"), Decimal("0.078"), Decimal("0.003"), Decimal("1.3"))
    assert money(by_user[BUYER]) == buyer
    assert money(by_user[FREE_RIDER]) == (0, 0, Decimal("0.0035"), Decimal("0.0005"), Decimal("-0.0035"))
    assert (by_user[BUYER]["stars"], by_user[BUYER]["credits_charged"]) == (150, "176.0000")
    assert by_user[BUYER]["margin"] == "1.30000000" and by_user[BUYER]["cost"] == by_user[BUYER]["llm_cost"]

    # Every grouping adds up to the same whole; cash is no model's (the null row).
    whole = total(rows["day"])
    assert whole == (Decimal("1.95"), Decimal("1.378"), Decimal("0.0815"), Decimal("0.0035"), Decimal("1.2965"))
    assert all(total(rows[name]) == whole for name in GROUPINGS)
    by_model = {row["group"]: row for row in rows["model"]}
    assert Decimal(by_model[None]["cash_revenue"]) == Decimal("1.95") and by_model[None]["requests"] == 0
    assert Decimal(by_model["whisper-1"]["background_cost"]) == Decimal("0.001")

    # The user pages say what the API says.
    for user_id, row in by_user.items():
        page = admin_client.get(reverse("admin:users_telegramuser_change", args=[user_id])).content.decode()
        for name in MONEY:
            assert usd_text(Decimal(row[name])) in page, (user_id, name)
    page = admin_client.get(reverse("admin:users_telegramuser_change", args=[BUYER])).content.decode()
    shown = '<span class="label">{}</span><span class="value">{}</span>'
    assert shown.format("paid", "150 ⭐ = $1.95") in page
    assert shown.format("earned", "$1.38 for 176 credits") in page
    assert shown.format("LLM cost", "$0.08 (background $0.003)") in page and shown.format("margin", "$1.30") in page

    # The export is the same rows.
    export = analyst_api.get("/api/v1/llm/costs/", {**period, "group_by": "user", "format": "csv"})
    header, *lines = csv.reader(export.content.decode().splitlines())
    assert export["Content-Type"] == "text/csv" and header == list(rows["user"][0])
    assert [dict(zip(header, line, strict=True)) for line in lines] == [
        {key: str(value) for key, value in row.items()} for row in rows["user"]
    ]

    # /stats: today's margin, to the cent.
    today = today_figures()
    assert (today["revenue"], today["cost"], today["margin"]) == (Decimal("0.60"), Decimal("0.02"), Decimal("0.58"))

    # A period's earned revenue is what its days earned: from the second day on, the trial is spent.
    later = analyst_api.get(
        "/api/v1/llm/costs/", {**period, "start": day_start(D2).isoformat(), "group_by": "user"}
    ).json()
    assert money(later[0]) == (Decimal("1.30"), Decimal("1.313"), Decimal("0.063"), Decimal("0.003"), Decimal("1.25"))


def test_a_refund_of_credits_partly_spent_values_what_was_spent_at_what_is_left(settings, bot_api):
    settings.STARS_USD_RATE = Decimal("0.013")
    TelegramUser.objects.create(id=BUYER)
    cheap = buy(BUYER, credits=100, stars=50, when=moment(D1, 0.1))
    bot_api.star_payment(BUYER, cheap.telegram_payment_charge_id, 50)
    buy(BUYER, credits=100, stars=100, when=moment(D1, 0.2))
    answer(BUYER, credits="50", cost="0", when=moment(D1, 0.3))  # from the first purchase: $0.325
    with on(moment(D2, 0.5)):
        payment_refund(payment_id=cheap.pk)  # its Stars back: those 50 credits came from the second
    rows = revenue_rows(day_start(D1), timezone.now(), GROUPINGS["day"])
    assert [(row["group"], row["cash_revenue"], row["earned_revenue"]) for row in rows] == [
        (D1, Decimal("1.95"), Decimal("0.325")),
        (D2, Decimal("-0.65"), Decimal("0.325")),
    ]


def test_a_deduction_takes_back_credits_worth_nothing_first(settings):
    settings.STARS_USD_RATE = Decimal("0.013")
    TelegramUser.objects.create(id=BUYER)
    with on(moment(D1, 0.1)):
        ledger_apply(user_id=BUYER, type=OperationType.BONUS, amount=Decimal(20), reason="welcome")
    buy(BUYER, credits=100, stars=50, when=moment(D1, 0.2))
    answer(BUYER, credits="30", cost="0", when=moment(D1, 0.3))  # 20 free, 10 paid: $0.065
    with on(moment(D1, 0.4)):
        ledger_apply(user_id=BUYER, type=OperationType.ADJUSTMENT, amount=Decimal(-20), reason="bonus by mistake")
    # The bonus taken back, the 30 credits spent were all paid for; so are the 70 left.
    answer(BUYER, credits="70", cost="0", when=moment(D2, 0.3))
    [d1, d2] = revenue_rows(day_start(D1), timezone.now(), GROUPINGS["day"])
    assert (d1["earned_revenue"], d2["earned_revenue"]) == (Decimal("0.195"), Decimal("0.455"))
    assert d1["earned_revenue"] + d2["earned_revenue"] == d1["cash_revenue"] == Decimal("0.65")


@pytest.mark.parametrize("users", [3, 30])
def test_the_same_few_queries_for_any_number_of_users(settings, django_assert_num_queries, users):
    settings.STARS_USD_RATE = Decimal("0.013")
    for user_id in range(BUYER, BUYER + users):
        TelegramUser.objects.create(id=user_id)
        buy(user_id, credits=100, stars=50, when=moment(D1, 0.1))
        answer(user_id, credits="10", cost="0.001", when=moment(D2, 0.5))
    # Four over the ledger and the request log, one for paid streams' cash: however many users.
    with django_assert_num_queries(5):
        rows = revenue_rows(day_start(D1), timezone.now(), GROUPINGS["user"])
    assert [row["earned_revenue"] for row in rows] == [Decimal("0.065")] * users
