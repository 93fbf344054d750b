"""What the benchmarks share: their own PostgreSQL database and a production-like environment."""

import multiprocessing
import os
import secrets
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

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
