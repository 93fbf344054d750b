"""A call the provider bills is always recorded, and an answer that was given is always charged."""

import pytest
from django.db import OperationalError, transaction

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


def test_a_chat_answer_is_recorded_in_the_transaction_that_charges_for_it(llm_api, settings):
    """The call's record, the charge and the stored answer commit together: the generation names the request."""
    settings.BILLING_FREE_MODE = False
    user = UserWithBalanceFactory(credits=10)
    llm_api.then(Answer(text="an answer", usage={"prompt_tokens": 100, "completion_tokens": 10}))
    assert chat_turn(user_id=user.id, username="u", text="hello").answered
    request = LLMRequest.objects.get(user=user)
    generation = Operation.objects.get(user=user, type=OperationType.GENERATION)
    assert generation.llm_request_id == request.pk and request.cost is not None


def test_usage_held_by_a_transaction_that_failed_is_recorded_once_apart(llm_api):
    """What the caller wrote in a transaction that an exception rolled back is recorded as the block ends."""
    user = UserWithBalanceFactory()
    llm_api.then(Answer(text="hi", usage={"prompt_tokens": 100, "completion_tokens": 10}))
    with pytest.raises(RuntimeError), metering.usage_held() as usage:
        completion = llm_complete(MESSAGES, user_id=user.id)
        assert completion.request_id is None and not LLMRequest.objects.filter(user=user).exists()
        with transaction.atomic():
            assert usage.write() is not None
            raise RuntimeError("the settlement failed")
    request = LLMRequest.objects.get(user=user)
    assert request.cost is not None and request.total_tokens == 110


def test_usage_held_and_never_written_is_recorded_as_the_block_ends(llm_api):
    user = UserWithBalanceFactory()
    llm_api.then(Answer(text="hi"))
    with metering.usage_held() as usage:
        llm_complete(MESSAGES, user_id=user.id)
        assert usage.fields and not LLMRequest.objects.filter(user=user).exists()
    assert LLMRequest.objects.filter(user=user).count() == 1


def test_usage_written_in_a_committed_transaction_is_not_recorded_again(llm_api):
    user = UserWithBalanceFactory()
    llm_api.then(Answer(text="hi"))
    with metering.usage_held() as usage:
        llm_complete(MESSAGES, user_id=user.id)
        with transaction.atomic():
            usage.write()
    assert LLMRequest.objects.filter(user=user).count() == 1
