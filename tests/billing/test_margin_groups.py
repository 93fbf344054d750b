"""Margin where decisions are made: llm/costs/ grouped by cohort, source, stage, model and user, every grouping
adding up to the whole on both legs (revenue and cost), and the admin's user list sorted by lifetime margin."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.billing.revenue import GROUPINGS, revenue_rows, user_revenue
from apps.billing.services import billing_grant_trial, payment_refund
from apps.core.dates import day_start
from apps.core.money import usd_text
from apps.llm.models import BotPersona, RequestType
from apps.users.models import TelegramUser
from tests.billing.test_margin import D1, D2, D3, answer, buy, moment, on
from tests.factories import LLMRequestFactory

pytestmark = pytest.mark.django_db

SUMMED = ("requests", "total_tokens", "credits_charged", "stars", "cash_revenue", "earned_revenue", "llm_cost")
SUMMED += ("background_cost", "margin")
# Two Mondays apart: the cohorts are those weeks' Mondays.
EARLY, LATE = day_start(D1) - timedelta(days=21), day_start(D1) - timedelta(days=7)


def monday(moment_) -> str:
    day = timezone.localtime(moment_).date()
    return (day - timedelta(days=day.weekday())).isoformat()


@pytest.fixture
def population(settings, bot_api) -> None:
    """Three users of two cohorts, two sources (one without a deep link), two stages (one not analysed), two
    models, two personas (one answering two users); a refund; background spend; and a request of nobody."""
    settings.STARS_USD_RATE = Decimal("0.013")
    settings.BILLING_TRIAL_CREDITS = Decimal("20")
    users = [
        (3001, EARLY, "ads_vk", "ordeal"),
        (3002, EARLY, "", None),
        (3003, LATE, "ads_vk", "call_to_adventure"),
    ]
    for user_id, registered, source, stage in users:
        TelegramUser.objects.create(id=user_id, registration_date=registered, source=source, last_journey_stage=stage)
        with on(moment(D1, 0.1)):
            billing_grant_trial(user_id=user_id)
    mentor, coach = (BotPersona.objects.create(name=name, system_prompt="Hi.") for name in ("Mentor", "Coach"))
    buy(3001, credits=100, stars=50, when=moment(D1, 0.2))
    answer(3001, credits="40", cost="0.0100", when=moment(D1, 0.3), persona=mentor)
    answer(3001, credits="30", cost="0.0300", when=moment(D2, 0.3), model="gpt-4o", persona=coach)
    answer(3001, credits="", cost="0.0020", when=moment(D2, 0.4), request_type=RequestType.PROFILE_SUMMARY)
    answer(3002, credits="15", cost="0.0040", when=moment(D2, 0.5), persona=coach)
    refunded = buy(3003, credits=200, stars=120, when=moment(D2, 0.1))
    bot_api.star_payment(3003, refunded.telegram_payment_charge_id, 120)
    buy(3003, credits=100, stars=100, when=moment(D2, 0.2))
    answer(3003, credits="60", cost="0.0500", when=moment(D3, 0.2), model="gpt-4o", persona=mentor)
    with on(moment(D3, 0.4)):
        payment_refund(payment_id=refunded.pk)
    LLMRequestFactory(user=None, cost=Decimal("0.0007"), created_at=moment(D3, 0.5))


def totals(rows: list[dict]) -> dict[str, Decimal]:
    return {name: sum((Decimal(str(row[name])) for row in rows), Decimal(0)) for name in SUMMED}


def period() -> dict[str, str]:
    return {"start": day_start(D1).isoformat(), "end": (timezone.now() + timedelta(minutes=1)).isoformat()}


def test_every_grouping_adds_up_to_the_whole_on_both_legs(population, analyst_api):
    rows = {name: analyst_api.get("/api/v1/llm/costs/", {**period(), "group_by": name}).json() for name in GROUPINGS}
    whole = totals(rows["day"])
    # Both legs are there to add up: revenue (cash net of the refund, earned) and cost (background in it).
    assert whole["cash_revenue"] == Decimal("1.95")  # 270 Stars paid, 120 of them refunded, at $0.013
    assert whole["earned_revenue"] > 0 and whole["llm_cost"] == Decimal("0.0967")
    assert whole["background_cost"] == Decimal("0.002")
    for name in GROUPINGS:
        assert totals(rows[name]) == whole, name

    by = {name: {row["group"]: row for row in rows[name]} for name in ("cohort", "source", "stage")}
    early, late = monday(EARLY), monday(LATE)
    assert list(by["cohort"]) == [early, late, None]  # weeks in order, requests of nobody last
    assert list(by["source"]) == ["", "ads_vk", None]
    assert list(by["stage"]) == ["", "call_to_adventure", "ordeal", None]
    assert Decimal(by["cohort"][None]["llm_cost"]) == Decimal("0.0007") and by["cohort"][None]["requests"] == 1
    # A group is its users' figures: the late cohort is the one user 3003, as their page has it.
    page = user_revenue(3003)
    assert Decimal(by["cohort"][late]["margin"]) == page.margin
    assert Decimal(by["cohort"][late]["cash_revenue"]) == page.cash_revenue == Decimal("1.30")
    assert Decimal(by["stage"]["call_to_adventure"]["earned_revenue"]) == page.earned_revenue
    # The deep link's users, 3001 and 3003, together.
    both = user_revenue(3001)
    both.add(page)
    assert Decimal(by["source"]["ads_vk"]["margin"]) == both.margin


def test_margin_by_persona_names_each_persona_and_adds_up(population, analyst_api):
    rows = analyst_api.get("/api/v1/llm/costs/", {**period(), "group_by": "persona"}).json()
    whole = totals(analyst_api.get("/api/v1/llm/costs/", {**period(), "group_by": "day"}).json())
    assert totals(rows) == whole
    by = {row["group"]: row for row in rows}
    # Names in order; "" the requests no persona answered (background, and the request of nobody); None cash.
    assert list(by) == ["", "Coach", "Mentor", None]
    assert [by[name]["requests"] for name in by] == [2, 2, 2, 0]
    assert [Decimal(by[name]["llm_cost"]) for name in by] == [
        Decimal(cost) for cost in ("0.0027", "0.034", "0.06", "0")
    ]
    assert Decimal(by[""]["background_cost"]) == whole["background_cost"] and not Decimal(by[""]["earned_revenue"])
    assert Decimal(by[None]["cash_revenue"]) == whole["cash_revenue"] and not Decimal(by[None]["earned_revenue"])
    # Every credit consumed was a persona's answer: the two personas earned it all, Mentor all of 3003's.
    earned = {name: Decimal(by[name]["earned_revenue"]) for name in ("Coach", "Mentor")}
    assert earned["Coach"] + earned["Mentor"] == whole["earned_revenue"]
    assert earned["Mentor"] > user_revenue(3003).earned_revenue > 0
    assert by["Coach"]["credits_charged"] == "45.0000" and by["Mentor"]["credits_charged"] == "100.0000"


def test_a_period_inside_the_whole_adds_up_too(population):
    start, end = day_start(D2), day_start(D3)
    whole = totals(revenue_rows(start, end, GROUPINGS["day"]))
    assert whole["llm_cost"] == Decimal("0.0360")
    for name, grouping in GROUPINGS.items():
        assert totals(revenue_rows(start, end, grouping)) == whole, name


def test_a_grouping_by_user_adds_one_query_for_any_number_of_users(population):
    def queries(name: str) -> int:
        with CaptureQueriesContext(connection) as context:
            revenue_rows(day_start(D1), timezone.now(), GROUPINGS[name])
        return len(context)

    assert queries("cohort") == queries("source") == queries("stage") == queries("user") + 1


def test_csv_export_by_cohort(population, analyst_api):
    export = analyst_api.get("/api/v1/llm/costs/", {**period(), "group_by": "cohort", "format": "csv"})
    assert export.status_code == 200 and export["Content-Type"] == "text/csv"
    assert 'filename="llm-costs-by-cohort.csv"' in export["Content-Disposition"]
    lines = export.content.decode().splitlines()
    assert lines[0].startswith("group,requests,") and lines[1].startswith(f"{monday(EARLY)},")


def test_an_unknown_grouping_is_refused_naming_the_choices(analyst_api):
    response = analyst_api.get("/api/v1/llm/costs/", {"group_by": "colour"})
    assert response.status_code == 400
    message = response.json()["group_by"][0]
    assert "colour" in message and "cohort" in message and "stage" in message


def test_the_user_list_sorts_by_lifetime_margin(population, admin_client):
    margins = {user_id: user_revenue(user_id).margin for user_id in (3001, 3002, 3003)}
    assert len(set(margins.values())) == 3
    url = reverse("admin:users_telegramuser_changelist")
    page = admin_client.get(url).content.decode()
    assert "column-lifetime_margin" in page and page.count('class="field-lifetime_margin"') == 3
    for descending in (False, True):
        index = admin_client.get(url).context["cl"].list_display.index("lifetime_margin")
        response = admin_client.get(url, {"o": f"{'-' if descending else ''}{index}"})
        shown = [user.pk for user in response.context["cl"].result_list]
        assert shown == sorted(margins, key=margins.get, reverse=descending)
    # Each row shows the user's margin as their page does.
    for margin in margins.values():
        assert f'<td class="field-lifetime_margin">{usd_text(margin)}</td>' in page
