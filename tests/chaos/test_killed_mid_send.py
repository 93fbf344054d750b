"""SIGKILL while an answer is on its way to Telegram (PostgreSQL + Redis, real worker processes).

Processing is at least once: a killed worker's update is delivered again. Every answer is charged
exactly once and the LLM asked once per update; the stored answer is what is sent again, and a second
copy can reach a user only from the crash window itself (Telegram had the message, we had not yet
recorded that it did)."""

import os
import signal
import subprocess

import pytest

from apps.billing.models import Operation, OperationType
from apps.billing.selectors import ledger_mismatches
from apps.bot import services
from apps.bot.models import InboxStatus, InboxUpdate, Reply
from apps.llm.models import LLMRequest
from tests.factories import UserWithBalanceFactory
from tests.fakes.openai import Answer
from tests.helpers import message_update, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
IN_FLIGHT = 4


def _pool_children(worker) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(worker.process.pid)], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def _all_done(update_ids: list[int]) -> bool:
    return InboxUpdate.objects.filter(pk__in=update_ids, status=InboxStatus.DONE).count() == len(update_ids)


def _assert_answered_and_charged_once(users, update_ids, bot_api) -> None:
    assert LLMRequest.objects.count() == len(users), "one LLM call per update"
    for user in users:
        charges = Operation.objects.filter(user_id=user.id, type=OperationType.GENERATION)
        assert charges.count() == 1, f"user {user.id} charged {charges.count()} times"
        texts = [c.params["text"] for c in bot_api.calls_to("sendMessage") if int(c.params["chat_id"]) == user.id]
        assert 1 <= len(texts) <= 2 and len(set(texts)) == 1, "the stored answer, again only from the crash window"
    assert ledger_mismatches()[1] == []
    assert Reply.objects.filter(pk__in=update_ids, sent_at__isnull=False).count() == len(update_ids)


def _chat_in_flight(post_update, bot_api, llm_api, count: int):
    users = [UserWithBalanceFactory(credits=10) for _ in range(count)]
    llm_api.then(*[Answer(text="Here is what I think.") for _ in range(2 * count)])
    bot_api.delay("sendMessage", 60)  # Telegram has the answer; the worker waits for its reply
    update_ids = []
    for user in users:
        payload = message_update("What should I do?", user_id=user.id)
        assert post_update(payload).status_code == 200
        update_ids.append(payload["update_id"])
    bot_api.wait_for("sendMessage", count=count, timeout=60)
    return users, update_ids


def test_pool_children_killed_mid_send_answer_and_charge_once(start_worker, post_update, bot_api, llm_api):
    workers = [start_worker(BOTDESK_TEST_OPENAI_URL=llm_api.base_url) for _ in range(IN_FLIGHT)]
    users, update_ids = _chat_in_flight(post_update, bot_api, llm_api, IN_FLIGHT)

    children = [pid for worker in workers for pid in _pool_children(worker)]
    assert len(children) == IN_FLIGHT
    for pid in children:
        os.kill(pid, signal.SIGKILL)  # the worker hands each message back (reject_on_worker_lost)
    bot_api.delay("sendMessage", 0)

    wait_until(lambda: _all_done(update_ids), timeout=90)
    _assert_answered_and_charged_once(users, update_ids, bot_api)


def test_a_whole_worker_killed_mid_send_is_answered_and_charged_once(
    start_worker, post_update, bot_api, llm_api, settings
):
    worker = start_worker(BOTDESK_TEST_OPENAI_URL=llm_api.base_url)
    users, update_ids = _chat_in_flight(post_update, bot_api, llm_api, 1)

    worker.kill()  # main process and child: nobody hands the message back; the sweeper finds the claim
    bot_api.delay("sendMessage", 0)
    start_worker(BOTDESK_TEST_OPENAI_URL=llm_api.base_url)
    settings.INBOX_STALE_AFTER = settings.INBOX_STALE_AFTER * 0
    assert services.inbox_sweep() == 1

    wait_until(lambda: _all_done(update_ids), timeout=60)
    _assert_answered_and_charged_once(users, update_ids, bot_api)
