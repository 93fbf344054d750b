"""A text message through the webhook, the LLM (fake OpenAI server) and back through the Bot API."""

import pytest
from django.utils import timezone

from apps.analytics.models import AnalyticsEvent
from apps.analytics.selectors import get_user_daily_usage
from apps.bot import static_text
from apps.bot.handlers.chat import NEW_CONFIRM
from apps.llm.models import BotPersona, LLMRequest
from apps.sessions.models import UserSession
from tests.fakes.openai import Answer, Fail
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)


def _replies(bot_api, chat_id: int) -> list[str]:
    return [call.params["text"] for call in bot_api.calls_to("sendMessage") if call.params["chat_id"] == chat_id]


def test_a_message_is_answered_by_the_model_and_metered(post_update, bot_api, llm_api):
    llm_api.then(Answer(text="Tell me more about that.", usage={"prompt_tokens": 90, "completion_tokens": 12}))
    post_update(message_update("I feel stuck at work", user_id=701, username="kate"))

    assert _replies(bot_api, 701) == ["Tell me more about that."]
    assert bot_api.calls_to("sendChatAction")[0].params == {"chat_id": 701, "action": "typing"}
    [sent] = llm_api.requests
    persona = BotPersona.objects.get(is_active=True)
    assert sent["messages"] == [
        {"role": "system", "content": persona.system_prompt},
        {"role": "user", "content": "I feel stuck at work"},
    ]
    assert get_user_daily_usage(701, timezone.localdate()) == 102
    assert LLMRequest.objects.get().session_id == UserSession.objects.get(user_id=701).pk
    names = list(AnalyticsEvent.objects.filter(user_id=701).values_list("event_name", flat=True))
    assert sorted(names) == ["ai_dialog_started", "ai_response_time"]


def test_the_session_carries_the_conversation_and_only_the_first_message_of_the_day_starts_a_dialog(
    post_update, bot_api, llm_api
):
    llm_api.then(Answer(text="First answer."), Answer(text="Second answer."))
    post_update(message_update("one", user_id=702))
    post_update(message_update("two", user_id=702))
    second = llm_api.requests[1]["messages"]
    assert [m["content"] for m in second[1:]] == ["one", "First answer.", "two"]
    assert AnalyticsEvent.objects.filter(event_name="ai_dialog_started", user_id=702).count() == 1
    session = UserSession.objects.get(user_id=702)
    assert len(session.conversation_history) == 4 and session.question_count == 2


def test_a_long_answer_is_split_at_a_paragraph(post_update, bot_api, llm_api):
    paragraphs = ["a" * 3000, "b" * 3000, "c" * 100]
    llm_api.then(Answer(text="\n\n".join(paragraphs)))
    post_update(message_update("go on", user_id=703))
    assert _replies(bot_api, 703) == ["a" * 3000, "b" * 3000 + "\n\n" + "c" * 100]


def test_when_the_model_fails_the_user_is_told_progress_is_saved(post_update, bot_api, llm_api, settings):
    llm_api.then(*[Fail(503)] * (settings.LLM_MAX_RETRIES + 1))
    post_update(message_update("are you there?", user_id=704))

    assert _replies(bot_api, 704) == [static_text.PROGRESS_SAVED]
    session = UserSession.objects.get(user_id=704)
    assert session.conversation_history[0]["content"] == "are you there?", "the message is kept"
    assert "InternalServerError" in session.session_data["last_error"]
    error = AnalyticsEvent.objects.get(event_name="error_occurred")
    assert error.properties["error_type"] == "error"
    assert LLMRequest.objects.get().status == "error"


def test_new_asks_before_dropping_a_running_conversation(post_update, bot_api, llm_api):
    post_update(message_update("hello", user_id=705))
    old = UserSession.objects.get(user_id=705)
    post_update(message_update("/new", user_id=705))
    prompt = bot_api.calls_to("sendMessage")[-1]
    assert prompt.params["text"] == static_text.NEW_SESSION_CONFIRM
    buttons = prompt.params["reply_markup"]["inline_keyboard"][0]
    assert [button["callback_data"] for button in buttons] == [NEW_CONFIRM, "session:new:cancel"]
    assert UserSession.objects.get(pk=old.pk).is_active, "nothing changes before the answer"

    post_update({
        "update_id": 9_000_001,
        "callback_query": {
            "id": "cb-1", "chat_instance": "ci", "data": NEW_CONFIRM,
            "from": {"id": 705, "is_bot": False, "first_name": "FirstName"},
            "message": {"message_id": prompt.params.get("message_id", 1), "date": 1, "text": "?",
                        "chat": {"id": 705, "type": "private"}},
        },
    })  # fmt: skip
    assert bot_api.calls_to("answerCallbackQuery")
    assert bot_api.calls_to("editMessageText")[-1].params["text"] == static_text.NEW_SESSION_STARTED
    old.refresh_from_db()
    assert not old.is_active
    assert UserSession.objects.filter(user_id=705, is_active=True).exclude(pk=old.pk).count() == 1


def test_new_without_a_running_conversation_starts_one_at_once(post_update, bot_api):
    post_update(message_update("/new", user_id=706))
    assert _replies(bot_api, 706) == [static_text.NEW_SESSION_STARTED]
    assert UserSession.objects.filter(user_id=706, is_active=True).count() == 1


def test_offline_model_answers_in_the_embedded_default(post_update, bot_api):
    post_update(message_update("hello there", user_id=707))
    [reply] = _replies(bot_api, 707)
    assert reply.startswith("[Demo reply")
    assert LLMRequest.objects.get().provider == "offline"


@pytest.mark.parametrize("text", ["what I meant was this", "/buy"])
def test_an_edited_message_is_recorded_not_answered_again(post_update, bot_api, llm_api, text):
    """Editing a message (or a command) is activity: the bot neither answers it again nor charges."""
    from apps.users.models import UserActivityLog
    from tests.helpers import captured_update

    edited = captured_update("edited_message.json")
    edited["edited_message"]["from"]["id"] = edited["edited_message"]["chat"]["id"] = 771
    edited["edited_message"]["text"] = text
    if text.startswith("/"):
        edited["edited_message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    assert post_update(edited).status_code == 200
    assert _replies(bot_api, 771) == [] and not bot_api.calls_to("sendInvoice")
    assert llm_api.requests == [] and not LLMRequest.objects.filter(user_id=771).exists()
    assert UserActivityLog.objects.filter(user_id=771, activity_type="edited_message").exists()
