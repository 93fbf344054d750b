"""Price plans: by default each model is charged its own provider cost × BILLING_DEFAULT_MARKUP, never less
than the minimum charge; a plan for a model wins over the plan for every other model. The admin's price plans
list every model in the price table against what it is charged and mark a plan that charges below cost, with
the personas that use the model."""

import importlib
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import timezone

from apps.billing.models import CreditPackage, PricePlan
from apps.billing.services import charge_estimate, charge_for_audio, charge_for_usage, get_user_balance
from apps.llm.models import BotPersona, LLMRequest
from apps.llm.pricing import cost_at
from tests.fakes.openai import Answer
from tests.helpers import ROOT, message_update

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _prices(reference_data: None) -> None:
    """The seeded price table, persona and packages."""


def _cost(model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
    return cost_at(
        provider="openai",
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=0,
        at=timezone.now(),
    )


def _charge(model: str, prompt_tokens: int = 1000, completion_tokens: int = 500) -> Decimal:
    return charge_for_usage(
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        provider_cost=_cost(model, prompt_tokens, completion_tokens),
    )


@pytest.mark.parametrize("markup", ["3", "2"])
def test_without_a_plan_each_model_is_charged_its_own_cost_times_the_default_markup(settings, markup):
    settings.BILLING_DEFAULT_MARKUP = Decimal(markup)
    assert not PricePlan.objects.exists(), "no plan is seeded: the defaults price every model"
    # gpt-4o: 1000 × $2.50/1M + 500 × $10/1M = $0.0075; gpt-4o-mini: 1000 × $0.15/1M + 500 × $0.60/1M = $0.00045
    assert _charge("gpt-4o") == Decimal("0.0075") * Decimal(markup) * 100
    assert _charge("gpt-4o-mini") == Decimal("0.00045") * Decimal(markup) * 100
    assert _charge("gpt-4o") > 16 * _charge("gpt-4o-mini"), "gpt-4o is no longer charged at gpt-4o-mini's rates"


def test_an_answer_never_costs_less_than_the_minimum_charge(settings):
    assert _charge("gpt-4o-mini", 1, 1) == Decimal("0.01"), "BILLING_MINIMUM_CHARGE"
    settings.BILLING_MINIMUM_CHARGE = Decimal("0.05")
    assert _charge("gpt-4o-mini", 1, 1) == Decimal("0.05")
    assert charge_for_usage(model="gpt-4o-mini", prompt_tokens=None, completion_tokens=None, provider_cost=None) == (
        Decimal("0.05")
    ), "usage the provider did not report costs the minimum"
    PricePlan.objects.create(model="gpt-4o-mini", minimum_charge=Decimal("0.2"))
    assert _charge("gpt-4o-mini", 1, 1) == Decimal("0.2"), "a plan's own minimum wins"
    assert _charge("gpt-4o-mini") == Decimal("0.2") and _charge("gpt-4o") == Decimal("2.25")


def test_a_model_without_a_price_is_charged_the_minimum_and_says_so(caplog):
    charge = charge_for_usage(model="mystery-model", prompt_tokens=1000, completion_tokens=500, provider_cost=None)
    assert charge == Decimal("0.01")
    assert "no price for mystery-model: charged the minimum only" in caplog.text


def test_a_plan_for_a_model_wins_over_the_plan_for_every_model_which_wins_over_the_defaults():
    every = PricePlan.objects.create(model="", markup=Decimal("2"))
    PricePlan.objects.create(model="gpt-4o", markup=Decimal("4"))
    assert _charge("gpt-4o") == Decimal("0.0075") * 4 * 100
    assert _charge("gpt-4o-mini") == Decimal("0.00045") * 2 * 100
    every.delete()
    assert _charge("gpt-4o-mini") == Decimal("0.00045") * 3 * 100


def test_fixed_rates_per_1k_tokens_instead_of_a_markup_and_audio_at_the_markup():
    PricePlan.objects.create(
        model="gpt-4o-mini", credits_per_1k_prompt=Decimal("0.05"), credits_per_1k_completion=Decimal("0.2")
    )
    assert _charge("gpt-4o-mini", 1200, 300) == Decimal("0.12"), "1.2 × 0.05 + 0.3 × 0.2"
    assert charge_estimate(model="gpt-4o-mini", prompt_chars=2997, max_tokens=800) == Decimal("0.21")
    # whisper-1: $0.006 a minute × 3 × 100 credits a dollar
    assert charge_for_audio(model="whisper-1", audio_seconds=60) == Decimal("1.8")


def test_a_plan_is_a_markup_or_both_rates_never_a_mix(admin_client):
    url = reverse("admin:billing_priceplan_add")
    page = admin_client.post(url, {"model": "gpt-4o", "markup": "2", "credits_per_1k_prompt": "0.5"})
    assert "Set a markup, or both per-1K rates (then no markup), not a mix." in page.content.decode()
    admin_client.post(url, {"model": "gpt-4o", "credits_per_1k_prompt": "1", "credits_per_1k_completion": "4"})
    plan = PricePlan.objects.get()
    assert plan.fixed_rates and plan.markup is None and plan.effective_minimum == Decimal("0.01")


def _price_plans_page(admin_client) -> str:
    return admin_client.get(reverse("admin:billing_priceplan_changelist")).content.decode()


def test_the_defaults_never_charge_below_cost_and_every_priced_model_is_listed(admin_client):
    page = _price_plans_page(admin_client)
    assert "Prices vs cost" in page
    for model in ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "llama-3.3-70b-versatile", "whisper-1"):
        assert f"/{model}</td>" in page
    assert "BELOW COST" not in page and "below cost" not in page and "NO PRICE" not in page
    # gpt-4o per 1K output tokens: $0.01 cost, 3 credits = $0.03, at Plenty's $0.004333 a credit $0.013
    assert "<td>$0.01</td>\n      <td>3</td>\n      <td>$0.03</td>\n      <td>$0.013</td>" in page


