from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.analytics.selectors import get_all_users_usage_by_date, get_user_daily_usage, get_user_total_usage
from apps.analytics.services import record_usage
from apps.llm import metering
from apps.llm.models import DailyUsage, LLMRequest, UserUsageSummary
from apps.llm.usage import rollups_rebuild
from apps.users.models import TelegramUser
from tests.helpers import run_concurrently


@pytest.mark.django_db
def test_seed_000_signature_records_and_reads_back():
    record_usage(42, "john_doe", 150)
    record_usage(42, "john_doe", 50, occurred_at=timezone.now() - timedelta(days=1))
    record_usage(43, "ann", 7)
    today = timezone.localdate()
    assert get_user_daily_usage(42, today) == 150
    assert get_user_daily_usage(42, today.isoformat()) == 150
    assert get_user_daily_usage(42, today - timedelta(days=1)) == 50
    assert get_user_daily_usage(42, date(2000, 1, 1)) == 0
    assert get_user_total_usage(42) == 200
    assert get_user_total_usage(999) == 0
    rows = get_all_users_usage_by_date(today)
    assert [(r["user_id"], r["username"], r["total_tokens"]) for r in rows] == [(42, "john_doe", 150), (43, "ann", 7)]


@pytest.mark.django_db
def test_a_failing_database_never_reaches_the_caller_and_the_record_is_not_lost(monkeypatch):
    """The database refuses the first three writes (all inline attempts): the record is handed to
    the Celery task (eager here), which stores it once the database answers again."""
    from django.db import OperationalError

    real_usage_record = metering.usage_record
    attempts = []

    def flaky(**fields):
        attempts.append(fields)
        if len(attempts) <= 3:
            raise OperationalError("could not connect to server")
        return real_usage_record(**fields)

    monkeypatch.setattr(metering, "_RECORD_RETRY_DELAYS", (0, 0))
    monkeypatch.setattr(metering, "usage_record", flaky)
    assert record_usage(42, "john", 10, cost=Decimal("0.5"), model="m") is None
    assert len(attempts) == 4, "three inline attempts, then the hand-over task"
    request = LLMRequest.objects.get()
    assert (request.user_id, request.total_tokens, request.cost, request.model) == (42, 10, Decimal("0.5"), "m")
    assert get_user_total_usage(42) == 10


@pytest.mark.django_db
def test_a_record_neither_stored_nor_queued_is_logged_without_what_was_written(monkeypatch, settings, caplog):
    from django.db import OperationalError

    from apps.llm import tasks

    settings.STORE_PROMPTS = True

    def refuse(**fields):
        raise OperationalError("could not connect to server")

    def broker_down(payload):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(metering, "_RECORD_RETRY_DELAYS", ())
    monkeypatch.setattr(metering, "usage_record", refuse)
    monkeypatch.setattr(tasks.record_usage_later, "delay", broker_down)
    with caplog.at_level("ERROR", logger="apps.llm.metering"):
        record_usage(42, "john", 10, model="m", prompt_text="my secret prompt", response_text="the secret answer")
    [logged] = [record for record in caplog.records if "could not be stored or queued" in record.getMessage()]
    assert "'total_tokens': 10" in logged.getMessage() and "'model': 'm'" in logged.getMessage()
    assert "secret" not in caplog.text


@pytest.mark.django_db
def test_rebuilding_rollups_gives_what_the_live_upserts_gave():
    for user_id, tokens, days_ago, status in [
        (1, 10, 0, "success"),
        (1, 20, 0, "error"),
        (1, 5, 3, "success"),
        (2, 7, 0, "success"),
    ]:
        record_usage(
            user_id,
            f"u{user_id}",
            tokens,
            prompt_tokens=tokens - 1,
            completion_tokens=1,
            status=status,
            cost=Decimal("0.0001") * tokens,
            model="gpt-4o-mini" if tokens != 5 else "other",
            provider="openai",
            occurred_at=timezone.now() - timedelta(days=days_ago),
            latency_ms=100,
        )

    def snapshot():
        days = {
            (d.user_id, d.date): (d.requests, d.errors, d.prompt_tokens, d.total_tokens, d.cost, d.models, d.providers)
            for d in DailyUsage.objects.all()
        }
        totals = {
            s.user_id: (
                s.total_requests,
                s.total_errors,
                s.total_tokens,
                s.total_cost,
                s.total_latency_ms,
                s.last_activity,
            )
            for s in UserUsageSummary.objects.all()
        }
        return days, totals

    live = snapshot()
    assert rollups_rebuild() == 3
    assert snapshot() == live


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_recording_for_one_user_leave_exact_totals(require_postgres):
    calls_per_thread = 10

    def work(n: int) -> None:
        for i in range(calls_per_thread):
            assert (
                record_usage(
                    77,
                    "busy",
                    3,
                    prompt_tokens=2,
                    completion_tokens=1,
                    cost=Decimal("0.00000123"),
                    model=f"m{i % 3}",
                    provider="p",
                    latency_ms=n,
                )
                is not None
            )

    run_concurrently(work, 20)
    calls = 20 * calls_per_thread
    summary = UserUsageSummary.objects.get(user_id=77)
    day = DailyUsage.objects.get(user_id=77)
    assert (summary.total_requests, summary.total_tokens) == (calls, 3 * calls)
    assert (day.requests, day.total_tokens) == (calls, 3 * calls)
    assert summary.total_cost == day.cost == Decimal("0.00000123") * calls
    assert sum(day.models.values()) == calls and day.providers == {"p": calls}
    assert LLMRequest.objects.filter(user_id=77).count() == calls


@pytest.mark.django_db(transaction=True)
def test_usage_of_a_user_not_stored_yet_creates_them_outside_any_transaction():
    # On PostgreSQL in autocommit the record is one statement; the missing user fails it at commit
    # (deferred foreign key), and it is stored again after the user.
    request = record_usage(4242, "newcomer", 12, model="m", provider="p")
    assert request is not None and request.pk
    assert TelegramUser.objects.get(pk=4242).username == "newcomer"
    assert get_user_total_usage(4242) == 12
    assert LLMRequest.objects.filter(user_id=4242).count() == 1
