"""Payments never wait behind chat (DESIGN, "The way an update travels", 6), on the PostgreSQL + Redis leg
with real worker processes: a chat worker (`-Q celery`) and a payments worker (`-Q payments`), as the
README runs them. With 1,000 chat messages queued ahead, each answered by an LLM that takes 500 ms, a
pre_checkout_query is answered within 2 s of reaching the webhook (Telegram gives 10 s), and the
successful_payment that follows is credited and thanked for within seconds: neither waits for the chat."""

import os
import time

import pytest
import redis

from apps.billing.models import CreditPackage, Operation, OperationType, Payment
from apps.billing.services import get_user_balance, invoice_payload
from apps.bot.models import InboxStatus, InboxUpdate
from apps.bot.services import inbox_flush_enqueued, inbox_sweep
from apps.users.models import TelegramUser
from tests.fakes.openai import Answer
from tests.helpers import message_update, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

CHATS_AHEAD = 1000
LLM_SECONDS = 0.5
PAYER = 880_001
_ids = iter(range(88_000_000, 89_000_000))


def pre_checkout_update(user_id: int, payload: str, amount: int) -> dict:
    return {
        "update_id": next(_ids),
        "pre_checkout_query": {
            "id": f"pcq-{next(_ids)}",
            "from": {"id": user_id, "is_bot": False, "first_name": "Payer"},
            "currency": "XTR",
            "total_amount": amount,
            "invoice_payload": payload,
        },
    }


def payment_update(user_id: int, payload: str, amount: int, charge_id: str) -> dict:
    return {
        "update_id": next(_ids),
        "message": {
            "message_id": next(_ids),
            "date": int(time.time()),
            "from": {"id": user_id, "is_bot": False, "first_name": "Payer"},
            "chat": {"id": user_id, "type": "private", "first_name": "Payer"},
            "successful_payment": {
                "currency": "XTR",
                "total_amount": amount,
                "invoice_payload": payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "",
            },
        },
    }


def _done(update_id: int) -> bool:
    return InboxUpdate.objects.filter(pk=update_id, status=InboxStatus.DONE).exists()


def test_a_pre_checkout_behind_a_thousand_chats_is_answered_within_two_seconds(
    start_worker, post_update, bot_api, llm_api
):
    llm_api.then(*[Answer(delay=LLM_SECONDS) for _ in range(CHATS_AHEAD + 10)])
    env = {"BOTDESK_TEST_OPENAI_URL": llm_api.base_url}
    start_worker(CELERY_WORKER_QUEUES="celery", **env)  # click reads --queues from CELERY_WORKER_QUEUES
    start_worker(CELERY_WORKER_QUEUES="payments", **env)
    package = CreditPackage.objects.get(title="Starter")  # 100 credits for 50 Stars

    # Both workers warm (their bot built, their connections open), as in production.
    for update in [message_update("/start", user_id=PAYER), message_update("hello", user_id=PAYER + 1)]:
        post_update(update)
        wait_until(lambda update=update: _done(update["update_id"]))
    update = pre_checkout_update(PAYER, invoice_payload(package=package, user_id=PAYER), 50)
    post_update(update)
    wait_until(lambda: _done(update["update_id"]))

    for n in range(CHATS_AHEAD):
        post_update(message_update(f"question {n}", user_id=PAYER + 10 + n))
    assert inbox_flush_enqueued(timeout=30)
    queued = redis.Redis.from_url(os.environ["REDIS_URL"]).llen("celery")  # chat's queue, Celery's default
    assert queued >= CHATS_AHEAD - 50, f"only {queued} chat messages queued ahead"

    payload = invoice_payload(package=package, user_id=PAYER)
    sent = time.monotonic()
    post_update(pre_checkout_update(PAYER, payload, 50))
    answer = bot_api.wait_for("answerPreCheckoutQuery", count=2, timeout=30)[-1]
    waited = answer.at - sent
    print(f"\npre_checkout_query answered {waited:.3f} s after the webhook received it, {queued} chats ahead")
    assert answer.params["ok"] is True
    assert waited <= 2.0, f"answerPreCheckoutQuery came {waited:.1f} s after the webhook POST"

    sent = time.monotonic()
    post_update(payment_update(PAYER, payload, 50, "charge-behind-chat"))
    payment = wait_until(lambda: Payment.objects.filter(thanked_at__isnull=False).first(), timeout=10)
    print(f"successful_payment credited and thanked {time.monotonic() - sent:.3f} s after the webhook received it")
    assert (payment.telegram_payment_charge_id, payment.credits) == ("charge-behind-chat", 100)
    assert time.monotonic() - sent <= 5.0
    # The chat was still waiting: the payments went past it, not after it.
    assert InboxUpdate.objects.filter(status=InboxStatus.PENDING).count() >= CHATS_AHEAD // 2


def test_a_worker_killed_before_the_thanks_was_confirmed_thanks_once_on_redelivery(
    start_worker, post_update, bot_api, reference_data, settings
):
    """The payments worker credits the payment and dies while its thanks is on the way. The sweeper hands
    the update to the payments queue again: nothing is credited twice, and the user is thanked (today's
    code stayed silent: the payment was credited, so the redelivery thought it had been thanked)."""
    TelegramUser.objects.create(id=PAYER + 2, username="payer")
    payload = invoice_payload(package=CreditPackage.objects.get(title="Starter"), user_id=PAYER + 2)
    worker = start_worker(CELERY_WORKER_QUEUES="payments")
    bot_api.delay("sendMessage", 60)  # the thanks hangs: the worker is between crediting and thanking
    paid = payment_update(PAYER + 2, payload, 50, "charge-killed")
    post_update(paid)
    bot_api.wait_for("sendMessage")
    assert get_user_balance(PAYER + 2) == 100

    worker.kill()
    bot_api.delay("sendMessage", 0)
    start_worker(CELERY_WORKER_QUEUES="payments")  # only the payments queue: the sweeper must route there
    settings.INBOX_STALE_AFTER = settings.INBOX_STALE_AFTER * 0
    assert inbox_sweep() == 1
    wait_until(lambda: _done(paid["update_id"]))

    assert get_user_balance(PAYER + 2) == 100
    assert Operation.objects.filter(user_id=PAYER + 2, type=OperationType.PAYMENT).count() == 1
    thanks = [call.status for call in bot_api.calls_to("sendMessage") if "added" in call.params["text"]]
    assert thanks == [0, 200], "the killed attempt's thanks never got an answer; the second one did"
    assert Payment.objects.get(telegram_payment_charge_id="charge-killed").thanked_at is not None