def test_a_flat_plan_charging_gpt_4o_at_mini_rates_is_marked_below_cost_with_its_persona(admin_client):
    """The plan the project once seeded for every model: 0.05 and 0.2 credits per 1K tokens."""
    BotPersona.objects.filter(is_active=True).update(model="gpt-4o")
    PricePlan.objects.create(model="", credits_per_1k_prompt=Decimal("0.05"), credits_per_1k_completion=Decimal("0.2"))
    page = _price_plans_page(admin_client)
    assert '<strong class="errornote">BELOW COST</strong>' in page, "the plan's row in the list"
    assert "gpt-4o is charged below its provider cost (used by Companion (active))" in page
    assert "“plan for every model” may lose money" in page, "a warning on top of the list"
    assert "gpt-4o-mini is charged below" not in page, "0.05 credits ($0.0005) per 1K input covers $0.00015"


def test_a_markup_above_cost_can_still_lose_on_the_cheapest_package(admin_client):
    PricePlan.objects.create(model="gpt-4o", markup=Decimal("2"))
    page = _price_plans_page(admin_client)
    assert "BELOW COST" not in page, "200 credits a dollar of cost are worth $2"
    # ... but Plenty sells 1500 credits for 500 Stars ($6.50): 200 of them bring in $0.87
    assert '<strong class="errornote">LOSES ON PACKAGES</strong>' in page
    assert "gpt-4o is charged below its provider cost for buyers of the cheapest package" in page
    assert "below cost for “Plenty” buyers" in page
    CreditPackage.objects.filter(title="Plenty").update(is_active=False)
    assert "below cost" not in _price_plans_page(admin_client), "Regular: 500 credits for $2.60, 200 bring in $1.04"


def test_a_markup_below_one_is_marked_and_a_persona_model_without_a_price_too(admin_client):
    PricePlan.objects.create(model="claude-haiku-4-5", markup=Decimal("0.8"))
    BotPersona.objects.create(name="Night owl", system_prompt="…", model="mystery-model")
    page = _price_plans_page(admin_client)
    assert "claude-haiku-4-5 is charged below its provider cost" in page
    assert "mystery-model has no price: its answers are charged the minimum only (used by Night owl)" in page
    assert "<strong>NO PRICE</strong>" in page


@pytest.mark.django_db(transaction=True)
def test_a_gpt_4o_persona_is_charged_gpt_4o_cost_through_the_bot(post_update, bot_api, llm_api):
    BotPersona.objects.filter(is_active=True).update(model="gpt-4o")
    post_update(message_update("/start", user_id=931))
    before = get_user_balance(931)
    llm_api.then(Answer(text="Sure.", usage={"prompt_tokens": 1000, "completion_tokens": 500}))
    post_update(message_update("plan my week", user_id=931))
    request = LLMRequest.objects.get(user_id=931)
    assert (request.model, request.cost) == ("gpt-4o", Decimal("0.0075"))
    assert get_user_balance(931) == before - Decimal("2.25"), "$0.0075 × 3 × 100 credits a dollar"


def test_the_seeded_flat_plan_goes_and_one_staff_changed_stays():
    migration = importlib.import_module("apps.billing.migrations.0004_price_plans_markup_by_default")
    seeded = dict(credits_per_1k_prompt=Decimal("0.05"), credits_per_1k_completion=Decimal("0.2"))
    PricePlan.objects.create(model="", minimum_charge=Decimal("0.01"), **seeded)
    migration.markup_by_default(django_apps, None)
    assert not PricePlan.objects.exists()
    PricePlan.objects.create(model="", minimum_charge=Decimal("0.02"), **seeded)
    migration.markup_by_default(django_apps, None)
    assert PricePlan.objects.get().minimum_charge == Decimal("0.02")


def test_a_default_markup_below_one_stops_start_up():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "BILLING_DEFAULT_MARKUP": "0.8"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: BILLING_DEFAULT_MARKUP=0.8 would charge every model below its provider cost" in (
        result.stderr
    )
