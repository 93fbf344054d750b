"""/help, the answer to a command the bot does not know, and /balance in people's terms: the operations a
user understands (top-ups, answers, refunds, bonuses, adjustments), never the holds taken while an answer
is written; answers charged in a row on one day read as one line."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import formats, timezone, translation

from apps.billing.models import Operation, OperationType
from apps.billing.selectors import StatementEntry, StatementKind, user_statement
from apps.billing.services import add_to_balance, billing_release, billing_reserve, billing_settle, ledger_apply
from apps.bot import static_text
from apps.bot.flows.account import statement_line
from apps.bot.keyboards import BUY_MENU
from apps.bot.menu import menu
from apps.llm.models import RequestType
from tests.factories import LLMRequestFactory, PaymentFactory, UserWithBalanceFactory
from tests.fakes.openai import Answer
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)

# An answer of 1,200 + 300 tokens on gpt-4o-mini costs $0.00036: 0.108 credits at the default markup (3×).
USAGE = {"prompt_tokens": 1200, "completion_tokens": 300}
CHARGE = Decimal("0.12")  # what the statements below settle an answer at
NOW = timezone.now()


def _sent(bot_api, chat_id: int) -> list[dict]:
    return [call.params for call in bot_api.calls_to("sendMessage") if call.params["chat_id"] == chat_id]


def _in(language: str, text) -> str:
    with translation.override(language):
        return str(text)


def _time(at, language: str) -> str:
    with translation.override(language):
        return formats.time_format(timezone.localtime(at))


def _charge(user_id: int, amount: Decimal = CHARGE, *, llm_request_id: int | None = None) -> None:
    """An answer paid for as the chat turn pays: a hold, then settled to what it cost."""
    billing_settle(
        reserve=billing_reserve(user_id=user_id, amount=Decimal(1)), charge=amount, llm_request_id=llm_request_id
    )


# --- /help ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "balance", "first_line"),
    [
        ("en", "12.5 credits", "I am your AI companion: write to me about anything on your mind"),
        ("ru", "12,5 кредита", "Я ваш ИИ-собеседник: напишите мне обо всём, что у вас на душе"),
    ],
)
def test_help_says_what_the_bot_does_its_commands_the_balance_and_how_to_top_up(
    post_update, bot_api, language, balance, first_line
):
    user = UserWithBalanceFactory(credits="12.5")
    post_update(message_update("/help", user_id=user.id, language_code=language))

    [help_] = _sent(bot_api, user.id)
    text = help_["text"]
    assert text.startswith(first_line)
    listed = [line for line in text.splitlines() if line.startswith("/")]
    assert listed == [f"/{command.command} — {command.description}" for command in menu(language)]
    assert {
        "/start",
        "/new",
        "/balance",
        "/buy",
        "/subscription",
        "/journey",
        "/language",
        "/mydata",
        "/forget",
        "/help",
    } == {line.split(" ")[0] for line in listed}
    assert f" {balance}. " in text
    assert "/buy" in text.split("\n\n")[-1], "how to top up"
    [[button]] = help_["reply_markup"]["inline_keyboard"]
    assert button == {"text": _in(language, static_text.BUY_BUTTON), "callback_data": BUY_MENU}


def test_help_is_in_the_command_menu_in_every_language(bot_api):
    call_command("set_webhook", "https://bot.example.com/telegram/webhook/", stdout=StringIO())
    menus = {call.params.get("language_code"): call.params["commands"] for call in bot_api.calls_to("setMyCommands")}
    helps = {
        language: [c["description"] for c in commands if c["command"] == "help"] for language, commands in menus.items()
    }
    assert helps == {None: ["What I can do, and your balance"], "ru": ["Что я умею и ваш баланс"]}


# --- commands the bot does not know -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "I do not know that command. Just write to me in your own words, or see /help for what I can do."),
        (
            "ru",
            "Такой команды я не знаю. Просто напишите мне своими словами или загляните в /help — там всё, что я умею.",
        ),
    ],
)
def test_an_unknown_command_is_answered_once_with_a_pointer_to_help(post_update, bot_api, llm_api, language, expected):
    user = UserWithBalanceFactory(credits=10)
    post_update(message_update("/weather tomorrow", user_id=user.id, language_code=language))

    assert [sent["text"] for sent in _sent(bot_api, user.id)] == [expected]
    assert not llm_api.requests, "a command is not a message for the model"
    assert Operation.objects.filter(user=user).count() == 1, "nothing held or charged"


@pytest.mark.parametrize("command", ["/start", "/new", "/balance", "/buy", "/journey", "/language", "/help", "/stats"])
def test_a_known_command_is_answered_once_and_never_as_unknown(post_update, bot_api, reference_data, command):
    user = UserWithBalanceFactory(credits=10)
    post_update(message_update(command, user_id=user.id))

    [sent] = _sent(bot_api, user.id)
    unknown = sent["text"] == static_text.UNKNOWN_COMMAND
    assert unknown == (command == "/stats"), "/stats is unknown to all but the bot's admins"


def test_an_edited_command_and_a_command_in_a_group_are_not_answered(post_update, bot_api):
    user = UserWithBalanceFactory(credits=10)
    edited = message_update("/weather", user_id=user.id)
    edited["edited_message"] = edited.pop("message")
    post_update(edited)
    in_group = message_update("/weather", user_id=user.id)
    in_group["message"]["chat"] = {"id": -100_200, "type": "group", "title": "Friends"}
    post_update(in_group)

    assert bot_api.calls_to("sendMessage") == []


# --- /balance -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "head", "answer", "adjustment"),
    [
        ("en", "Your balance: 9.89 credits. Latest operations:", "Today at {time} — 1 answer: −0.11 credits",
         "Today at {time} — balance adjustment: +10 credits"),
        ("ru", "На вашем балансе 9,89 кредита. Последние операции:", "Сегодня в {time} — 1 ответ: −0,11 кредита",
         "Сегодня в {time} — корректировка баланса: +10 кредитов"),
    ],
)  # fmt: skip
def test_balance_after_an_answer_shows_the_answer_and_not_its_hold(
    post_update, bot_api, llm_api, language, head, answer, adjustment
):
    user = UserWithBalanceFactory(credits=10)
    llm_api.then(Answer(text="Sure.", usage=USAGE))
    post_update(message_update("Hello", user_id=user.id, language_code=language))
    post_update(message_update("/balance", user_id=user.id, language_code=language))

    types = list(Operation.objects.filter(user=user).order_by("id").values_list("type", flat=True))
    assert types == [OperationType.ADJUSTMENT, OperationType.RESERVE, OperationType.RELEASE, OperationType.GENERATION]
    generation = Operation.objects.get(user=user, type=OperationType.GENERATION)
    adjusted = Operation.objects.get(user=user, type=OperationType.ADJUSTMENT)
    statement = _sent(bot_api, user.id)[-1]
    assert statement["text"].splitlines() == [
        head,
        answer.format(time=_time(generation.created_at, language)),
        adjustment.format(time=_time(adjusted.created_at, language)),
    ]
    assert statement["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == BUY_MENU


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Your balance: 0 credits. No operations yet."),
        ("ru", "На вашем балансе 0 кредитов. Операций пока не было."),
    ],
)
def test_balance_of_a_user_without_operations(post_update, bot_api, settings, language, expected):
    settings.BILLING_TRIAL_CREDITS = Decimal(0)
    post_update(message_update("/balance", user_id=4_101, language_code=language))
    assert [sent["text"] for sent in _sent(bot_api, 4_101)] == [expected]


RUSSIAN_MONTHS = "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split()


def _days_ago(user_id: int, days: int, *, after_id: int = 0) -> timezone.datetime:
    """Move the user's operations after `after_id` back by `days`; returns their new time."""
    at = timezone.now() - timedelta(days=days)
    Operation.objects.filter(user_id=user_id, id__gt=after_id).update(created_at=at)
    return at


