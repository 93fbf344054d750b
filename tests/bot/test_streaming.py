"""Streamed answers: drafts while the model writes, then the stored reply, metered and charged as before.

The real path: webhook → handler → chat flow → openai client streaming from the fake server, drafts and
messages through python-telegram-bot to the fake Bot API."""

from decimal import Decimal

import pytest

from apps.analytics.models import AnalyticsEvent
from apps.billing.models import Operation, OperationType
from apps.billing.selectors import ledger_mismatches
from apps.billing.services import get_user_balance
from apps.bot import runtime, static_text
from apps.bot.models import Reply
from apps.llm.models import LLMRequest
from tests.factories import UserWithBalanceFactory
from tests.fakes.openai import Answer
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = " ".join(f"word{n}" for n in range(30))  # 30 pieces as the fake streams them
USAGE = {"prompt_tokens": 1200, "completion_tokens": 300}


def _to(bot_api, method: str, chat_id: int) -> list:
    return [call for call in bot_api.calls_to(method) if int(call.params["chat_id"]) == chat_id]


def _texts(bot_api, method: str, chat_id: int) -> list[str]:
    return [call.params["text"] for call in _to(bot_api, method, chat_id)]


def _types(user_id: int) -> list[str]:
    operations = Operation.objects.filter(user_id=user_id).order_by("id")
    return [OperationType(t).label for t in operations.values_list("type", flat=True)]


def _metered(user_id: int) -> tuple:
    request = LLMRequest.objects.get(user_id=user_id)
    generation = Operation.objects.get(user_id=user_id, type=OperationType.GENERATION)
    return (
        request.status,
        request.prompt_tokens,
        request.completion_tokens,
        request.total_tokens,
        request.cost,
        generation.amount,
    )


def test_a_streamed_answer_arrives_as_drafts_then_one_message_charged_as_an_unstreamed_one(
    post_update, bot_api, llm_api, settings
):
    settings.BILLING_FREE_MODE = False
    settings.STREAM_DRAFTS_PER_SECOND = 20
    streamed, unstreamed = UserWithBalanceFactory(credits=10), UserWithBalanceFactory(credits=10)
    llm_api.then(Answer(text=WORDS, usage=USAGE, chunk_delay=0.03), Answer(text=WORDS, usage=USAGE))
    payload = message_update("tell me a story", user_id=streamed.id)
    post_update(payload)
    settings.LLM_STREAMING = False
    post_update(message_update("tell me a story", user_id=unstreamed.id))

    first, second = llm_api.requests
    assert first["stream"] is True and first["stream_options"] == {"include_usage": True}
    assert "stream" not in second
    drafts = _to(bot_api, "sendMessageDraft", streamed.id)
    assert len(drafts) >= 3, "the answer was shown as it was written"
    assert {call.params["draft_id"] for call in drafts} == {payload["update_id"]}
    texts = [call.params["text"] for call in drafts]
    assert all(WORDS.startswith(text) for text in texts) and texts == sorted(texts, key=len)
    assert _texts(bot_api, "sendMessage", streamed.id) == [WORDS], "then the answer, once"
    assert drafts[-1].at <= _to(bot_api, "sendMessage", streamed.id)[0].at
    assert not _to(bot_api, "editMessageText", streamed.id)
    assert not _to(bot_api, "sendMessageDraft", unstreamed.id)
    assert _texts(bot_api, "sendMessage", unstreamed.id) == [WORDS]

    assert _metered(streamed.id) == _metered(unstreamed.id)
    assert _metered(streamed.id)[:4] == ("success", 1200, 300, 1500)
    assert get_user_balance(streamed.id) == get_user_balance(unstreamed.id) < Decimal(10)
    assert _types(streamed.id) == _types(unstreamed.id) == ["adjustment", "reserve", "release", "generation"]
    assert ledger_mismatches()[1] == []

    runtime.process_update(payload)  # delivered again: answered from the store, nothing streamed or asked
    assert len(llm_api.requests) == 2 and len(_to(bot_api, "sendMessageDraft", streamed.id)) == len(drafts)
    assert _texts(bot_api, "sendMessage", streamed.id) == [WORDS]


def test_drafts_are_throttled(post_update, bot_api, llm_api, settings):
    settings.STREAM_DRAFTS_PER_SECOND = 4
    llm_api.then(Answer(text=WORDS, chunk_delay=0.05))  # 30 pieces over 1.5 s
    post_update(message_update("go", user_id=811))

    drafts = _to(bot_api, "sendMessageDraft", 811)
    streamed_for = LLMRequest.objects.get(user_id=811).latency_ms / 1000
    assert 3 <= len(drafts) <= streamed_for * 4 + 1
    gaps = [later.at - earlier.at for earlier, later in zip(drafts, drafts[1:], strict=False)]
    # Sends start at least 0.25 s apart; their arrival here varies by the loopback's latency, which
    # a busy machine stretches: 0.15 still tells the throttle from none (pieces come 0.05 s apart).
    assert min(gaps) >= 0.15, gaps
    assert _texts(bot_api, "sendMessage", 811) == [WORDS]


