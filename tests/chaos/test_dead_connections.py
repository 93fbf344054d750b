"""PostgreSQL restarts and fails over: every connection to it dies at once (pg_terminate_backend is
what a restart does to them). Nothing a client sends may fail for it, and nothing may wait for the
sweeper: pooled connections are checked before use, and an update whose connection died is tried
again in seconds."""

import json
import threading
import time
from collections import Counter

import httpx
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from apps.bot import runtime, services
from apps.bot.models import InboxStatus, InboxUpdate
from tests.helpers import WEBHOOK_URL, message_update, wait_until

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


def test_updates_whose_connection_died_are_done_in_seconds(start_worker, post_update, bot_api):
    start_worker()
    # Each answer takes a moment to reach Telegram: the worker is inside an update, its connections
    # in use, when PostgreSQL drops them.
    bot_api.delay("sendMessage", 0.5)
    payloads = [message_update(f"question {n}", user_id=61_000 + n) for n in range(6)]
    for payload in payloads:
        assert post_update(payload).status_code == 200

    terminated = []
    for round_ in range(1, 4):
        bot_api.wait_for("sendMessage", count=round_, timeout=30)
        terminated.append(terminate_every_other_backend())
    assert all(terminated), f"every round killed the worker's connections: {terminated}"

    update_ids = [payload["update_id"] for payload in payloads]

    def every_update_done() -> bool:
        statuses = dict(InboxUpdate.objects.filter(pk__in=update_ids).values_list("pk", "status"))
        return all(statuses.get(update_id) == InboxStatus.DONE for update_id in update_ids)

    started = time.monotonic()
    try:
        wait_until(every_update_done, timeout=30)
    finally:
        left = Counter(InboxUpdate.objects.filter(pk__in=update_ids).values_list("status", flat=True))
        print(f"after {time.monotonic() - started:.1f} s: {dict(left)}")
    answered = {call.params["chat_id"] for call in bot_api.calls_to("sendMessage")}
    assert answered >= {payload["message"]["chat"]["id"] for payload in payloads}


def test_without_a_broker_updates_whose_connection_died_are_done_in_seconds(require_postgres, client, bot_api):
    """The same, processed by the server's own processing thread (REDIS_URL unset): here, this process's."""
    bot_api.delay("sendMessage", 0.5)
    payloads = [message_update(f"question {n}", user_id=61_100 + n) for n in range(6)]
    for payload in payloads:
        response = client.post(
            WEBHOOK_URL,
            data=json.dumps(payload),
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=settings.TELEGRAM_WEBHOOK_SECRET,
        )
        assert response.status_code == 200

    terminated = []
    for round_ in range(1, 4):
        bot_api.wait_for("sendMessage", count=round_, timeout=30)
        terminated.append(terminate_every_other_backend())
    assert all(terminated), f"every round killed the processing's connections: {terminated}"

    assert services.inbox_flush_enqueued(timeout=30), "processed within 30 s"
    statuses = Counter(
        InboxUpdate.objects.filter(pk__in=[p["update_id"] for p in payloads]).values_list("status", flat=True)
    )
    assert statuses == {InboxStatus.DONE: len(payloads)}


def test_an_update_whose_connection_died_after_its_answer_is_recorded_done_and_not_processed_again(
    require_postgres, transactional_db, bot_api, monkeypatch
):
    payload = message_update("/start", user_id=61_200)
    InboxUpdate.objects.create(update_id=payload["update_id"], update_type="message", payload=payload)
    process = runtime.process_update

    def answered_then_connection_died(payload, timeout=None):
        process(payload, timeout)
        with _admin_connection() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])

    monkeypatch.setattr(runtime, "process_update", answered_then_connection_died)
    assert services.inbox_process(update_id=payload["update_id"], token="task-1") == InboxStatus.DONE
    row = InboxUpdate.objects.get(pk=payload["update_id"])
    assert (row.status, row.attempts, row.payload) == (InboxStatus.DONE, 1, None)
    assert [call.params["chat_id"] for call in bot_api.calls_to("sendMessage")] == [61_200]


def _admin_connection() -> psycopg.Connection:
    database = connection.settings_dict
    return psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database["PASSWORD"] or None,
        dbname=database["NAME"],
        autocommit=True,
    )
