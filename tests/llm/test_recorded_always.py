"""A call the provider bills is always recorded, and an answer that was given is always charged."""

import pytest
from django.db import OperationalError

from apps.billing.models import Operation, OperationType
from apps.bot.flows.chat import chat_turn
from apps.llm import metering, pricing
from apps.llm.models import LLMRequest
from apps.llm.services import llm_complete
from tests.factories import UserWithBalanceFactory
from tests.fakes.openai import Answer

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [{"role": "user", "content": "hello"}]


def test_a_database_error_right_after_the_answer_loses_no_record(llm_api, monkeypatch):
    """The first query after the provider answered (the price lookup) fails once: the call is still
    recorded, priced, when the database answers again."""
    user = UserWithBalanceFactory()
    real_price_for, failures = pricing.price_for, []

    def price_for_once_down(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise OperationalError("server closed the connection unexpectedly")
        return real_price_for(*args, **kwargs)

    monkeypatch.setattr(pricing, "price_for", price_for_once_down)
    monkeypatch.setattr(metering, "_RECORD_RETRY_DELAYS", (0, 0))
    llm_api.then(Answer(text="hi", usage={"prompt_tokens": 100, "completion_tokens": 10}))

    completion = llm_complete(MESSAGES, user_id=user.id)

    request = LLMRequest.objects.get(user=user)
    assert failures and completion.request_id == request.pk
    assert request.cost is not None and completion.cost == request.cost


def test_a_model_id_of_any_length_is_recorded_and_charged(llm_api, settings):
    settings.BILLING_FREE_MODE = False
    user = UserWithBalanceFactory(credits=10)
    long_model = "provider/" + "very-long-model-name-" * 8
    llm_api.then(Answer(text="an answer", model=long_model))
    reply = chat_turn(user_id=user.id, username="u", text="hello")
    assert reply.answered
    assert LLMRequest.objects.get(user=user).model == long_model
    assert Operation.objects.filter(user=user, type=OperationType.GENERATION).count() == 1


def test_answers_whose_usage_could_not_be_recorded_are_each_charged(llm_api, settings, monkeypatch):
    """Recording failed for two answers (no request id): each is still charged, once."""
    settings.BILLING_FREE_MODE = False
    user = UserWithBalanceFactory(credits=10)

    def database_down(**fields):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(metering, "usage_record", database_down)
    monkeypatch.setattr(metering, "_RECORD_RETRY_DELAYS", ())
    monkeypatch.setattr(metering, "_record_later", lambda fields: None)
    llm_api.then(Answer(text="one"), Answer(text="two"))
    assert chat_turn(user_id=user.id, username="u", text="first").answered
    assert chat_turn(user_id=user.id, username="u", text="second").answered
    assert Operation.objects.filter(user=user, type=OperationType.GENERATION).count() == 2