def _last_id(user_id: int) -> int:
    return Operation.objects.filter(user_id=user_id).latest("id").id


def test_a_russian_statement_groups_answers_by_day_and_hides_holds(post_update, bot_api, settings):
    """A Russian-speaking user's statement after some days of use: a bonus, answers on two days split by a
    top-up, an answer that failed (its hold released whole) nowhere."""
    settings.BILLING_TRIAL_CREDITS = Decimal(0)
    user = UserWithBalanceFactory(credits=0)
    add_to_balance(user.id, Decimal(20), operation_type=OperationType.BONUS, reason="trial credit")
    long_ago = _days_ago(user.id, 10)
    mark = _last_id(user.id)
    for _ in range(3):
        _charge(user.id)
    PaymentFactory(user=user)  # 100 credits for 50 Stars
    yesterday = _days_ago(user.id, 1, after_id=mark)
    for number in range(12):
        _charge(user.id, Decimal("0.2"))
        if number == 5:
            billing_release(reserve=billing_reserve(user_id=user.id, amount=Decimal(1)))  # the LLM failed

    post_update(message_update("/balance", user_id=user.id, language_code="ru"))

    day = f"{long_ago.day} {RUSSIAN_MONTHS[long_ago.month - 1]}"
    if long_ago.year != timezone.localdate().year:
        day += f" {long_ago.year}"
    [text] = [sent["text"] for sent in _sent(bot_api, user.id)]
    assert text.splitlines() == [
        "На вашем балансе 117,24 кредита. Последние операции:",
        "Сегодня — 12 ответов: −2,4 кредита",
        f"Вчера в {_time(yesterday, 'ru')} — пополнение за 50 ⭐: +100 кредитов",
        "Вчера — 3 ответа: −0,36 кредита",
        f"{day} в {_time(long_ago, 'ru')} — бонус: +20 кредитов",
    ]


