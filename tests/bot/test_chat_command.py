"""`manage.py chat`: a test user through the whole path, answered by the Bot API stand-in."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.bot.models import InboxStatus, InboxUpdate
from apps.bot.static_text import NEW_SESSION_CONFIRM, NEW_SESSION_STARTED
from apps.bot.trying import DEFAULT_USER_ID, SOURCE, TEST_USER_IDS
from apps.llm.models import LLMRequest
from apps.users.models import TelegramUser

pytestmark = pytest.mark.django_db(transaction=True)

OFFLINE_ANSWER = "[Demo reply: no LLM is configured (set OPENAI_API_KEY).]"


def _chat(*args: str) -> str:
    out = StringIO()
    call_command("chat", *args, stdout=out)
    return out.getvalue()


def test_chat_says_start_and_hello_through_the_inbox(reference_data, bot_api):
    output = _chat("--say", "/start", "--say", "hello")
    assert "you › /start\nbot › Hello, Tester!" in output
    assert "you › hello\n" in output
    assert f"bot › {OFFLINE_ANSWER}" in output
    user = TelegramUser.objects.get(pk=DEFAULT_USER_ID)
    assert user.source == SOURCE and user.language_code == "ru"
    updates = InboxUpdate.objects.all()
    assert updates.count() == 2 and {update.status for update in updates} == {InboxStatus.DONE}
    assert LLMRequest.objects.filter(user_id=DEFAULT_USER_ID).count() == 1
    assert not bot_api.calls, "the process's own bot (Telegram's fake here) is not used"


def test_a_new_users_first_message_starts_with_start(reference_data):
    output = _chat("--say", "hi there", "--user-id", str(TEST_USER_IDS.start + 7), "--first-name", "Ann")
    assert output.index("you › /start") < output.index("bot › Hello, Ann!") < output.index("you › hi there")
    assert TelegramUser.objects.get(pk=TEST_USER_IDS.start + 7).source == SOURCE


def test_chat_prints_the_models_answer(llm_api):
    output = _chat("--say", "/start", "--say", "how are you?", "--language", "en")
    assert "bot › Fake answer" in output
    assert OFFLINE_ANSWER not in output
    assert llm_api.requests, "the model was asked"


def test_keyboards_are_numbered_and_buttons_pressed(reference_data):
    output = _chat("--say", "/start", "--say", "hello", "--say", "/new")
    assert f"bot › {NEW_SESSION_CONFIRM}\n      [1] Yes, start anew\n      [2] No, continue" in output
    output = _chat("--say", "/balance")
    assert "      [1] Top up" in output


def _shown(seen):
    """Without the spinner's answer (answerCallbackQuery) and chat actions."""
    return [entry for entry in seen if entry.kind not in ("notice", "action")]


def test_pressing_a_button_answers_the_callback(reference_data):
    from apps.bot.trying import Chat, TestUser

    chat = Chat(TestUser())
    chat.say("/start")
    chat.say("/buy")
    assert chat.buttons and chat.buttons[0]["callback_data"].startswith("buy:")
    [you, invoice] = _shown(chat.press(1))
    assert you.kind == "you" and invoice.kind == "invoice" and "XTR" in invoice.text
    chat.say("hello")
    chat.say("/new")
    [you, edit] = _shown(chat.press(1))
    assert edit.kind == "edit" and edit.text == NEW_SESSION_STARTED
    assert chat.keyboard is None, "the keyboard went with the edit"
    with pytest.raises(ValueError, match="no button 1"):
        chat.press(1)
