"""PostgreSQL restarts and fails over: every connection to it dies at once (pg_terminate_backend is
what a restart does to them). Nothing a client sends may fail for it, and nothing may wait for the
sweeper: pooled connections are checked before use, and an update whose connection died is tried
again in seconds."""

import json
import threading
import time
from collections import Counter

import httpx
import pytest
from django.conf import settings
from django.db import connection

from apps.bot.models import InboxUpdate
from tests.helpers import WEBHOOK_URL, message_update

pytestmark = pytest.mark.django_db(transaction=True)

TERMINATE_ALL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def terminate_every_other_backend() -> int:
    """Kill every connection to the test database but this test's own; returns how many died."""
    with connection.cursor() as cursor:
        cursor.execute(TERMINATE_ALL)
        return cursor.fetchone()[0]


def test_the_webhook_answers_every_update_while_postgresql_drops_every_connection(start_server):
    server = start_server(workers=3, threads=8)
    answers: list[tuple[int, int]] = []  # (update_id, HTTP status), from every client thread
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                payload = message_update(f"steady {n}", user_id=60_000 + n)
                response = http.post(
                    WEBHOOK_URL,
                    content=json.dumps(payload),
                    headers={
                        "Content-Type": "application/json",
                        "X-Telegram-Bot-Api-Secret-Token": settings.TELEGRAM_WEBHOOK_SECRET,
                    },
                )
                answers.append((payload["update_id"], response.status_code))

    clients = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in clients:
        thread.start()
    terminated = []
    try:
        time.sleep(1.5)  # every worker thread has a pooled connection by now
        for _ in range(4):
            terminated.append(terminate_every_other_backend())
            time.sleep(1.5)
    finally:
        stop.set()
        for thread in clients:
            thread.join()

    statuses = Counter(status for _, status in answers)
    print(f"{dict(statuses)} while rounds killed {terminated} connections")
    assert sum(terminated) >= 4 * 3, f"every round killed the servers' connections: {terminated}"
    failure = server.output().partition("Internal Server Error")[2][:3000]
    assert statuses == {200: len(answers)}, f"{statuses} over {len(terminated)} rounds; first 500: {failure}"
    acknowledged = {update_id for update_id, status in answers if status == 200}
    stored = set(InboxUpdate.objects.filter(pk__in=acknowledged).values_list("pk", flat=True))
    assert stored == acknowledged, f"{len(acknowledged - stored)} acknowledged updates are not stored"
