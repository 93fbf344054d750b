"""What the benchmarks share: their own PostgreSQL database and a production-like environment."""

import os
import secrets
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
