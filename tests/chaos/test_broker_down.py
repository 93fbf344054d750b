"""The broker unreachable for the web process (gunicorn as the README starts it): every update is still
acknowledged and stored, and once a worker and the sweeper can reach the broker, every one is answered."""

import httpx
import pytest

from apps.bot import services
from apps.bot.models import InboxStatus, InboxUpdate
from tests.helpers import WEBHOOK_URL, message_update, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_updates_taken_while_the_broker_is_down_are_answered_once_it_is_back(
    start_server, start_worker, bot_api, settings
):
    server = start_server(workers=2, threads=4, REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens there
    payloads = [message_update(f"while the broker is down {n}", user_id=62_000 + n) for n in range(8)]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for payload in payloads:
            response = http.post(
                WEBHOOK_URL,
                json=payload,
                headers={"X-Telegram-Bot-Api-Secret-Token": settings.TELEGRAM_WEBHOOK_SECRET},
            )
            assert response.status_code == 200, response.text
    update_ids = [payload["update_id"] for payload in payloads]
    stored = InboxUpdate.objects.filter(pk__in=update_ids)
    assert stored.count() == len(payloads), "every acknowledged update is stored"
    assert not stored.exclude(status=InboxStatus.PENDING).exists(), "none could be handed to a worker"

    start_worker()
    settings.INBOX_PENDING_GRACE = settings.INBOX_PENDING_GRACE * 0
    assert services.inbox_sweep() == len(payloads)
    wait_until(lambda: stored.filter(status=InboxStatus.DONE).count() == len(payloads), timeout=60)
    answered = [int(call.params["chat_id"]) for call in bot_api.calls_to("sendMessage")]
    assert sorted(answered) == sorted(payload["message"]["chat"]["id"] for payload in payloads), "once each"
