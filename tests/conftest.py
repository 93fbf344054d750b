import importlib
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from apps.bot import runtime
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeBotAPI
from tests.workers import WorkerProcess

ROOT = Path(__file__).resolve().parent.parent
CAPTURED_UPDATES = Path(__file__).resolve().parent / "fixtures" / "telegram-updates"
WEBHOOK_URL = "/telegram/webhook/"

_update_ids = itertools.count(500_000)


def run_concurrently(work: Callable[[int], Any], count: int) -> list[Any]:
    """Run `work(n)` in `count` threads released together; each closes its database connection.
    Returns the results in no particular order; fails the test with the first error raised."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            results.append(work(n))
        except BaseException as error:  # reported below, in the test's own thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def wait_until(condition: Callable[[], Any], timeout: float = 30, interval: float = 0.05) -> Any:
    """Poll until `condition()` is truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s: {getattr(condition, '__name__', condition)}")


@contextmanager
def broker_down():
    """Celery publishes to a Redis port where nothing listens: a real connection refusal."""
    from config.celery import app

    def use(broker_url: str, eager: bool) -> None:
        app.conf.broker_url = broker_url
        app.conf.task_always_eager = eager
        app._pool = None
        app.amqp._producer_pool = None

    original = (app.conf.broker_url, app.conf.task_always_eager)
    use("redis://127.0.0.1:1/0", eager=False)
    try:
        yield
    finally:
        use(*original)


# --- Telegram ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def fake_bot_api() -> Iterator[FakeBotAPI]:
    fake = FakeBotAPI().start()
    django_settings.TELEGRAM_API_BASE_URL = fake.base_url
    runtime.reset()
    yield fake
    runtime.reset()
    fake.stop()


@pytest.fixture
def bot_api(fake_bot_api: FakeBotAPI) -> Iterator[FakeBotAPI]:
    fake_bot_api.reset()
    yield fake_bot_api
    fake_bot_api.reset()


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


REFERENCE_DATA_MIGRATIONS = [
    "apps.llm.migrations.0002_seed_prices_and_persona",
    "apps.billing.migrations.0002_plans_packages_schedules",
]


@pytest.fixture
def reference_data(django_db_blocker) -> None:
    """What data migrations seed (prices, persona, plans, packages); a transactional test's flush
    removes it, so tests that rely on it ask for it again."""
    from django.apps import apps

    with django_db_blocker.unblock():
        for module in REFERENCE_DATA_MIGRATIONS:
            importlib.import_module(module).seed(apps, None)


@pytest.fixture
def llm_api(fake_openai: FakeOpenAI, settings, reference_data: None) -> Iterator[FakeOpenAI]:
    """The real `openai` client pointed at the fake server (without it, the offline model answers)."""
    fake_openai.reset()
    settings.OPENAI_API_KEY = "test-key"
    settings.OPENAI_BASE_URL = fake_openai.base_url
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_MODEL = "gpt-4o-mini"
    yield fake_openai
    fake_openai.reset()


def captured_update(name: str) -> dict[str, Any]:
    return json.loads((CAPTURED_UPDATES / name).read_text())


def message_update(text: str, *, user_id: int = 12345678, update_id: int | None = None, **user: Any) -> dict[str, Any]:
    """A private-chat text message shaped like the captured `message.json`."""
    payload = captured_update("message.json")
    payload["update_id"] = update_id if update_id is not None else next(_update_ids)
    message = payload["message"]
    message["from"].update({"id": user_id, **user})
    message["chat"]["id"] = user_id
    message["text"] = text
    message["date"] = int(time.time())
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return payload


def my_chat_member_update(*, user_id: int, old: str, new: str) -> dict[str, Any]:
    person = {"id": user_id, "is_bot": False, "first_name": "FirstName", "username": "username"}
    bot = {"id": 123456, "is_bot": True, "first_name": "Botdesk Test", "username": "botdesk_test_bot"}
    return {
        "update_id": next(_update_ids),
        "my_chat_member": {
            "chat": {"id": user_id, "type": "private", "first_name": "FirstName"},
            "from": person,
            "date": int(time.time()),
            "old_chat_member": {"user": bot, "status": old, **({"until_date": 0} if old == "kicked" else {})},
            "new_chat_member": {"user": bot, "status": new, **({"until_date": 0} if new == "kicked" else {})},
        },
    }


@pytest.fixture
def post_update(client: Client) -> Callable[..., Any]:
    def post(payload: Any, *, secret: str | None = None, raw: bytes | None = None, **headers: str):
        body = raw if raw is not None else json.dumps(payload)
        if secret is None:
            secret = django_settings.TELEGRAM_WEBHOOK_SECRET
        return client.post(
            WEBHOOK_URL,
            data=body,
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=secret,
            **headers,
        )

    return post


# --- PostgreSQL + Redis leg -------------------------------------------------------------------
def _require(available: bool, reason: str) -> None:
    """Skip on the SQLite leg; on the services leg (BOTDESK_REQUIRE_SERVICES=1) a skip is a failure."""
    if available:
        return
    if os.environ.get("BOTDESK_REQUIRE_SERVICES"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def require_postgres() -> None:
    _require(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL): the second leg of .ci/run")


@pytest.fixture
def require_services(require_postgres: None) -> None:
    _require(bool(os.environ.get("REDIS_URL")), "needs Redis (REDIS_URL): the second leg of .ci/run")


@pytest.fixture
def start_worker(
    require_services: None, transactional_db: None, fake_bot_api: FakeBotAPI
) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts real workers on the test database; keyword arguments add to a worker's environment."""
    from config.celery import app as celery_app

    database = connection.settings_dict
    database_url = (
        f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "TELEGRAM_API_BASE_URL": fake_bot_api.base_url,
    }
    workers: list[WorkerProcess] = []
    # What an earlier test's workers handed to the broker as they stopped (events lingering in their
    # publisher, say) belongs to that test: it must not land in this test's database.
    celery_app.control.purge()
    celery_app.conf.task_always_eager = False
    try:
        yield lambda **extra: workers.append(WorkerProcess({**env, **extra})) or workers[-1]
    finally:
        celery_app.conf.task_always_eager = True
        for worker in workers:
            worker.stop()
