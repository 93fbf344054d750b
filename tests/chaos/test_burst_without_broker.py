"""Without a broker (REDIS_URL unset) on PostgreSQL, a mode the README offers: Telegram opens up to 40
connections at once. The webhook answers each at once, without waiting for the bot, and every update is
still processed, in the server's own process, on a bounded number of the pool's connections."""

import asyncio
import json
import time
from collections import Counter

import httpx
import pytest
from django.conf import settings

from apps.bot.models import InboxStatus, InboxUpdate
from tests.helpers import WEBHOOK_URL, message_update, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 60
TELEGRAM_CONNECTIONS = 40  # Telegram's default max_connections for a webhook
SLOW = 2.0  # seconds the fake Telegram takes to answer sendMessage during the burst


async def _burst(url: str, payloads: list[dict]) -> list[tuple[int | str, float]]:
    """Every payload POSTed at once over at most TELEGRAM_CONNECTIONS connections: (status, seconds)."""
    limits = httpx.Limits(max_connections=TELEGRAM_CONNECTIONS, max_keepalive_connections=TELEGRAM_CONNECTIONS)
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": settings.TELEGRAM_WEBHOOK_SECRET}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

        async def post(payload: dict) -> tuple[int | str, float]:
            started = time.monotonic()
            try:
                response = await http.post(WEBHOOK_URL, content=json.dumps(payload), headers=headers)
            except httpx.HTTPError as error:
                return type(error).__name__, time.monotonic() - started
            return response.status_code, time.monotonic() - started

        return await asyncio.gather(*(post(payload) for payload in payloads))


@pytest.mark.parametrize(
    ("workers", "threads"),
    [(3, 8), (1, TELEGRAM_CONNECTIONS)],
    ids=["readme-3x8", "one-process-40-threads"],
)
def test_a_burst_of_telegrams_connections_is_answered_at_once_and_all_processed(
    start_server, bot_api, workers, threads
):
    server = start_server(workers=workers, threads=threads, REDIS_URL=None, DB_POOL_MAX_SIZE="16")
    # The bot's answers take Telegram SLOW seconds each: a webhook that waits for the bot answers no sooner.
    bot_api.delay("sendMessage", SLOW)
    payloads = [message_update(f"burst {n}", user_id=62_000 + n) for n in range(BURST)]

    answers = asyncio.run(_burst(server.url, payloads))
    bot_api.delay("sendMessage", 0)

    statuses = Counter(status for status, _ in answers)
    slowest = max(seconds for _, seconds in answers)
    print(f"{workers}x{threads}: {dict(statuses)}, slowest answer {slowest:.2f} s")
    assert statuses == {200: BURST}, f"{dict(statuses)}, slowest answer {slowest:.1f} s"
    assert slowest < SLOW, f"an answer took {slowest:.1f} s: the webhook waited for the bot"

    update_ids = [payload["update_id"] for payload in payloads]

    def all_processed() -> bool:
        return InboxUpdate.objects.filter(pk__in=update_ids, status=InboxStatus.DONE).count() == BURST

    wait_until(all_processed, timeout=30)
    answered = Counter(call.params["chat_id"] for call in bot_api.calls_to("sendMessage"))
    assert answered == {payload["message"]["chat"]["id"]: 1 for payload in payloads}
