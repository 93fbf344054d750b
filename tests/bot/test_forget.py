"""/forget through the fake Telegram: the question says what goes and what stays, "Erase everything" leaves no
trace of the person but the receipt and the pseudonymised ledger, "Cancel" changes nothing, and a second press
or a redelivered one erases nobody else."""

import json
import time
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone, translation

from apps.billing.models import Operation, Subscription
from apps.bot import runtime, static_text
from apps.bot.admin.erase import user_records
from apps.bot.flows.forget import REASON
from apps.bot.keyboards import FORGET_CANCEL, FORGET_ERASE
from apps.bot.models import InboxStatus, InboxUpdate
from apps.users.models import ErasureReceipt, TelegramUser
from tests.factories import PaymentFactory, SubscriptionFactory, UserSessionFactory, UserWithBalanceFactory
from tests.helpers import callback_update, message_update

pytestmark = pytest.mark.django_db(transaction=True)

USER_ID = 987_650_123_457
USERNAME = "forgetful_olga"
PHRASE = "мой секретный сад на Оке"


def _in(language: str, text) -> str:
    with translation.override(language):
        return str(text)


def _plant(**user) -> TelegramUser:
    """A person with a balance, a payment, a conversation and an event: something to erase and a ledger to keep."""
    person = UserWithBalanceFactory(
        id=USER_ID,
        username=USERNAME,
        first_name="Ольга",
        credits="7.5",
        registration_date=timezone.now() - timedelta(days=1),
        **user,
    )
    UserSessionFactory(user=person, conversation_history=[{"role": "user", "content": PHRASE}])
    PaymentFactory(user=person, package__credits=100)
    return person