def test_the_statement_is_what_users_understand_at_most_five_entries(settings):
    settings.BILLING_TRIAL_CREDITS = Decimal(0)
    user = UserWithBalanceFactory(credits=5)  # an adjustment by staff
    for _ in range(4):
        _charge(user.id)
    payment = PaymentFactory(user=user, package__credits=Decimal(10), package__stars=25)
    ledger_apply(user_id=user.id, type=OperationType.REFUND, amount=-payment.credits, payment_id=payment.pk)
    ledger_apply(user_id=user.id, type=OperationType.REFUND, amount=payment.credits, payment_id=payment.pk)
    heard = LLMRequestFactory(user=user, request_type=RequestType.TRANSCRIPTION)
    _charge(user.id, Decimal("0.01"), llm_request_id=heard.pk)  # a voice message heard, then answered
    _charge(user.id)
    _charge(user.id, Decimal("0.01"), llm_request_id=heard.pk)  # one heard, not answered

    entries = user_statement(user.id)

    assert [(e.kind, e.amount, e.answers, e.heard, e.stars) for e in entries] == [
        (StatementKind.ANSWERS, Decimal("-0.14"), 1, 2, None),
        (StatementKind.REFUND_UNDONE, Decimal(10), 0, 0, 25),
        (StatementKind.REFUND, Decimal(-10), 0, 0, 25),
        (StatementKind.TOPUP, Decimal(10), 0, 0, 25),
        (StatementKind.ANSWERS, Decimal("-0.48"), 4, 0, None),
    ], "five entries: the staff's adjustment is the sixth"
    assert user_statement(user.id, limit=7)[-1].kind == StatementKind.ADJUSTMENT
    assert all(isinstance(e, StatementEntry) for e in entries)


@pytest.mark.parametrize(
    ("entry", "english", "russian"),
    [
        (StatementEntry(StatementKind.TOPUP, Decimal(100), NOW, stars=50),
         "Today at {time} — top-up for 50 ⭐: +100 credits", "Сегодня в {time} — пополнение за 50 ⭐: +100 кредитов"),
        (StatementEntry(StatementKind.TOPUP, Decimal(1), NOW),
         "Today at {time} — top-up: +1 credit", "Сегодня в {time} — пополнение: +1 кредит"),
        (StatementEntry(StatementKind.REFUND, Decimal(-21), NOW, stars=10),
         "Today at {time} — refund of 10 ⭐: −21 credits", "Сегодня в {time} — возврат 10 ⭐: −21 кредит"),
        (StatementEntry(StatementKind.REFUND, Decimal(-3), NOW),
         "Today at {time} — payment refunded: −3 credits", "Сегодня в {time} — возврат оплаты: −3 кредита"),
        (StatementEntry(StatementKind.REFUND_UNDONE, Decimal(5), NOW, stars=10),
         "Today at {time} — refund cancelled: +5 credits", "Сегодня в {time} — возврат отменён: +5 кредитов"),
        (StatementEntry(StatementKind.BONUS, Decimal("0.5"), NOW),
         "Today at {time} — bonus: +0.5 credits", "Сегодня в {time} — бонус: +0,5 кредита"),
        (StatementEntry(StatementKind.ADJUSTMENT, Decimal(-2), NOW),
         "Today at {time} — balance adjustment: −2 credits", "Сегодня в {time} — корректировка баланса: −2 кредита"),
        (StatementEntry(StatementKind.ANSWERS, Decimal("-0.0012"), NOW, answers=1),
         "Today at {time} — 1 answer: −0.0012 credits", "Сегодня в {time} — 1 ответ: −0,0012 кредита"),
        (StatementEntry(StatementKind.ANSWERS, Decimal("-3.4"), NOW, answers=21, heard=2),
         "Today — 21 answers: −3.4 credits", "Сегодня — 21 ответ: −3,4 кредита"),
        (StatementEntry(StatementKind.ANSWERS, Decimal("-0.02"), NOW, heard=2),
         "Today — 2 voice messages transcribed: −0.02 credits",
         "Сегодня — 2 голосовых сообщения расшифровано: −0,02 кредита"),
    ],
)  # fmt: skip
def test_each_kind_of_entry_reads_as_people_say_it(entry, english, russian):
    for language, expected in (("en", english), ("ru", russian)):
        with translation.override(language):
            assert statement_line(entry) == expected.format(time=_time(entry.at, language))
