"""Staff edit the bot's texts in the admin, per language: the bot sends the override from its next update (in
every process, no restart), the default again once it is cleared, and an override the bot could not fill in
is refused on the field."""

from io import StringIO
from string import Formatter

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.bot import overrides, static_text, texts
from apps.bot.models import BotText
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = reverse("admin:bot_bottext_changelist")
ENGLISH_WELCOME = (
    "Hello, {name}! I am your AI companion. Write to me about anything that is on your mind, and I will answer."
)
RUSSIAN_WELCOME = "Здравствуйте, {name}! Я ваш ИИ-собеседник. Напишите мне обо всём, что у вас на душе, — я отвечу."
OVERRIDES = {
    "ru": "Привет, {name}! Я рядом: расскажите, что у вас на душе.",
    "en": "Hi {name}! Tell me what is on your mind.",
}


@pytest.fixture(autouse=True)
def _overrides_forgotten():
    """This process's snapshot of the overrides outlives the test's rows (the flush that follows it does not
    say so): the next test reads them afresh."""
    yield
    overrides.changed()


@pytest.fixture
def staff() -> User:
    user = User.objects.create_user("olga", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_bottext", "change_bottext"]))
    return user


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def _row(staff_client: Client, key: str, language: str) -> BotText:
    assert staff_client.get(CHANGELIST).status_code == 200  # the list makes a row for every text
    return BotText.objects.get(key=key, language=language)


def _save(staff_client: Client, row: BotText, text: str):
    return staff_client.post(reverse("admin:bot_bottext_change", args=[row.pk]), {"text": text, "_save": "Save"})


def _welcome(post_update, bot_api, user_id: int, language_code: str) -> str:
    post_update(message_update("/start", user_id=user_id, first_name="Ира", language_code=language_code))
    [reply] = [call.params["text"] for call in bot_api.calls_to("sendMessage") if call.params["chat_id"] == user_id]
    return reply


def test_every_text_has_one_key():
    found = [value for value in vars(static_text).values() if isinstance(value, static_text.Text)]
    found += [
        entry
        for value in vars(static_text).values()
        if isinstance(value, dict)
        for entry in value.values()
        if isinstance(entry, static_text.Text)
    ]
    catalogue = static_text.catalogue()
    assert len({id(text) for text in found}) == len(found) == len(catalogue), "one text under two names"
    for text in found:
        assert text.key and catalogue[text.key] is text
    assert {"WELCOME_NEW", "JOURNEY_STAGES.ordeal", "COMMAND_DESCRIPTIONS.start"} <= set(catalogue)
    assert static_text.ANSWER_IN_LANGUAGE not in catalogue.values(), "the model's instructions are not the users' texts"


@pytest.mark.parametrize("language", texts.text_languages())
def test_every_default_has_the_placeholders_of_its_text(language):
    """An override is checked against the English text's placeholders: each translation has the same."""
    for key in texts.text_keys():
        written = {"{" + name + "}" for _, name, _, _ in Formatter().parse(texts.default_text(key, language)) if name}
        assert written == set(texts.placeholders(key)), key


@pytest.mark.parametrize(("language", "other"), [("ru", "en"), ("en", "ru")])
def test_an_override_saved_in_the_admin_is_what_the_bot_sends_next(
    staff_client, staff, post_update, bot_api, language, other
):
    default = {"ru": RUSSIAN_WELCOME, "en": ENGLISH_WELCOME}
    assert _welcome(post_update, bot_api, 9101, language) == default[language].format(name="Ира")

    row = _row(staff_client, "WELCOME_NEW", language)
    response = _save(staff_client, row, f"  {OVERRIDES[language]}\r\n")
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.text, row.updated_by) == (OVERRIDES[language], staff)
    assert row.updated_at is not None

    assert _welcome(post_update, bot_api, 9102, language) == OVERRIDES[language].format(name="Ира")
    assert _welcome(post_update, bot_api, 9103, other) == default[other].format(name="Ира"), "only that language"

    assert _save(staff_client, row, "").status_code == 302
    assert _welcome(post_update, bot_api, 9104, language) == default[language].format(name="Ира")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Здравствуйте! Я ваш ИИ-собеседник.", "The placeholder {name} is missing"),
        ("Здравствуйте, {name}! Баланс: {balance}.", "Unknown placeholder {balance}: this text can use {name} only"),
        ("Здравствуйте, {name.__class__}!", "Unknown placeholder {name.__class__}"),
        ("Здравствуйте, {name}! :-}", "A brace is not closed or stands alone"),
        ("Здравствуйте, {name}! " + "а" * 4096, "At most 4096 characters"),
    ],
)
def test_an_override_the_bot_could_not_send_is_refused_on_the_field(staff_client, post_update, bot_api, text, error):
    row = _row(staff_client, "WELCOME_NEW", "ru")
    response = _save(staff_client, row, text)

    assert response.status_code == 200
    [message] = response.context["adminform"].form.errors["text"]
    assert message.startswith(error)
    assert error in response.content.decode()
    row.refresh_from_db()
    assert (row.text, row.updated_at) == ("", None)
    assert _welcome(post_update, bot_api, 9201, "ru") == RUSSIAN_WELCOME.format(name="Ира")