def _traces(*needles: str) -> list[str]:
    """The rows of every table whose values mention one of `needles`, as "app.model pk"."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        columns = [field.attname for field in model._meta.concrete_fields]
        for row in model._base_manager.values_list(*columns):
            text = json.dumps(row, ensure_ascii=False, default=str)
            if any(needle in text for needle in needles):
                found.append(f"{model._meta.label_lower} {row[0]}")
    return found


def _question(bot_api, user_id: int = USER_ID):
    [sent] = [call.params for call in bot_api.calls_to("sendMessage") if call.params["chat_id"] == user_id]
    return sent


def _edits(bot_api) -> list[str]:
    return [call.params["text"] for call in bot_api.calls_to("editMessageText")]


@pytest.mark.parametrize(
    ("language", "question", "kept", "balance"),
    [
        ("en", "Erase everything I know about you?\n\nErased: your name", "Kept: your payments", "(107.5 credits)"),
        (
            "ru",
            "Стереть всё, что я о вас знаю?\n\nБудут стёрты: ваше имя",
            "Останутся: ваши платежи",
            "(107,5 кредита)",
        ),
    ],
)
def test_forget_says_what_goes_and_what_stays_and_asks(post_update, bot_api, language, question, kept, balance):
    _plant()
    post_update(message_update("/forget", user_id=USER_ID, language_code=language))

    sent = _question(bot_api)
    assert sent["text"].startswith(question)
    assert f"{balance} " in sent["text"], "the balance they lose, in their words"
    assert kept in sent["text"]
    [buttons] = sent["reply_markup"]["inline_keyboard"]
    assert [(b["text"], b["callback_data"]) for b in buttons] == [
        (_in(language, static_text.FORGET_ERASE_BUTTON), FORGET_ERASE),
        (_in(language, static_text.FORGET_CANCEL_BUTTON), FORGET_CANCEL),
    ]
    assert TelegramUser.objects.filter(pk=USER_ID).exists() and not ErasureReceipt.objects.exists()


def test_a_subscription_that_would_go_on_charging_is_named_first(post_update, bot_api):
    SubscriptionFactory(user=_plant(), title="Monthly")
    post_update(message_update("/forget", user_id=USER_ID, language_code="ru"))
    assert "Ваша подписка «Monthly» продлится " in _question(bot_api)["text"]
    assert "при стирании она будет отменена, и Telegram перестанет списывать" in _question(bot_api)["text"]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_erase_everything_leaves_only_the_receipt_and_the_pseudonymised_ledger(post_update, bot_api, language):
    person = _plant(language_code=language)
    operations = Operation.objects.filter(user=person).count()
    post_update(message_update("/forget", user_id=USER_ID, language_code=language))
    post_update(callback_update(FORGET_ERASE, user_id=USER_ID, username=USERNAME, language_code=language))

    assert not TelegramUser.objects.filter(pk=USER_ID).exists()
    [receipt] = ErasureReceipt.objects.all()
    assert (receipt.via, receipt.reason, receipt.erased_by) == (ErasureReceipt.Via.USER, REASON, None)
    assert Operation.objects.filter(user_id=receipt.pseudonym_id).count() == operations
    assert _edits(bot_api) == [_in(language, static_text.FORGET_DONE)]
    assert len(bot_api.calls_to("answerCallbackQuery")) == 1
    # Nothing of the update that erased, before the handler or after it, names them: no activity, no reply.
    assert _traces(str(USER_ID), USERNAME, "Ольга", PHRASE) == []
    assert not InboxUpdate.objects.exclude(status=InboxStatus.DONE).exists()


def test_cancel_erases_nothing(post_update, bot_api):
    person = _plant()
    post_update(message_update("/forget", user_id=USER_ID))
    post_update(callback_update(FORGET_CANCEL, user_id=USER_ID))

    assert _edits(bot_api) == [str(static_text.FORGET_KEPT)]
    assert not ErasureReceipt.objects.exists()
    assert person.sessions.get().conversation_history[0]["content"] == PHRASE
    assert TelegramUser.objects.get(pk=USER_ID).erased_at is None


def test_a_second_press_or_a_redelivered_one_erases_nobody_else(post_update, bot_api):
    _plant()
    post_update(message_update("/forget", user_id=USER_ID))
    asked = int(time.time()) - 5  # when the question was sent
    press = callback_update(FORGET_ERASE, user_id=USER_ID, message_date=asked)
    post_update(press)
    post_update(callback_update(FORGET_ERASE, user_id=USER_ID, message_date=asked))  # pressed again meanwhile
    runtime.process_update(press)  # the erasing update processed again: its worker died before it was done
    post_update(callback_update(FORGET_ERASE, user_id=USER_ID, message_date=asked))

    assert ErasureReceipt.objects.count() == 1
    assert _edits(bot_api) == [str(static_text.FORGET_DONE)] * 4
    # The later presses registered the person anew, as any update from them would; nothing of the erased one.
    post_update(callback_update(FORGET_CANCEL, user_id=USER_ID + 1))
    assert {table for table, _ in user_records(USER_ID)} == {table for table, _ in user_records(USER_ID + 1)}
    assert _traces(USERNAME, PHRASE) == []


def test_a_confirmation_telegram_refuses_does_not_bring_the_person_back(post_update, bot_api):
    _plant()
    post_update(message_update("/forget", user_id=USER_ID))
    bot_api.fail_method("editMessageText", 400)
    post_update(callback_update(FORGET_ERASE, user_id=USER_ID))

    assert ErasureReceipt.objects.count() == 1
    assert set(InboxUpdate.objects.values_list("status", flat=True)) == {InboxStatus.DONE}, "nothing to replay"
    assert not TelegramUser.objects.filter(pk=USER_ID).exists()


def test_erasing_cancels_the_subscription_with_telegram_first(post_update, bot_api):
    subscription = SubscriptionFactory(user=_plant())
    post_update(message_update("/forget", user_id=USER_ID))
    post_update(callback_update(FORGET_ERASE, user_id=USER_ID))

    assert len(bot_api.calls_to("editUserStarSubscription")) == 1
    assert bot_api.star_subscriptions == {(USER_ID, subscription.charge_id): True}, "cancelled"
    [receipt] = ErasureReceipt.objects.all()
    subscription.refresh_from_db()
    assert (subscription.user_id, subscription.is_canceled) == (receipt.pseudonym_id, True), "recorded, then moved"
    assert _edits(bot_api) == [str(static_text.FORGET_DONE)]


@pytest.mark.parametrize(
    ("language", "try_again"),
    [("en", "nothing was erased. Please try again in a minute."), ("ru", "ничего не стёрто. Попробуйте")],
    ids=["en", "ru"],
)
def test_when_telegram_does_not_cancel_the_subscription_nothing_is_erased_and_they_may_press_again(
    post_update, bot_api, language, try_again
):
    subscription = SubscriptionFactory(user=_plant(language_code=language))
    post_update(message_update("/forget", user_id=USER_ID, language_code=language))
    bot_api.refuse_subscription_edits(USER_ID)
    post_update(callback_update(FORGET_ERASE, user_id=USER_ID, language_code=language))

    assert len(bot_api.calls_to("editUserStarSubscription")) == 1
    assert TelegramUser.objects.filter(pk=USER_ID).exists() and not ErasureReceipt.objects.exists()
    assert not Subscription.objects.get(pk=subscription.pk).is_canceled
    [edit] = bot_api.calls_to("editMessageText")
    assert try_again in edit.params["text"]
    [buttons] = edit.params["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for b in buttons] == [FORGET_ERASE, FORGET_CANCEL]

    bot_api.reset()  # a minute later, Telegram cancels it
    post_update(callback_update(FORGET_ERASE, user_id=USER_ID, language_code=language))
    assert len(bot_api.calls_to("editUserStarSubscription")) == 1
    assert ErasureReceipt.objects.count() == 1 and not TelegramUser.objects.filter(pk=USER_ID).exists()


@pytest.mark.parametrize(
    "subscription",
    [
        None,
        {"is_canceled": True, "canceled_at": timezone.now()},
        {"expires_at": timezone.now() - timedelta(days=2), "lapsed_at": timezone.now()},
    ],
    ids=["none", "canceled", "lapsed"],
)
def test_without_a_renewing_subscription_telegram_is_not_asked(post_update, bot_api, subscription):
    person = _plant()
    if subscription is not None:
        SubscriptionFactory(user=person, **subscription)
    post_update(message_update("/forget", user_id=USER_ID))
    post_update(callback_update(FORGET_ERASE, user_id=USER_ID))

    assert not bot_api.calls_to("editUserStarSubscription")
    assert ErasureReceipt.objects.count() == 1 and not TelegramUser.objects.filter(pk=USER_ID).exists()
