import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from apps.bot import runtime
from apps.bot.services import inbox_flush_enqueued
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeBotAPI
from tests.helpers import WEBHOOK_URL
from tests.workers import ServerProcess, WorkerProcess


# --- Staff ------------------------------------------------------------------------------------
@pytest.fixture
def analyst_group():
    """The group the migration creates. A transactional test before this one empties every table (the
    permissions come back with post_migrate, the group does not), so it is made again from the
    migration's own list."""
    from django.contrib.auth.models import Group, Permission

    reads = importlib.import_module("apps.bot.migrations.0003_analyst_group").ANALYST_READS
    group, _ = Group.objects.get_or_create(name="Analyst")
    for label in reads:
        app_label, codename = label.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group


@pytest.fixture
def analyst_api(analyst_group):
    """A DRF client of a staff member in the Analyst group, authenticated by token."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    staff = User.objects.create_user("analyst", is_staff=True)
    staff.groups.add(analyst_group)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    return client


# --- Browser ----------------------------------------------------------------------------------
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
# Screenshots the browser tests take, for people to look at (git-ignored).
ARTEFACTS = Path(__file__).parent / "artefacts"


@pytest.fixture
def browser():
    """Headless Chromium (Debian's chromium and chromium-driver), 1400 px wide; skips without them unless
    BOTDESK_REQUIRE_BROWSER is set."""
    if not (CHROMIUM and CHROMEDRIVER):
        reason = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("BOTDESK_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-")
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1800",
        f"--user-data-dir={profile}",
    ]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def screenshot(browser) -> Callable[[str], Path]:
    """Saves the whole page, not only the window, as ARTEFACTS/<name>.png."""

    def save(name: str) -> Path:
        ARTEFACTS.mkdir(exist_ok=True)
        path = ARTEFACTS / f"{name}.png"
        window = browser.get_window_size()
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(window["width"], max(height, window["height"]))
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(path))
        browser.set_window_size(window["width"], window["height"])
        return path

    return save


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
    "apps.llm.migrations.0006_transcription",
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


@pytest.fixture
def post_update(client: Client) -> Callable[..., Any]:
    """POST to the webhook and, without a broker, return once the process's processing thread has
    processed what it received (the webhook itself answers before)."""

    def post(payload: Any, *, secret: str | None = None, raw: bytes | None = None, **headers: str):
        body = raw if raw is not None else json.dumps(payload)
        if secret is None:
            secret = django_settings.TELEGRAM_WEBHOOK_SECRET
        response = client.post(
            WEBHOOK_URL,
            data=body,
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=secret,
            **headers,
        )
        assert inbox_flush_enqueued(timeout=60), "the update was not processed within 60 s"
        return response

    return post


@pytest.fixture(autouse=True)
def _inbox_idle() -> Iterator[None]:
    """No update received in one test is still being processed in the next (a test that stores updates
    without post_update)."""
    yield
    inbox_flush_enqueued(timeout=60)


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


def _process_env(fake_bot_api: FakeBotAPI) -> dict[str, str]:
    """The environment of a process a test starts: the suite's settings on the test database (not the
    database DATABASE_URL names), Celery through the broker, Telegram the fake one."""
    database = connection.settings_dict
    database_url = (
        f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "TELEGRAM_API_BASE_URL": fake_bot_api.base_url,
    }


@pytest.fixture
def start_worker(
    require_services: None, transactional_db: None, fake_bot_api: FakeBotAPI
) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts real workers on the test database; keyword arguments add to a worker's environment."""
    from config.celery import app as celery_app

    env = _process_env(fake_bot_api)
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


@pytest.fixture
def start_server(
    require_services: None, transactional_db: None, fake_bot_api: FakeBotAPI
) -> Iterator[Callable[..., ServerProcess]]:
    """Starts gunicorn (gthread, as the README's production command) on the test database:
    `start_server(workers=3, threads=8, **env)`, more threads than production's 4x2 so the chaos tests' bursts
    of concurrent requests never wait for a thread;
    keyword arguments add to its environment, and `REDIS_URL=None` runs it without a broker."""
    from config.celery import app as celery_app

    servers: list[ServerProcess] = []

    def start(*, workers: int = 3, threads: int = 8, **extra: str | None) -> ServerProcess:
        env = {**_process_env(fake_bot_api), **extra}
        if not env.get("REDIS_URL"):  # without a broker every task runs in the process, as in production
            env.pop("REDIS_URL", None)
            env["CELERY_TASK_ALWAYS_EAGER"] = "true"
        servers.append(ServerProcess({k: v for k, v in env.items() if v is not None}, workers=workers, threads=threads))
        return servers[-1]

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
        # What the servers published for workers that never ran belongs to this test only.
        celery_app.control.purge()
