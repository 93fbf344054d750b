"""The periodic jobs: what each leaves behind, and one run at a time (their schedule: test_schedule.py)."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.analytics.jobs import database_size_snapshot, events_purge, events_rollup
from apps.analytics.models import AnalyticsEvent, EventDailyCount
from apps.core.locks import single_run
from apps.sessions.models import UserSession
from apps.sessions.services import session_histories_purge
from apps.users.jobs import activity_archive
from apps.users.models import TelegramUser, UserActivityLog, UserActivityLogArchive
from tests.helpers import run_concurrently, wait_until

pytestmark = pytest.mark.django_db


def _activity(user_id: int, count: int, days_ago: float) -> None:
    moment = timezone.now() - timedelta(days=days_ago)
    UserActivityLog.objects.bulk_create(
        [
            UserActivityLog(
                user_id=user_id, activity_type="message", timestamp=moment - timedelta(seconds=n), details={"n": n}
            )
            for n in range(count)
        ]
    )


def test_archiving_moves_exactly_the_old_rows_of_busy_users(settings):
    settings.ACTIVITY_ARCHIVE_DAYS = 90
    busy, quiet = TelegramUser.objects.create(id=1), TelegramUser.objects.create(id=2)
    _activity(busy.id, 600, days_ago=91)
    _activity(busy.id, 405, days_ago=89)
    _activity(quiet.id, 50, days_ago=200)
    total = UserActivityLog.objects.count()

    assert activity_archive(chunk=100) == 600
    assert UserActivityLog.objects.filter(user=busy).count() == 405
    assert UserActivityLogArchive.objects.filter(user=busy).count() == 600
    assert UserActivityLog.objects.filter(user=quiet).count() == 50, "a user with few rows keeps them"
    assert UserActivityLog.objects.count() + UserActivityLogArchive.objects.count() == total
    assert activity_archive(chunk=100) == 0, "run again: nothing more to move"


def test_events_are_purged_to_the_day_once_their_days_are_counted(settings):
    settings.ANALYTICS_RETENTION_DAYS = 365
    now = timezone.now()
    old = AnalyticsEvent.objects.create(event_name="bot_started", occurred_at=now - timedelta(days=365, minutes=1))
    kept = AnalyticsEvent.objects.create(event_name="bot_started", occurred_at=now - timedelta(days=364, hours=23))
    assert events_purge() == 0, "no day is counted yet: nothing may go"
    assert events_rollup() > 0
    counted = list(EventDailyCount.objects.values_list("date", "event_name", "events"))
    assert events_purge() == 1
    assert list(AnalyticsEvent.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not AnalyticsEvent.objects.filter(pk=old.pk).exists()
    assert list(EventDailyCount.objects.values_list("date", "event_name", "events")) == counted, "counts stay"


def _event(name: str, at: datetime, user_id: int | None = None) -> AnalyticsEvent:
    return AnalyticsEvent.objects.create(event_name=name, occurred_at=at, user_id=user_id)


def test_the_rollup_counts_finished_days_once_and_recounts_the_last(settings):
    settings.ANALYTICS_RETENTION_DAYS = 365
    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    two_days_ago, yesterday = today - timedelta(days=2), today - timedelta(days=1)
    for user_id in (1, 1, 2):
        _event("bot_started", two_days_ago + timedelta(hours=23, minutes=59), user_id)
    _event("bot_started", yesterday, 3)
    _event("payment_completed", yesterday + timedelta(hours=5), None)
    _event("bot_started", today + timedelta(seconds=1), 4)  # today is not finished: not counted

    assert events_rollup() == 2
    counts = {(row.date, row.event_name): (row.events, row.users) for row in EventDailyCount.objects.all()}
    assert counts == {
        (two_days_ago.date(), "bot_started"): (3, 2),
        (yesterday.date(), "bot_started"): (1, 1),
        (yesterday.date(), "payment_completed"): (1, 0),
    }

    _event("bot_started", yesterday + timedelta(hours=23), 5)  # stored late, after its day was counted
    assert events_rollup() == 1, "only the last counted day is counted again"
    assert EventDailyCount.objects.get(date=yesterday.date(), event_name="bot_started").events == 2
    assert EventDailyCount.objects.get(date=two_days_ago.date(), event_name="bot_started").events == 3
    assert EventDailyCount.objects.count() == 3


def test_completed_sessions_lose_their_turns_after_the_window(settings):
    settings.SESSION_HISTORY_RETENTION_DAYS = 180
    user = TelegramUser.objects.create(id=3)
    now = timezone.now()
    turns = [{"role": "user", "content": "private"}]
    old = UserSession.objects.create(
        user=user, is_active=False, completed_at=now - timedelta(days=181), conversation_history=turns, question_count=1
    )
    recent = UserSession.objects.create(
        user=user, is_active=False, completed_at=now - timedelta(days=179), conversation_history=turns
    )
    active = UserSession.objects.create(user=user, conversation_history=turns)
    assert session_histories_purge() == 1
    old.refresh_from_db(), recent.refresh_from_db(), active.refresh_from_db()
    assert (old.conversation_history, old.question_count) == ([], 1)
    assert recent.conversation_history == turns and active.conversation_history == turns


def test_a_running_session_loses_only_its_turns_older_than_the_window(settings):
    settings.SESSION_HISTORY_RETENTION_DAYS = 30
    user = TelegramUser.objects.create(id=4)
    now = timezone.now()
    old_turn = {"role": "user", "content": "long ago", "at": (now - timedelta(days=31)).isoformat()}
    new_turn = {"role": "user", "content": "today", "at": now.isoformat()}
    legacy = {"role": "assistant", "content": "no time recorded"}
    running = UserSession.objects.create(user=user, conversation_history=[old_turn, legacy, new_turn])
    UserSession.objects.filter(pk=running.pk).update(created_at=now - timedelta(days=40))
    assert session_histories_purge() == 1
    running.refresh_from_db()
    assert running.conversation_history == [legacy, new_turn] and running.is_active
    assert session_histories_purge() == 0, "nothing more to drop"


def test_the_database_size_is_snapshotted():
    snapshot = database_size_snapshot()
    assert snapshot.total_bytes >= 0 and "users_telegramuser" in snapshot.tables


def test_a_job_started_twice_at_once_does_its_work_once():
    runs = []

    @single_run("test-job", timeout=60)
    def job() -> str:
        runs.append(threading.get_ident())
        time.sleep(0.5)
        return "done"

    results = run_concurrently(lambda n: job(), 4)
    assert results.count("done") == 1 and results.count(None) == 3
    assert len(runs) == 1
    assert job() == "done", "the lock is released after the run"


def test_run_job_runs_a_scheduled_job_by_hand(settings):
    from io import StringIO

    from django.core.management import CommandError, call_command

    settings.ANALYTICS_RETENTION_DAYS = 30
    AnalyticsEvent.objects.create(event_name="bot_started", occurred_at=timezone.now() - timedelta(days=31))
    listing = StringIO()
    call_command("run_job", "--list", stdout=listing)
    assert "purge_events" in listing.getvalue() and "archive_activity" in listing.getvalue()
    out = StringIO()
    call_command("run_job", "purge_events", stdout=out)
    assert "apps.analytics.tasks.purge_events: 1" in out.getvalue()
    assert not AnalyticsEvent.objects.exists()
    with pytest.raises(CommandError, match="no single scheduled job"):
        call_command("run_job", "nothing_like_it", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_a_job_sent_twice_at_once_to_two_real_workers_does_its_work_once(start_worker, llm_api):
    """Two worker processes each take one copy of the rotation; the shared lock lets one of them run,
    so every due profile costs one LLM request, not two."""
    from apps.bot.tasks import rotate_profiles
    from apps.users.models import ProfileRotationRun
    from tests.fakes.openai import Answer
    from tests.users.test_profiles import GOOD, _user

    for user_id in range(30, 36):
        _user(user_id, seen_days_ago=1, profile_days_ago=None)
    llm_api.then(*[Answer(text=GOOD, delay=0.4) for _ in range(6)])
    workers = [start_worker(BOTDESK_TEST_OPENAI_URL=llm_api.base_url) for _ in range(2)]

    rotate_profiles.delay(), rotate_profiles.delay()
    wait_until(lambda: any("already running elsewhere" in worker.output() for worker in workers), timeout=30)
    wait_until(lambda: ProfileRotationRun.objects.filter(finished_at__isnull=False).exists(), timeout=30)

    assert len(llm_api.requests) == 6, "each due profile was asked for once"
    run = ProfileRotationRun.objects.get()
    assert (run.selected, run.updated, run.failed) == (6, 6, 0)
    assert not TelegramUser.objects.filter(psychological_summary="").exists()