def test_a_text_without_placeholders_takes_no_braces(staff_client):
    row = _row(staff_client, "NEW_SESSION_STARTED", "ru")
    response = _save(staff_client, row, "Начнём заново. {Что} у вас на душе?")
    [error] = response.context["adminform"].form.errors["text"]
    assert error == "This text has no placeholders: remove the braces { }."


def test_the_list_shows_every_text_in_every_language_beside_its_default(staff_client):
    response = staff_client.get(CHANGELIST)
    rows = response.context["cl"].result_list
    assert {(row.key, row.language) for row in rows} == {
        (key, language) for key in texts.text_keys() for language in texts.text_languages()
    }
    page = response.content.decode()
    assert "С возвращением, {name}! Пишите, когда будете готовы." in page
    assert "Welcome back, {name}! Write to me whenever you are ready." in page

    russian = staff_client.get(CHANGELIST, {"language": "ru", "q": "с возвращением"}).context["cl"].result_list
    assert [(row.key, row.language) for row in russian] == [("WELCOME_BACK", "ru")]
    by_key = staff_client.get(CHANGELIST, {"q": "journey_stages.ordeal"}).context["cl"].result_list
    assert sorted((row.key, row.language) for row in by_key) == [
        ("JOURNEY_STAGES.ordeal", "en"),
        ("JOURNEY_STAGES.ordeal", "ru"),
    ]

    row = BotText.objects.get(key="BALANCE", language="ru")
    _save(staff_client, row, "Баланс: {balance} {unit}. Последние операции:")
    overridden = staff_client.get(CHANGELIST, {"overridden": "yes"}).context["cl"].result_list
    assert [(row.key, row.language) for row in overridden] == [("BALANCE", "ru")]
    assert row in staff_client.get(CHANGELIST, {"q": "Баланс: {balance}"}).context["cl"].result_list


def test_the_change_page_shows_the_default_and_the_placeholders_it_needs(staff_client):
    row = _row(staff_client, "PAYMENT_THANKS", "ru")
    response = staff_client.get(reverse("admin:bot_bottext_change", args=[row.pk]))
    page = response.content.decode()
    with translation.override("ru"):
        assert static_text.PAYMENT_THANKS.default() in page
    assert "<code>{credits}</code>, <code>{unit}</code>, <code>{balance}</code>" in page
    assert 'name="text"' in page and 'name="key"' not in page, "only the override is edited"
    assert "Add bot text" not in page and "Delete" not in page
    assert response.context["adminform"].form.initial["text"] == texts.default_text("PAYMENT_THANKS", "ru")

    form = response.context["adminform"].form
    assert _save(staff_client, row, form.initial["text"] + "\r\n").status_code == 302
    row.refresh_from_db()
    assert row.text == "", "the default saved as it is stays the default: it follows the code's"


def test_the_command_menu_is_registered_with_the_overrides(staff_client, bot_api):
    _save(staff_client, _row(staff_client, "COMMAND_DESCRIPTIONS.language", "ru"), "Сменить язык")
    call_command("set_webhook", "https://bot.example.com/telegram/webhook/", stdout=StringIO())
    menus = {call.params.get("language_code"): call.params["commands"] for call in bot_api.calls_to("setMyCommands")}
    russian = {command["command"]: command["description"] for command in menus["ru"]}
    default = {command["command"]: command["description"] for command in menus[None]}
    assert (russian["language"], default["language"]) == ("Сменить язык", "Choose the language")


def test_an_override_saved_in_one_process_reaches_a_worker_without_a_restart(
    start_worker, staff_client, post_update, bot_api
):
    """The worker loads the overrides once, then sees the version the save sets in Redis."""
    start_worker()

    def welcome(user_id: int) -> str:
        sent = len(bot_api.calls_to("sendMessage"))
        post_update(message_update("/start", user_id=user_id, first_name="Ира", language_code="ru"))
        call = bot_api.wait_for("sendMessage", count=sent + 1)[-1]
        assert call.params["chat_id"] == user_id
        return call.params["text"]

    assert welcome(9301) == RUSSIAN_WELCOME.format(name="Ира")
    row = _row(staff_client, "WELCOME_NEW", "ru")
    _save(staff_client, row, OVERRIDES["ru"])
    assert welcome(9302) == OVERRIDES["ru"].format(name="Ира")
    _save(staff_client, row, "")
    assert welcome(9303) == RUSSIAN_WELCOME.format(name="Ира")
