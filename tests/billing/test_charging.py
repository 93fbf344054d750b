"""Charging per answer through the bot: reserve, then settle or release; top-up offers; trial credit."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.billing.models import Operation, OperationType
from apps.billing.selectors import ledger_mismatches
from apps.billing.services import (
    add_to_balance,
    billing_reserve,
    charge_for_usage,
    get_user_balance,
    idempotency_hash,
    reserves_release_stale,
)
from apps.llm.models import LLMRequest
from apps.users.models import TelegramUser
from tests.fakes.openai import Answer, Fail, Stall
from tests.helpers import message_update, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def _types(user_id: int) -> list[str]:
    return [
        OperationType(t).label
        for t in Operation.objects.filter(user_id=user_id).order_by("id").values_list("type", flat=True)
    ]


def test_new_users_get_the_trial_credit_once(post_update, bot_api, settings):
    settings.BILLING_TRIAL_CREDITS = Decimal("20")
    post_update(message_update("/start", user_id=901))
    post_update(message_update("/start", user_id=901))
    assert get_user_balance(901) == Decimal("20")
    assert _types(901) == ["bonus"]


def test_an_answer_is_charged_exactly_its_settled_cost(post_update, bot_api, llm_api):
    post_update(message_update("/start", user_id=902))
    before = get_user_balance(902)
    llm_api.then(Answer(text="Here you are.", usage={"prompt_tokens": 1200, "completion_tokens": 300}))
    post_update(message_update("help me plan", user_id=902))

    request = LLMRequest.objects.get(user_id=902)
    expected = charge_for_usage(
        model=request.model, prompt_tokens=1200, completion_tokens=300, provider_cost=request.cost
    )
    # No plan: gpt-4o-mini's cost ($0.00036) × BILLING_DEFAULT_MARKUP (3) × BILLING_CREDITS_PER_USD (100)
    assert expected == Decimal("0.108")
    assert get_user_balance(902) == before - expected
    assert _types(902) == ["bonus", "reserve", "release", "generation"]
    generation = Operation.objects.get(user_id=902, type=OperationType.GENERATION)
    assert generation.llm_request_id == request.pk and generation.amount == -expected
    release = Operation.objects.get(user_id=902, type=OperationType.RELEASE)
    assert (release.balance_after, generation.balance_after) == (before, before - expected)
    assert release.pk < generation.pk
    assert ledger_mismatches()[1] == []


@pytest.mark.parametrize("failure", [Fail(500), Stall(5)], ids=["server-error", "timeout"])
def test_a_failed_answer_charges_nothing(post_update, bot_api, llm_api, settings, failure):
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_TIMEOUT = 0.5
    post_update(message_update("/start", user_id=903))
    before = get_user_balance(903)
    llm_api.then(failure)
    post_update(message_update("hello?", user_id=903))
    assert get_user_balance(903) == before
    assert _types(903) == ["bonus", "reserve", "release"]


def test_too_little_balance_gets_a_topup_offer_and_no_llm_call(post_update, bot_api, llm_api, settings):
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    post_update(message_update("/start", user_id=904))
    post_update(message_update("answer me", user_id=904))
    assert not llm_api.requests
    offer = bot_api.calls_to("sendMessage")[-1]
    assert "Top up" in offer.params["text"]
    assert offer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "buy:menu"
    assert not LLMRequest.objects.filter(user_id=904).exists()


@pytest.mark.parametrize("who", ["admin", "free-mode"])
def test_admins_and_free_mode_are_never_charged(post_update, bot_api, llm_api, settings, who):
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    post_update(message_update("/start", user_id=905))
    if who == "admin":
        TelegramUser.objects.filter(pk=905).update(is_admin=True)
    else:
        settings.BILLING_FREE_MODE = True
    post_update(message_update("hi", user_id=905))
    assert len(llm_api.requests) == 1
    assert get_user_balance(905) == Decimal("0") and not Operation.objects.filter(user_id=905).exists()


def test_holds_of_answers_that_never_settled_are_released(reference_data):
    TelegramUser.objects.create(id=906)
    add_to_balance(906, Decimal("5"))
    stale = billing_reserve(user_id=906, amount=Decimal("2"))
    fresh = billing_reserve(user_id=906, amount=Decimal("1"))
    Operation.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=20))
    assert reserves_release_stale() == 1
    assert reserves_release_stale() == 0, "released once"
    assert get_user_balance(906) == Decimal("4")
    assert not Operation.objects.filter(idempotency_key=idempotency_hash(f"release:{fresh.pk}")).exists()


def test_concurrent_messages_of_one_user_never_overdraw(require_postgres, llm_api, settings):
    """Ten answers at once on a balance that covers three holds: three are answered, never below zero."""
    from apps.bot.flows.chat import chat_turn

    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    TelegramUser.objects.create(id=907)
    add_to_balance(907, Decimal("0.6"))  # each hold: ~0.15 for 800 completion tokens
    replies = run_concurrently(lambda n: chat_turn(user_id=907, username="u", text=f"m{n}"), 10)
    assert get_user_balance(907) >= 0
    assert sum(reply.answered for reply in replies) == len(llm_api.requests) >= 3
    assert ledger_mismatches()[1] == []
