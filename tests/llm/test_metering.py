"""Every LLM call through the real `openai` client against the fake server, metered end to end."""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.analytics.selectors import get_all_users_usage_by_date, get_user_daily_usage, get_user_total_usage
from apps.llm.client import LLMError
from apps.llm.models import DailyUsage, LLMRequest, ModelPrice, UserUsageSummary
from apps.llm.services import llm_complete
from apps.users.models import TelegramUser
from tests.factories import TelegramUserFactory
from tests.fakes.openai import Answer, Fail, Hangup, Stall

pytestmark = pytest.mark.django_db

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about my week"}]


@pytest.fixture
def user() -> TelegramUser:
    return TelegramUserFactory(id=501, username="mira")


def test_usage_present_is_recorded_with_cost_from_the_price_list(llm_api, user):
    llm_api.then(
        Answer(text="A good week.", usage={"prompt_tokens": 1000, "completion_tokens": 200}, cached_tokens=400)
    )
    completion = llm_complete(MESSAGES, user_id=user.id, username="mira", temperature=0.3, max_tokens=50)

    assert completion.text == "A good week."
    [sent] = llm_api.requests
    assert (sent["model"], sent["temperature"], sent["max_tokens"]) == ("gpt-4o-mini", 0.3, 50)
    assert sent["messages"] == MESSAGES

    request = LLMRequest.objects.get()
    assert (request.provider, request.model, request.status, request.attempts) == (
        "openai",
        "gpt-4o-mini",
        "success",
        1,
    )
    assert (request.prompt_tokens, request.completion_tokens, request.total_tokens, request.cached_tokens) == (
        1000,
        200,
        1200,
        400,
    )
    # gpt-4o-mini: 0.15 input, 0.075 cached input, 0.60 output per 1M tokens.
    assert request.cost == Decimal("0.00000015") * 600 + Decimal("0.000000075") * 400 + Decimal("0.0000006") * 200
    assert request.latency_ms >= 0
    assert get_user_daily_usage(user.id, timezone.localdate()) == 1200
    assert get_user_total_usage(user.id) == 1200


def test_usage_missing_means_unknown_not_zero(llm_api, user):
    llm_api.then(Answer(usage=None))
    llm_complete(MESSAGES, user_id=user.id)
    request = LLMRequest.objects.get()
    assert request.status == "success"
    assert (request.prompt_tokens, request.total_tokens, request.cost) == (None, None, None)
    day = DailyUsage.objects.get(user=user)
    assert (day.requests, day.total_tokens) == (1, 0)


def test_rate_limited_then_success_is_one_request_with_two_attempts(llm_api, user):
    llm_api.then(Fail(429, retry_after=0.05), Answer())
    llm_complete(MESSAGES, user_id=user.id)
    assert len(llm_api.requests) == 2
    request = LLMRequest.objects.get()
    assert (request.status, request.attempts) == ("success", 2)


def test_server_errors_until_retries_are_exhausted(llm_api, user, settings):
    llm_api.then(*[Fail(500)] * (settings.LLM_MAX_RETRIES + 1))
    with pytest.raises(LLMError) as failure:
        llm_complete(MESSAGES, user_id=user.id)
    assert failure.value.status == "error"
    assert len(llm_api.requests) == settings.LLM_MAX_RETRIES + 1
    request = LLMRequest.objects.get()
    assert (request.status, request.attempts, request.cost, request.total_tokens) == (
        "error",
        settings.LLM_MAX_RETRIES + 1,
        None,
        None,
    )
    assert "InternalServerError" in request.error_message
    summary = UserUsageSummary.objects.get(user=user)
    assert (summary.total_requests, summary.total_errors, summary.success_rate) == (1, 1, 0.0)


def test_a_client_error_is_not_retried(llm_api, user):
    llm_api.then(Fail(400))
    with pytest.raises(LLMError):
        llm_complete(MESSAGES, user_id=user.id)
    assert len(llm_api.requests) == 1


def test_timeouts_are_retried_then_recorded_as_timeout(llm_api, user, settings):
    settings.LLM_TIMEOUT = 0.3
    settings.LLM_MAX_RETRIES = 1
    llm_api.then(Stall(1.0), Stall(1.0))
    with pytest.raises(LLMError) as failure:
        llm_complete(MESSAGES, user_id=user.id)
    assert failure.value.status == "timeout"
    assert LLMRequest.objects.get().status == "timeout"


def test_a_dropped_connection_is_retried(llm_api, user):
    llm_api.then(Hangup(), Answer(text="Back."))
    assert llm_complete(MESSAGES, user_id=user.id).text == "Back."
    assert LLMRequest.objects.get().attempts == 2


def test_tokens_and_cost_agree_across_request_log_day_and_totals(llm_api, user):
    for prompt, completion in [(100, 10), (2000, 300), (37, 5)]:
        llm_api.then(Answer(usage={"prompt_tokens": prompt, "completion_tokens": completion}))
        llm_complete(MESSAGES, user_id=user.id, username="mira")
    llm_api.then(Fail(400))
    with pytest.raises(LLMError):
        llm_complete(MESSAGES, user_id=user.id, username="mira")

    requests = LLMRequest.objects.filter(user=user)
    day = DailyUsage.objects.get(user=user)
    summary = UserUsageSummary.objects.get(user=user)
    total_tokens = sum(r.total_tokens or 0 for r in requests)
    total_cost = sum(r.cost or 0 for r in requests)
    assert day.total_tokens == summary.total_tokens == total_tokens == 2452
    assert day.prompt_tokens == summary.prompt_tokens == 2137
    assert day.cost == summary.total_cost == total_cost
    assert (day.requests, day.errors, summary.total_requests, summary.total_errors) == (4, 1, 4, 1)
    assert day.models == {"gpt-4o-mini": 4} and day.providers == {"openai": 4}
    [row] = get_all_users_usage_by_date(timezone.localdate().isoformat())
    assert (row["user_id"], row["username"], row["total_tokens"], row["requests"]) == (user.id, "mira", 2452, 4)


