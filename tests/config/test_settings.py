"""Settings per environment, checked in fresh interpreters with their own environment."""

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

PRODUCTION_ENV = {
    "SECRET_KEY": "k8#Jq2!vR9zL@w4Tn6&pX1cY7^mB3sD5fG0hH8jK2lQ9rE4tU6yI1oP3aS5dF7gZ",
    "ALLOWED_HOSTS": "bot.example.com",
    "TELEGRAM_WEBHOOK_SECRET": "s3cret-token",
    "DATABASE_URL": "sqlite:///unused.sqlite3",
}


def _run(args: list[str], settings_module: str, **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in (*PRODUCTION_ENV, "REDIS_URL")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "DJANGO_SETTINGS_MODULE": settings_module, **env},
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "TELEGRAM_WEBHOOK_SECRET"])
def test_production_refuses_to_start_without_its_secrets(missing):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != missing}
    result = _run(["manage.py", "check"], "config.settings.production", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_production_passes_check_deploy():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], "config.settings.production", **PRODUCTION_ENV
    )
    assert result.returncode == 0, result.stderr


SHOW = (
    "import django; django.setup(); from django.conf import settings as s; from config.celery import app; "
    "print(s.CACHES['default']['BACKEND'], app.conf.broker_url, app.conf.task_always_eager, "
    "s.DATABASES['default']['ENGINE'])"
)


def test_embedded_default_is_sqlite_locmem_and_eager():
    result = _run(["-c", SHOW], "config.settings.local")
    backend, broker, eager, engine = result.stdout.split()
    assert backend.endswith("LocMemCache") and broker.startswith("memory://") and eager == "True"
    assert engine.endswith("sqlite3")


def test_redis_url_moves_cache_and_broker_to_redis():
    result = _run(
        ["-c", SHOW],
        "config.settings.local",
        REDIS_URL="redis://127.0.0.1:6379/3",
        DATABASE_URL="postgres://u@127.0.0.1:5432/db",
    )
    backend, broker, eager, engine = result.stdout.split()
    assert backend.endswith("RedisCache") and broker == "redis://127.0.0.1:6379/3" and eager == "False"
    assert engine.endswith("postgresql")


def test_a_removed_billing_setting_still_set_stops_start_up_naming_the_one_to_use():
    result = _run(["manage.py", "check"], "config.settings.local", BILLING_USD_PER_CREDIT="0.0065")
    assert result.returncode != 0
    assert "ImproperlyConfigured: BILLING_USD_PER_CREDIT was removed" in result.stderr
    assert "BILLING_CREDITS_PER_USD" in result.stderr


def test_time_zone_is_the_operators():
    show = (
        "import django; django.setup(); from django.utils import timezone; print(timezone.get_current_timezone_name())"
    )
    assert _run(["-c", show], "config.settings.local").stdout.split() == ["UTC"]
    assert _run(["-c", show], "config.settings.local", TIME_ZONE="Europe/Moscow").stdout.split() == ["Europe/Moscow"]
