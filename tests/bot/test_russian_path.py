"""Done when a Russian-speaking user's whole path is in Russian: /start, a chat message, /balance, the top-up
offer with /buy and its invoice, the payment's thanks, /help and a command the bot does not know. Every text
the bot sends (messages, drafts, buttons, the invoice) is the Russian catalogue's, none is an English text of
apps.bot.static_text, and the model is asked to answer in Russian."""

import re
import time
from decimal import Decimal

import pytest
from django.utils import formats, timezone, translation

from apps.billing.models import CreditPackage, Operation, OperationType
from apps.bot import static_text
from apps.bot.static_text import Text
from apps.llm.models import BotPersona
from tests.fakes.openai import Answer
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)

IVAN = 4_242_001
PERSON = {"id": IVAN, "is_bot": False, "first_name": "Иван", "language_code": "ru"}
CHAT = {"id": IVAN, "type": "private", "first_name": "Иван"}
_ids = iter(range(9_420_000, 9_430_000))


def _say(post_update, text: str) -> None:
    post_update(message_update(text, user_id=IVAN, first_name="Иван", language_code="ru"))


def _press(post_update, data: str) -> None:
    message = {"message_id": 5, "date": int(time.time()), "chat": CHAT, "text": "?"}
    query = {"id": str(next(_ids)), "from": PERSON, "message": message, "chat_instance": "1", "data": data}
    post_update({"update_id": next(_ids), "callback_query": query})


def _pay(post_update, payload: str, stars: int) -> None:
    query = {"id": "pcq", "from": PERSON, "currency": "XTR", "total_amount": stars, "invoice_payload": payload}
    post_update({"update_id": next(_ids), "pre_checkout_query": query})
    paid = {"currency": "XTR", "total_amount": stars, "invoice_payload": payload,
            "telegram_payment_charge_id": "ivan-1", "provider_payment_charge_id": ""}  # fmt: skip
    message = {"message_id": next(_ids), "date": int(time.time()), "from": PERSON, "chat": CHAT}
    post_update({"update_id": next(_ids), "message": {**message, "successful_payment": paid}})


def _english_texts() -> list[str]:
    """Every English text the bot has (static_text's Texts, in dicts too, and its plurals' English forms)."""
    values = vars(static_text).values()
    texts = [value for value in values if isinstance(value, Text)]
    texts += [text for value in values if isinstance(value, dict) for text in value.values() if isinstance(text, Text)]
    plurals = [static_text.answers_charged(n) for n in (1, 2)] + [
        static_text.voice_messages_transcribed(n) for n in (1, 2)
    ]
    with translation.override("en"):
        return [str.__str__(text) for text in texts] + plurals


def _pattern(english: str) -> re.Pattern | None:
    """The English text with anything in its placeholders; None when it has no English word of its own."""
    fixed = re.split(r"\{\w*\}", english)
    if not re.search(r"[A-Za-z]{2,}", "".join(fixed)):
        return None
    return re.compile(".*".join(re.escape(part) for part in fixed), re.DOTALL)


def _shown(bot_api) -> list[str]:
    """What the user reads: every message, draft and edit, every button, the invoice's description."""
    texts = []
    for call in bot_api.calls:
        params = call.params
        if "text" in params:
            texts.append(params["text"])
        markup = params.get("reply_markup") or {}
        texts += [button["text"] for row in markup.get("inline_keyboard", []) for button in row]
        if call.method == "sendInvoice":
            texts.append(params["description"])
    return texts


def test_a_russian_speaking_users_whole_path_is_in_russian(post_update, bot_api, llm_api, settings):
    settings.BILLING_TRIAL_CREDITS = Decimal(20)
    llm_api.then(
        Answer(text="Мне жаль, что вам грустно. Расскажите, что случилось?",
               usage={"prompt_tokens": 1200, "completion_tokens": 300})
    )  # fmt: skip
    starter = CreditPackage.objects.get(title="Starter")  # 100 credits for 50 Stars

    _say(post_update, "/start")
    _say(post_update, "Привет, мне грустно")
    _say(post_update, "/balance")
    _say(post_update, "/buy")
    _press(post_update, f"buy:{starter.pk}")
    [invoice] = bot_api.calls_to("sendInvoice")
    _pay(post_update, invoice.params["payload"], starter.stars)
    _say(post_update, "/help")
    _say(post_update, "/погода")

    messages = [call.params["text"] for call in bot_api.calls_to("sendMessage")]
    welcome, answer, balance, packages, thanks, help_, unknown = messages
    assert welcome == "Здравствуйте, Иван! Я ваш ИИ-собеседник. Напишите мне обо всём, что у вас на душе, — я отвечу."
    assert answer == "Мне жаль, что вам грустно. Расскажите, что случилось?"
    charged = Operation.objects.get(user_id=IVAN, type=OperationType.GENERATION)
    gift = Operation.objects.get(user_id=IVAN, type=OperationType.BONUS)
    assert balance.splitlines() == [
        "На вашем балансе 19,89 кредита. Последние операции:",
        f"Сегодня в {_time(charged)} — 1 ответ: −0,11 кредита",
        f"Сегодня в {_time(gift)} — бонус: +20 кредитов",
    ]
    assert packages == "Выберите пакет. Оплата — звёздами Telegram."
    assert invoice.params["description"] == "100 кредитов на ваш баланс"
    assert thanks == "Спасибо! Баланс пополнен на 100, теперь на нём 119,89 кредита."
    assert help_.startswith("Я ваш ИИ-собеседник: напишите мне обо всём, что у вас на душе, — текстом или голосовым")
    assert "/help — Что я умею и ваш баланс" in help_.splitlines()
    assert help_.endswith("На вашем балансе 119,89 кредита. Чтобы пополнить его, нажмите кнопку ниже или отправьте "
                          "/buy — оплата звёздами Telegram.")  # fmt: skip
    assert (
        unknown
        == "Такой команды я не знаю. Просто напишите мне своими словами или загляните в /help — там всё, что я умею."
    )
    buttons = [text for text in _shown(bot_api) if text not in messages]
    assert "Пополнить" in buttons and "Starter: 100 кредитов за 50 ⭐" in buttons

    shown = _shown(bot_api)
    patterns = [pattern for text in _english_texts() if (pattern := _pattern(text))]
    english = [text for text in shown if any(pattern.search(text) for pattern in patterns)]
    assert english == [], "an English text reached a Russian-speaking user"
    assert all(re.search("[а-яё]", text, re.IGNORECASE) for text in shown), "every text the user reads is Russian"
    # The invoice's title and price label are the package's name, as staff wrote it (not a text of the bot's).
    assert (invoice.params["title"], invoice.params["prices"]) == ("Starter", [{"label": "Starter", "amount": 50}])

    [request] = llm_api.requests
    system = request["messages"][0]
    persona = BotPersona.objects.get(is_active=True).system_prompt
    assert system["role"] == "system"
    assert system["content"] == f"{persona}\n\n{static_text.ANSWER_IN_LANGUAGE.format(language='Russian')}"
    assert "answer in Russian" in system["content"]


def _time(operation: Operation) -> str:
    with translation.override("ru"):
        return formats.time_format(timezone.localtime(operation.created_at))