def test_refused_drafts_fall_back_to_one_message_edited_in_place(post_update, bot_api, llm_api, settings):
    """An older Bot API server answers sendMessageDraft 404: the answer is shown in one message, edited at
    most once a second, that ends as the whole answer; no second message."""
    settings.STREAM_DRAFTS_PER_SECOND = 20
    bot_api.refuse_drafts()
    llm_api.then(Answer(text=WORDS, chunk_delay=0.1))  # 30 pieces over 3 s
    payload = message_update("go", user_id=812)
    post_update(payload)

    assert [call.status for call in _to(bot_api, "sendMessageDraft", 812)] == [404], "tried once, then not again"
    [preview] = _to(bot_api, "sendMessage", 812)
    assert WORDS.startswith(preview.params["text"]) and preview.params["text"] != WORDS
    edits = _to(bot_api, "editMessageText", 812)
    assert len(edits) >= 2
    assert edits[-1].params["text"] == WORDS, "the message ends as the whole answer"
    assert all(WORDS.startswith(call.params["text"]) for call in edits)
    times = [preview.at] + [call.at for call in edits]
    # A second apart when sent; measured on arrival, so with the loopback's jitter (pieces come 0.1 s apart)
    assert min(later - earlier for earlier, later in zip(times, times[1:], strict=False)) >= 0.8
    assert Reply.objects.get(pk=payload["update_id"]).sent_at is not None


def test_a_stream_that_breaks_releases_the_hold_and_records_the_error(post_update, bot_api, llm_api, settings):
    settings.BILLING_FREE_MODE = False
    settings.STREAM_DRAFTS_PER_SECOND = 50
    user = UserWithBalanceFactory(credits=10)
    llm_api.then(Answer(text=WORDS, chunk_delay=0.02, break_after=10), Answer(text="nobody should see this"))
    post_update(message_update("go", user_id=user.id))

    assert len(llm_api.requests) == 1, "part of the answer was shown: not asked again"
    assert _to(bot_api, "sendMessageDraft", user.id), "the user saw the answer begin"
    assert _texts(bot_api, "sendMessage", user.id) == [static_text.PROGRESS_SAVED]
    assert get_user_balance(user.id) == Decimal(10)
    assert _types(user.id) == ["adjustment", "reserve", "release"]
    request = LLMRequest.objects.get(user_id=user.id)
    assert (request.status, request.total_tokens, request.cost) == ("error", None, None), "unknown, not zero"
    assert "APIConnectionError" in request.error_message
    assert AnalyticsEvent.objects.filter(event_name="error_occurred", user_id=user.id).exists()
    assert ledger_mismatches()[1] == []


def test_a_stream_that_breaks_before_any_text_is_asked_again(post_update, bot_api, llm_api):
    llm_api.then(Answer(text=WORDS, break_after=0), Answer(text="The answer."))
    post_update(message_update("go", user_id=813))
    assert len(llm_api.requests) == 2
    assert _texts(bot_api, "sendMessage", 813) == ["The answer."]
    request = LLMRequest.objects.get(user_id=813)
    assert (request.status, request.attempts) == ("success", 2)


def test_streaming_off_is_the_unstreamed_path(post_update, bot_api, llm_api, settings):
    settings.LLM_STREAMING = False
    llm_api.then(Answer(text=WORDS, usage=USAGE))
    post_update(message_update("go", user_id=814))
    assert "stream" not in llm_api.requests[0]
    assert not bot_api.calls_to("sendMessageDraft")
    assert _texts(bot_api, "sendMessage", 814) == [WORDS]
    [event] = AnalyticsEvent.objects.filter(event_name="ai_response_time", user_id=814)
    assert event.properties["ttft_ms"] == event.properties["duration_ms"], "the first text is the whole answer"
    assert event.properties["streamed"] is False


def test_time_to_first_token_is_tracked(post_update, bot_api, llm_api, settings):
    llm_api.then(Answer(text=WORDS, first_token_delay=0.3, chunk_delay=0.02))
    post_update(message_update("go", user_id=815))
    [event] = AnalyticsEvent.objects.filter(event_name="ai_response_time", user_id=815)
    properties = event.properties
    assert 300 <= properties["ttft_ms"] < properties["duration_ms"], properties
    assert properties["duration_ms"] >= 300 + 29 * 20
    assert properties["streamed"] is True


def test_the_offline_model_streams_too(post_update, bot_api, settings):
    settings.STREAM_DRAFTS_PER_SECOND = 1000
    post_update(message_update("hello there", user_id=816))
    [reply] = _texts(bot_api, "sendMessage", 816)
    assert reply.startswith("[Demo reply")
    assert all(reply.startswith(text) for text in _texts(bot_api, "sendMessageDraft", 816))