def test_cost_uses_the_price_in_effect_at_request_time(llm_api, user):
    llm_api.then(Answer(usage={"prompt_tokens": 1_000_000, "completion_tokens": 0}))
    llm_complete(MESSAGES, user_id=user.id)
    ModelPrice.objects.create(
        provider="openai",
        model="gpt-4o-mini",
        input_per_1m=Decimal("9"),
        output_per_1m=Decimal("9"),
        valid_from=timezone.now(),
    )
    llm_api.then(Answer(usage={"prompt_tokens": 1_000_000, "completion_tokens": 0}))
    llm_complete(MESSAGES, user_id=user.id)
    first, second = LLMRequest.objects.order_by("created_at")
    assert first.cost == Decimal("0.15") and second.cost == Decimal("9")


def test_no_prompt_text_is_stored_by_default_and_at_most_1000_characters_when_asked(llm_api, user, settings):
    llm_complete(MESSAGES, user_id=user.id)
    assert LLMRequest.objects.get().prompt_text == "" and LLMRequest.objects.get().response_text == ""
    settings.STORE_PROMPTS = True
    long = [{"role": "user", "content": "x" * 5000}]
    llm_api.then(Answer(text="y" * 3000))
    llm_complete(long, user_id=user.id)
    stored = LLMRequest.objects.order_by("-id").first()
    assert (len(stored.prompt_text), len(stored.response_text)) == (1000, 1000)


def test_without_a_key_the_offline_model_answers_and_with_one_it_never_does(llm_api, user, settings):
    settings.OPENAI_API_KEY = ""
    offline = llm_complete(MESSAGES, user_id=user.id)
    assert offline.text.startswith("[Demo reply") and offline.model == "offline-demo"
    assert offline.total_tokens == llm_complete(MESSAGES, user_id=user.id).total_tokens, "deterministic counts"
    assert not llm_api.requests
    assert LLMRequest.objects.filter(provider="offline").count() == 2
    assert LLMRequest.objects.filter(provider="offline").first().cost == Decimal(0)

    settings.OPENAI_API_KEY = "test-key"
    assert not llm_complete(MESSAGES, user_id=user.id).text.startswith("[Demo reply")
    assert len(llm_api.requests) == 1


# --- streamed (on_text) ---------------------------------------------------------------------------
def test_a_streamed_call_tells_the_text_as_it_comes_and_is_metered_from_the_last_chunk(llm_api, user):
    llm_api.then(Answer(text="One two three four.", usage={"prompt_tokens": 1000, "completion_tokens": 200}))
    told: list[str] = []
    completion = llm_complete(MESSAGES, user_id=user.id, on_text=told.append)

    assert told == ["One ", "One two ", "One two three ", "One two three four."]
    assert completion.text == "One two three four."
    [sent] = llm_api.requests
    assert (sent["stream"], sent["stream_options"]) == (True, {"include_usage": True})
    request = LLMRequest.objects.get()
    assert (request.status, request.prompt_tokens, request.completion_tokens, request.total_tokens) == (
        "success",
        1000,
        200,
        1200,
    )
    assert request.cost == Decimal("0.00000015") * 1000 + Decimal("0.0000006") * 200
    assert 0 <= completion.first_token_ms <= completion.latency_ms


def test_a_streamed_answer_without_usage_is_unknown_not_zero(llm_api, user):
    llm_api.then(Answer(text="No usage here.", usage=None))
    llm_complete(MESSAGES, user_id=user.id, on_text=lambda text: None)
    request = LLMRequest.objects.get()
    assert request.status == "success"
    assert (request.prompt_tokens, request.total_tokens, request.cost) == (None, None, None)


def test_a_stream_broken_after_text_is_not_retried_and_records_what_is_known(llm_api, user):
    llm_api.then(Answer(text="One two three four.", break_after=2), Answer())
    told: list[str] = []
    with pytest.raises(LLMError) as failure:
        llm_complete(MESSAGES, user_id=user.id, on_text=told.append)
    assert failure.value.status == "error" and told == ["One ", "One two "]
    assert len(llm_api.requests) == 1
    request = LLMRequest.objects.get()
    assert (request.status, request.total_tokens, request.cost, request.attempts) == ("error", None, None, 1)


def test_without_on_text_or_with_streaming_off_nothing_streams(llm_api, user, settings):
    llm_complete(MESSAGES, user_id=user.id)
    settings.LLM_STREAMING = False
    told: list[str] = []
    llm_complete(MESSAGES, user_id=user.id, on_text=told.append)
    assert [("stream" in sent) for sent in llm_api.requests] == [False, False] and told == []


def test_the_offline_model_streams_in_a_few_pieces(user, settings):
    settings.OPENAI_API_KEY = ""
    told: list[str] = []
    completion = llm_complete(MESSAGES, user_id=user.id, on_text=told.append)
    assert 2 <= len(told) <= 4 and told[-1] == completion.text
    assert all(completion.text.startswith(text) for text in told)
