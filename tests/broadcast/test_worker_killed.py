"""A worker SIGKILLed mid-broadcast, then another one: every user gets the message exactly once."""

import time
from collections import Counter

import pytest

from apps.broadcast import services
from apps.broadcast.models import Broadcast, BroadcastDelivery
from apps.users.models import TelegramUser
from tests.helpers import wait_until

USERS = range(1, 81)
WORKER_ENV = {
    "BROADCAST_RATE": "40",
    "BROADCAST_CONCURRENCY": "4",
    "BROADCAST_CLAIM_TIMEOUT": "1",
    "BROADCAST_STALLED_AFTER": "2",
}


def _calls_settle(bot_api, quiet: float = 0.5) -> int:
    """Wait until no sendMessage arrives for `quiet` seconds; return how many arrived."""
    while True:
        before = len(bot_api.calls_to("sendMessage"))
        time.sleep(quiet)
        if len(bot_api.calls_to("sendMessage")) == before:
            return before


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_broadcast_leaves_nobody_with_two_messages_or_none(start_worker, bot_api, settings):
    settings.BROADCAST_STALLED_AFTER, settings.BROADCAST_CLAIM_TIMEOUT = 2, 1
    TelegramUser.objects.bulk_create([TelegramUser(id=user_id) for user_id in USERS])
    broadcast = Broadcast.objects.create(title="News", text="Hello")
    first = start_worker(**WORKER_ENV)

    services.broadcast_start(broadcast.pk)
    bot_api.wait_for("sendMessage", 20)
    # Telegram now takes its time to answer: every sender ends up waiting on a message it handed over.
    bot_api.delay("sendMessage", 5)
    in_flight_from = _calls_settle(bot_api)
    first.kill()
    bot_api.delay("sendMessage", 0)
    assert in_flight_from < len(USERS), "killed mid-broadcast"

    time.sleep(2.5)  # the dead runner's heartbeat goes stale
    start_worker(**WORKER_ENV)
    assert services.broadcasts_dispatch()["resumed"] == 1
    wait_until(lambda: Broadcast.objects.get(pk=broadcast.pk).status == "done", timeout=60)

    received = Counter(int(call.params["chat_id"]) for call in bot_api.calls_to("sendMessage"))
    assert set(received) == set(USERS), "nobody without the message"
    assert max(received.values()) == 1, "nobody with two"
    statuses = Counter(BroadcastDelivery.objects.filter(broadcast=broadcast).values_list("status", flat=True))
    assert statuses["sent"] + statuses["unconfirmed"] == len(USERS)
    assert 1 <= statuses["unconfirmed"] <= 4, "only the messages on their way at the kill are unconfirmed"
