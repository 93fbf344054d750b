"""The bot speaks the user's language: Russian for ru, uk, be and kk, English for everyone else, or the one
chosen with /language; its menu is registered per language."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from apps.bot import static_text
from apps.bot.keyboards import LANGUAGE_PREFIX
from apps.bot.language import language_for_code, user_language
from apps.core.money import credits_phrase
from apps.llm.models import BotPersona
from apps.users.models import TelegramUser
from tests.factories import UserWithBalanceFactory
from tests.fakes.openai import Answer
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)


def _replies(bot_api, chat_id: int) -> list[str]:
    return [call.params["text"] for call in bot_api.calls_to("sendMessage") if call.params["chat_id"] == chat_id]


def _in(language: str, text) -> str:
    with translation.override(language):
        return str(text)


def _press(user_id: int, data: str, update_id: int) -> dict:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": {"id": user_id, "is_bot": False, "first_name": "Olga", "language_code": "en"},
            "message": {"message_id": 5, "date": 0, "chat": {"id": user_id, "type": "private"}, "text": "?"},
            "chat_instance": "1",
            "data": data,
        },
    }


@pytest.mark.parametrize(
    ("code", "language"),
    [("ru", "ru"), ("uk", "ru"), ("be", "ru"), ("kk", "ru"), ("ru-RU", "ru"), ("en", "en"), ("de", "en"), ("", "en")],
)
def test_telegram_language_codes_map_to_the_bots_languages(code, language):
    assert language_for_code(code) == language


def test_start_from_a_russian_and_from_an_english_user(post_update, bot_api):
    post_update(message_update("/start", user_id=801, first_name="Иван", language_code="ru"))
    post_update(message_update("/start", user_id=802, first_name="Anna", language_code="en"))
    post_update(message_update("/start", user_id=803, first_name="Hans", language_code="de"))

    [russian] = _replies(bot_api, 801)
    assert russian == "Здравствуйте, Иван! Я ваш ИИ-собеседник. Напишите мне обо всём, что у вас на душе, — я отвечу."
    assert _replies(bot_api, 802) == [static_text.WELCOME_NEW.format(name="Anna")]
    assert _replies(bot_api, 803) == ["Hello, Hans! I am your AI companion. Write to me about anything that is on "
                                      "your mind, and I will answer."]  # fmt: skip


def test_a_russian_users_path_is_in_russian(post_update, bot_api, reference_data):
    user = UserWithBalanceFactory(credits=0, language_code="ru")
    post_update(message_update("/start", user_id=user.id, language_code="ru"))
    post_update(message_update("Привет, мне грустно", user_id=user.id, language_code="ru"))
    post_update(message_update("/balance", user_id=user.id, language_code="ru"))
    post_update(message_update("/buy", user_id=user.id, language_code="ru"))

    welcome_back, topup, balance, packages = _replies(bot_api, user.id)
    assert welcome_back.startswith("С возвращением")
    assert topup.startswith("На вашем балансе 0 кредитов, а ответ может стоить до ")
    assert "Пополните баланс, чтобы продолжить" in topup
    assert balance.startswith("На вашем балансе 0 кредитов.")
    assert packages == "Выберите пакет. Оплата — звёздами Telegram."
    keyboards = [call.params.get("reply_markup") for call in bot_api.calls_to("sendMessage")]
    labels = [button["text"] for markup in keyboards if markup for row in markup["inline_keyboard"] for button in row]
    assert "Пополнить" in labels
    assert "Starter: 100 кредитов за 50 ⭐" in labels


def test_language_is_chosen_with_a_button_and_kept(post_update, bot_api):
    post_update(message_update("/start", user_id=804, first_name="Olga", language_code="en"))
    post_update(message_update("/language", user_id=804, language_code="en"))
    prompt = bot_api.calls_to("sendMessage")[-1]
    assert prompt.params["text"] == static_text.LANGUAGE_CHOOSE
    buttons = [row[0] for row in prompt.params["reply_markup"]["inline_keyboard"]]
    assert [(b["text"], b["callback_data"]) for b in buttons] == [
        ("English", f"{LANGUAGE_PREFIX}en"),
        ("Русский", f"{LANGUAGE_PREFIX}ru"),
    ]

    post_update(_press(804, f"{LANGUAGE_PREFIX}ru", update_id=991_001))
    assert bot_api.calls_to("editMessageText")[-1].params["text"] == "Готово: теперь я говорю с вами по-русски."
    assert TelegramUser.objects.get(pk=804).bot_language == "ru"
    assert user_language(804, "en") == "ru", "the choice wins over the app's language"

    post_update(message_update("/start", user_id=804, first_name="Olga", language_code="en"))
    assert _replies(bot_api, 804)[-1] == "С возвращением, Olga! Пишите, когда будете готовы."

    post_update(_press(804, f"{LANGUAGE_PREFIX}en", update_id=991_002))
    assert bot_api.calls_to("editMessageText")[-1].params["text"] == "Done: from now on I speak English with you."
    post_update(_press(804, f"{LANGUAGE_PREFIX}xx", update_id=991_003))
    assert TelegramUser.objects.get(pk=804).bot_language == "en", "a language the bot does not speak is ignored"


def test_the_model_is_told_the_users_language(post_update, bot_api, llm_api):
    llm_api.then(Answer(text="Расскажите подробнее."), Answer(text="Tell me more."))
    russian = UserWithBalanceFactory(credits=10)
    english = UserWithBalanceFactory(credits=10)
    post_update(message_update("Мне грустно", user_id=russian.id, language_code="ru"))
    post_update(message_update("I am sad", user_id=english.id, language_code="en"))

    prompt = BotPersona.objects.get(is_active=True).system_prompt
    to_russian, to_english = (request["messages"][0]["content"] for request in llm_api.requests)
    assert to_russian == f"{prompt}\n\n{static_text.ANSWER_IN_LANGUAGE.format(language='Russian')}"
    assert to_english == prompt, "English is every untranslated language's too: the model mirrors the user"
    assert _replies(bot_api, russian.id) == ["Расскажите подробнее."]


def test_commands_are_registered_per_language(bot_api):
    call_command("set_webhook", "https://bot.example.com/telegram/webhook/", stdout=StringIO())
    menus = {call.params.get("language_code"): call.params["commands"] for call in bot_api.calls_to("setMyCommands")}
    assert set(menus) == {None, "ru"}
    default = {command["command"]: command["description"] for command in menus[None]}
    russian = {command["command"]: command["description"] for command in menus["ru"]}
    assert set(default) == set(russian) >= {"start", "new", "balance", "buy", "language"}
    assert default["language"] == "Choose the language" and russian["language"] == "Выбрать язык"

    bot_api.reset()
    call_command("run_polling", "--once", "--timeout", "0", stdout=StringIO())
    assert len(bot_api.calls_to("setMyCommands")) == 2


@pytest.mark.parametrize(
    ("amount", "english", "russian"),
    [
        ("19.99", "19.99 credits", "19,99 кредита"),
        ("1", "1 credit", "1 кредит"),
        ("3", "3 credits", "3 кредита"),
        ("5", "5 credits", "5 кредитов"),
        ("21", "21 credits", "21 кредит"),
        ("100.0000", "100 credits", "100 кредитов"),
        ("12.5", "12.5 credits", "12,5 кредита"),
        ("0.1669", "0.17 credits", "0,17 кредита"),
    ],
)
def test_amounts_read_as_people_read_them(amount, english, russian):
    assert _in("en", _Phrase(amount)) == english
    assert _in("ru", _Phrase(amount)) == russian


class _Phrase:
    def __init__(self, amount: str) -> None:
        self.amount = Decimal(amount)

    def __str__(self) -> str:
        return credits_phrase(self.amount)
