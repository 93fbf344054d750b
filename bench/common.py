"""What the benchmarks share: their own PostgreSQL database and a production-like environment."""

import itertools
import multiprocessing
import os
import secrets
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from tests.fakes.openai import Answer, FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent


def admin_connection(database_url: str) -> psycopg.Connection:
    parts = urlsplit(database_url)
    return psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True)


def recreate_database(database_url: str) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    with admin_connection(database_url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    with admin_connection(database_url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_environment(database_url: str, redis_url: str = "", **extra: str) -> dict[str, str]:
    """Production settings (bench.settings) on the bench database, with throwaway secrets."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "TELEGRAM_WEBHOOK_SECRET": "bench-secret",
        "TELEGRAM_BOT_TOKEN": "123456:BENCH",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def bot_environment(
    database_url: str, redis_url: str, *, webhook_secret: str, telegram_url: str, llm_url: str, **extra: str
) -> dict[str, str]:
    """bench_environment for the whole bot: Telegram and the LLM are the bench's fakes, and the LLM's rate limit
    is out of the way (the benches measure Botdesk, not the limit)."""
    return bench_environment(
        database_url,
        redis_url,
        TELEGRAM_WEBHOOK_SECRET=webhook_secret,
        TELEGRAM_API_BASE_URL=telegram_url,
        OPENAI_API_KEY="bench",
        OPENAI_BASE_URL=llm_url,
        LLM_PROVIDER="openai",
        LLM_RATE_LIMIT="100000",
        LOG_LEVEL="WARNING",
        **extra,
    )


def copy_users(cursor, count: int, since) -> None:
    """Users 1..count, inserted with COPY (every NOT NULL column, as the ORM would fill them)."""
    with cursor.copy(
        "COPY users_telegramuser (id, username, first_name, last_name, language_code, bot_language, is_premium, "
        "registration_date, last_seen_date, gender, psychological_summary, profile_summary, metaphysical_profile, "
        "streams, markers, has_started_journey, has_completed_journey, has_visited_platform, has_purchased_flow, "
        "is_admin, is_active, source) FROM STDIN"
    ) as copy:
        for user in range(1, count + 1):
            copy.write_row(
                (
                    user,
                    f"user{user}",
                    "Bench",
                    "",
                    "en",
                    "",
                    False,
                    since,
                    since,
                    "",
                    "",
                    "",
                    "{}",
                    "[]",
                    "{}",
                    False,
                    False,
                    False,
                    False,
                    False,
                    True,
                    "",
                )
            )


def fund_users(cursor, credits: int) -> None:
    """Every user gets a balance of `credits`, and the bonus operation that explains it, so the ledger holds."""
    cursor.execute(
        "INSERT INTO billing_balance (user_id, amount, updated_at) SELECT id, %s, now() FROM users_telegramuser",
        [credits],
    )
    cursor.execute(
        "INSERT INTO billing_operation (user_id, type, amount, balance_after, result_url, "
        "prompt, reason, created_at) SELECT id, 5, %s, %s, '', '', 'bench', now() "
        "FROM users_telegramuser",
        [credits, credits],
    )


# One sequence for every update a bench posts: the inbox drops a repeated update_id as a Telegram retry.
update_ids = itertools.count(1)


def chat_update(user_id: int, text: str) -> dict:
    """A private chat's text message from `user_id`, as Telegram posts it to the webhook."""
    person = {"id": user_id, "is_bot": False, "first_name": "Bench"}
    return {
        "update_id": next(update_ids),
        "message": {
            "message_id": next(update_ids),
            "date": int(time.time()),
            "from": person,
            "chat": {"id": user_id, "type": "private", "first_name": "Bench"},
            "text": text,
        },
    }


class WritingLLM(FakeOpenAI):
    """Every chat request gets the answer set in `chat` (its text and pace); the background calls a user
    brings (a profile, asked as JSON) get a short JSON answer at once, so they never take the chat's answer."""

    def __init__(self) -> None:
        super().__init__()
        self.chat = Answer()
        self.chat_asked: list[float] = []  # when each chat request arrived (monotonic)

    def _next(self, body: dict) -> Answer:
        with self._lock:
            self.requests.append(body)
            if body.get("response_format"):
                return Answer(text="{}")
            self.chat_asked.append(time.monotonic())
            return self.chat


def setup_worker() -> None:
    """Pool initializer: each worker process sets Django up once, before the clock starts."""
    import django

    django.setup()


def ready(_: int) -> None:
    time.sleep(0.5)  # mapped once per worker: every process has run setup_worker before timing


def run_in_pool(workers: int, function, arguments: list) -> float:
    """Run `function` over `arguments` in `workers` spawned processes; returns the seconds the work took."""
    with multiprocessing.get_context("spawn").Pool(workers, initializer=setup_worker) as pool:
        pool.map(ready, range(workers), chunksize=1)
        started = time.perf_counter()
        pool.map(function, arguments, chunksize=1)
        return time.perf_counter() - started


def median_ms(function, *args, repeat: int = 5) -> tuple[float, object]:
    """Median milliseconds over `repeat` calls (after one warm-up call), and the answer."""
    answer = function(*args)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function(*args)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), answer
