"""On the PostgreSQL + Redis leg: updates go through a real broker to a real worker process."""

import pytest

from apps.bot import services
from apps.bot.models import InboxStatus, InboxUpdate
from apps.users.models import TelegramUser
from tests.helpers import message_update, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _status(update_id: int) -> str:
    return InboxUpdate.objects.get(pk=update_id).status


def test_an_update_is_processed_by_a_real_worker(start_worker, post_update, bot_api):
    start_worker()
    payload = message_update("/start from_worker", user_id=4001)
    assert post_update(payload).status_code == 200

    wait_until(lambda: _status(payload["update_id"]) == InboxStatus.DONE)
    assert TelegramUser.objects.get(pk=4001).source == "from_worker"
    assert [call.params["chat_id"] for call in bot_api.calls_to("sendMessage")] == [4001]


def test_a_worker_killed_mid_update_loses_nothing(start_worker, post_update, bot_api, settings):
    worker = start_worker()
    bot_api.delay("sendMessage", 60)  # the reply hangs: the worker is inside the update
    payload = message_update("/start", user_id=4002)
    post_update(payload)
    bot_api.wait_for("sendMessage")
    assert _status(payload["update_id"]) == InboxStatus.PROCESSING

    worker.kill()
    bot_api.delay("sendMessage", 0)
    start_worker()
    # Beat runs the sweeper every minute; a claim older than INBOX_STALE_AFTER is a dead worker's.
    settings.INBOX_STALE_AFTER = settings.INBOX_STALE_AFTER * 0
    assert services.inbox_sweep() == 1

    wait_until(lambda: _status(payload["update_id"]) == InboxStatus.DONE)
    row = InboxUpdate.objects.get(pk=payload["update_id"])
    assert row.attempts == 2
    assert row.payload is None
    assert TelegramUser.objects.filter(pk=4002).exists()
    answered = [call for call in bot_api.calls_to("sendMessage") if call.params["chat_id"] == 4002]
    assert len(answered) == 2, "the killed attempt's reply never completed; the second one did"
