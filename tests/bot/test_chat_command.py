"""`manage.py chat` and the admin's Try the bot: a test user through the whole path, answered by the stand-in."""

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from apps.billing.models import SubscriptionPlan
from apps.bot.models import InboxStatus, InboxUpdate
from apps.bot.static_text import CHOOSE_PACKAGE, NEW_SESSION_CONFIRM, NEW_SESSION_STARTED
from apps.bot.trying import DEFAULT_USER_ID, SOURCE, TEST_USER_IDS
from apps.llm.models import LLMRequest
from apps.users.models import TelegramUser

pytestmark = pytest.mark.django_db(transaction=True)

OFFLINE_ANSWER = "[Demo reply: no LLM is configured (set OPENAI_API_KEY).]"
OFFLINE_ANSWER_RU = "[Демо-ответ: языковая модель не подключена (задайте OPENAI_API_KEY).]"


def _chat(*args: str) -> str:
    out = StringIO()
    call_command("chat", *args, stdout=out)
    return out.getvalue()


def test_chat_says_start_and_hello_through_the_inbox(reference_data, bot_api):
    output = _chat("--say", "/start", "--say", "hello")
    assert "you › /start\nbot › Здравствуйте, Tester!" in output, "the test user speaks Russian unless told"
    assert "you › hello\n" in output
    assert f"bot › {OFFLINE_ANSWER_RU}" in output, "the demo model answers in the user's language"
    user = TelegramUser.objects.get(pk=DEFAULT_USER_ID)
    assert user.source == SOURCE and user.language_code == "ru"
    updates = InboxUpdate.objects.all()
    assert updates.count() == 2 and {update.status for update in updates} == {InboxStatus.DONE}
    assert LLMRequest.objects.filter(user_id=DEFAULT_USER_ID).count() == 1
    assert not bot_api.calls, "the process's own bot (Telegram's fake here) is not used"


def test_a_new_users_first_message_starts_with_start(reference_data):
    output = _chat("--say", "hi there", "--user-id", str(TEST_USER_IDS.start + 7), "--first-name", "Ann")
    assert output.index("you › /start") < output.index("bot › Здравствуйте, Ann!") < output.index("you › hi there")
    assert TelegramUser.objects.get(pk=TEST_USER_IDS.start + 7).source == SOURCE


def test_chat_prints_the_models_answer(llm_api):
    output = _chat("--say", "/start", "--say", "how are you?", "--language", "en")
    assert "bot › Fake answer" in output
    assert OFFLINE_ANSWER not in output
    assert llm_api.requests, "the model was asked"


def test_keyboards_are_numbered_and_buttons_pressed(reference_data):
    output = _chat("--say", "/start", "--say", "hello", "--say", "/new", "--language", "en")
    assert f"bot › {NEW_SESSION_CONFIRM}\n      [1] Yes, start anew\n      [2] No, continue" in output
    output = _chat("--say", "/balance", "--language", "en")
    assert "      [1] Top up" in output
    assert "      [1] Пополнить" in _chat("--say", "/balance")


def test_say_presses_buttons_too(reference_data):
    output = _chat("--say", "/buy", "--say", ":press 1", "--say", ":quit", "--say", "never sent", "--language", "en")
    assert "you › :press 1" not in output and "never sent" not in output, "neither is a message"
    assert "invoice" in output.split("[1] ", 2)[-1] and "XTR" in output
    assert InboxUpdate.objects.count() == 3, "/start (a new user's first), /buy and the press; nothing after :quit"


def _shown(seen):
    """Without the spinner's answer (answerCallbackQuery) and chat actions."""
    return [entry for entry in seen if entry.kind not in ("notice", "action")]


def test_pressing_a_button_answers_the_callback(reference_data):
    from apps.bot.trying import Chat, TestUser

    chat = Chat(TestUser(language="en"))
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


# --- the admin page ----------------------------------------------------------------------------
URL = "/admin/try-the-bot/"


def test_try_the_bot_is_for_staff(client, reference_data):
    assert client.get(URL).status_code == 302
    User.objects.create_user("someone", password="a-long-test-password")
    client.login(username="someone", password="a-long-test-password")
    assert client.get(URL).status_code == 302
    staff = User.objects.create_user("staff", password="a-long-test-password", is_staff=True)
    client.force_login(staff)
    response = client.get(URL)
    assert response.status_code == 200
    assert str(TEST_USER_IDS.start + 1000 + staff.pk) in response.content.decode()
    assert URL in client.get("/admin/").content.decode(), "linked from the admin index"


def test_staff_chat_with_the_bot_from_the_admin(admin_client, reference_data):
    form = {"user_id": TEST_USER_IDS.start + 42, "first_name": "Staffer", "language": "en"}
    page = admin_client.post(URL, {**form, "text": "hello bot"}, follow=True).content.decode()
    assert "Hello, Staffer!" in page, "a new test user starts with /start"
    assert "hello bot" in page and OFFLINE_ANSWER in page
    assert TelegramUser.objects.get(pk=TEST_USER_IDS.start + 42).source == SOURCE

    page = admin_client.post(URL, {**form, "text": "/buy"}, follow=True).content.decode()
    assert CHOOSE_PACKAGE in page and 'name="press" value="1"' in page
    page = admin_client.post(URL, {**form, "press": "1"}, follow=True).content.decode()
    assert "invoice" in page and "XTR" in page
    assert {update.status for update in InboxUpdate.objects.all()} == {InboxStatus.DONE}


def test_the_admin_refuses_ids_a_real_user_may_have(admin_client, reference_data):
    response = admin_client.post(URL, {"user_id": 12345678, "first_name": "Real", "language": "en", "text": "hi"})
    assert response.status_code == 200 and "greater than or equal to" in response.content.decode()
    assert not TelegramUser.objects.filter(pk=12345678).exists()


def test_a_subscription_is_offered_as_a_link(reference_data):
    SubscriptionPlan.objects.create(title="Monthly", stars=250, credits=Decimal("600"))
    output = _chat("--say", "/buy", "--language", "en")
    [offer] = [line for line in output.splitlines() if "Monthly" in line]
    number = offer.split("[")[1].split("]")[0]
    output = _chat("--say", "/buy", "--say", f":press {number}", "--say", ":press 1", "--language", "en")
    assert "failed" not in output
    assert f"you › [{offer.split('] ')[1]}]" in output, "the plan's button pressed"
    assert "bot ! [Subscribe for 250 ⭐] is not a callback button: https://t.me/$standin" in output
