"""The periodic jobs: what each leaves behind, their schedules, and one run at a time."""

import threading
import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from apps.analytics.jobs import database_size_snapshot, events_purge, events_rollup
from apps.analytics.models import AnalyticsEvent, EventDailyCount
from apps.core.locks import single_run
from apps.sessions.models import UserSession
from apps.sessions.services import session_histories_purge
from apps.users.jobs import activity_archive
from apps.users.models import TelegramUser, UserActivityLog, UserActivityLogArchive
from config.celery import app
from config.schedule import SCHEDULE, Job, sync_schedule
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


def test_every_job_is_scheduled_after_migrate_and_names_a_real_task():
    app.loader.import_default_modules()  # what a worker does at start: every app's tasks module
    scheduled = dict(PeriodicTask.objects.values_list("task", "interval__every"))
    expected = {
        "apps.bot.tasks.sweep_inbox": 60,
        "apps.bot.tasks.purge_processed_updates": 86400,
        "apps.billing.tasks.purge_logs": 86400,
        "apps.billing.tasks.release_stale_reserves": 300,
        "apps.billing.tasks.settle_pending_refunds": 300,
        "apps.billing.tasks.lapse_subscriptions": 3600,
        "apps.users.tasks.archive_activity": 7 * 86400,
        "apps.analytics.tasks.purge_events": 86400,
        "apps.sessions.tasks.purge_session_histories": 86400,
        "apps.analytics.tasks.snapshot_database_size": 86400,
        "apps.users.tasks.rotate_profiles": 86400,
        "apps.broadcast.tasks.dispatch_broadcasts": 30,
    }
    for task, every in expected.items():
        assert scheduled.get(task) == every, task
        assert task in app.tasks, f"{task} is not a registered task"


# What the five data migrations (analytics 0005, billing 0002, bot 0002, broadcast 0002, users 0003) created
# before the schedule moved to config/schedule.py: the same names, registered task names and intervals.
MIGRATED_JOBS = {
    ("Inbox: enqueue unprocessed updates", "apps.bot.tasks.sweep_inbox", 60),
    ("Inbox: forget processed updates after 7 days", "apps.bot.tasks.purge_processed_updates", 86400),
    ("Billing: purge generation and debug logs after LOG_RETENTION_DAYS", "apps.billing.tasks.purge_logs", 86400),
    ("Billing: release holds of answers that never settled", "apps.billing.tasks.release_stale_reserves", 300),
    ("Users: archive old activity of busy users (weekly)", "apps.users.tasks.archive_activity", 7 * 86400),
    ("Analytics: purge raw events after ANALYTICS_RETENTION_DAYS", "apps.analytics.tasks.purge_events", 86400),
    (
        "Sessions: forget completed conversations' turns after the retention window",
        "apps.sessions.tasks.purge_session_histories",
        86400,
    ),
    ("Database: daily size snapshot", "apps.analytics.tasks.snapshot_database_size", 86400),
    ("Users: rotate psychological profiles (daily)", "apps.users.tasks.rotate_profiles", 86400),
    ("Broadcasts: start scheduled, resume stalled (every 30 s)", "apps.broadcast.tasks.dispatch_broadcasts", 30),
}
# Jobs added to the module since.
ADDED_JOBS = {
    (
        "Billing: settle refunds Telegram did not confirm (getStarTransactions)",
        "apps.billing.tasks.settle_pending_refunds",
        300,
    ),
    (
        "Billing: lapse subscriptions not renewed (unused credits expire with SUBSCRIPTION_CREDITS_EXPIRE)",
        "apps.billing.tasks.lapse_subscriptions",
        3600,
    ),
    (
        "Billing: reconcile payments and refunds with Telegram's Stars ledger (STARS_RECONCILE_DAYS)",
        "apps.billing.tasks.reconcile_stars",
        86400,
    ),
}


def _beat_tables() -> tuple[list[dict], list[dict], list[dict]]:
    """Every row of the three tables the sync may write, every column."""
    return (
        list(PeriodicTask.objects.order_by("pk").values()),
        list(IntervalSchedule.objects.order_by("pk").values()),
        list(PeriodicTasks.objects.order_by("pk").values()),
    )


def test_the_schedule_module_lists_every_job_the_migrations_created_and_migrate_syncs_it():
    assert {(job.name, job.task, job.every) for job in SCHEDULE} == MIGRATED_JOBS | ADDED_JOBS
    assert len({job.name for job in SCHEDULE}) == len(SCHEDULE), "a job's name is its key: no two alike"
    rows = {
        row.name: (row.task, row.interval.every, row.interval.period, row.enabled) for row in PeriodicTask.objects.all()
    }
    for name, task, every in MIGRATED_JOBS:
        assert rows.get(name) == (task, every, "seconds", True), name


def test_the_sync_is_idempotent():
    PeriodicTask.objects.filter(name__in=[job.name for job in SCHEDULE]).delete()
    IntervalSchedule.objects.all().delete()
    first = sync_schedule()
    assert sorted(first.created) == sorted(job.name for job in SCHEDULE) and not first.moved
    after_first = _beat_tables()
    assert len(after_first[1]) == len({job.every for job in SCHEDULE}), "one interval per distinct period"

    second = sync_schedule()
    assert not second.changed
    assert _beat_tables() == after_first, "the second run changed nothing, not even beat's change marker"
    assert PeriodicTask.objects.count() == len(SCHEDULE)


def test_a_synced_database_is_left_as_it_is():
    """migrate already synced the test database: another sync finds nothing to do."""
    before = _beat_tables()
    assert not sync_schedule().changed
    assert _beat_tables() == before


def test_staff_edits_survive_a_sync():
    job = PeriodicTask.objects.get(name="Inbox: enqueue unprocessed updates")
    job.interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    job.enabled = False
    job.kwargs = '{"limit": 10}'
    job.description = "slowed down during the migration of the inbox"
    job.save()  # as the admin saves it

    assert not sync_schedule().changed
    job.refresh_from_db()
    assert (job.interval.every, job.interval.period) == (5, IntervalSchedule.MINUTES)
    assert (job.enabled, job.kwargs, job.description) == (
        False,
        '{"limit": 10}',
        "slowed down during the migration of the inbox",
    )
    assert job.task == "apps.bot.tasks.sweep_inbox"


def test_a_deleted_job_is_created_again_with_its_default_schedule():
    name = "Broadcasts: start scheduled, resume stalled (every 30 s)"
    PeriodicTask.objects.filter(name=name).delete()
    IntervalSchedule.objects.filter(every=30, period="seconds").delete()
    assert not PeriodicTask.objects.filter(task="apps.broadcast.tasks.dispatch_broadcasts").exists()

    assert sync_schedule().created == [name]
    job = PeriodicTask.objects.get(name=name)
    assert (job.task, job.interval.every, job.interval.period, job.enabled) == (
        "apps.broadcast.tasks.dispatch_broadcasts",
        30,
        "seconds",
        True,
    )


def test_a_job_whose_task_moved_gets_the_modules_task_path_and_keeps_staffs_schedule():
    name = "Users: rotate psychological profiles (daily)"
    job = PeriodicTask.objects.get(name=name)
    job.task = "apps.users.tasks.rotate_profiles_v0"  # the name an older release registered it under
    job.interval = IntervalSchedule.objects.create(every=12, period=IntervalSchedule.HOURS)
    job.save()
    noticed_by_beat = PeriodicTasks.last_change()

    result = sync_schedule()
    assert (result.created, result.moved) == ([], [name])
    job.refresh_from_db()
    assert job.task == "apps.users.tasks.rotate_profiles"
    assert (job.interval.every, job.interval.period) == (12, IntervalSchedule.HOURS), "staff's schedule stays"
    assert PeriodicTasks.last_change() > noticed_by_beat, "a running beat is told to reload"
    assert not sync_schedule().changed


def test_a_new_job_in_the_module_is_created_with_its_options():
    new = Job("Test: a job added later", "apps.analytics.tasks.purge_events", 600, {"queue": "slow", "priority": 3})
    assert sync_schedule([*SCHEDULE, new]).created == [new.name]
    job = PeriodicTask.objects.get(name=new.name)
    assert (job.task, job.interval.every, job.queue, job.priority) == (new.task, 600, "slow", 3)


def test_the_sync_listens_to_beats_post_migrate_once(monkeypatch):
    """migrate (and flush) send post_migrate once per app, migrate with the migrated state's models: the
    sync answers django_celery_beat's signal only, once even if the AppConfig's ready() runs again.
    (That migrate itself sends it is what test_every_job_is_scheduled_after_migrate... shows: the data
    migrations no longer create the jobs.)"""
    from django.apps import apps as django_apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.models.signals import post_migrate

    import config.schedule

    calls = []
    real_sync = config.schedule.sync_schedule
    monkeypatch.setattr(config.schedule, "sync_schedule", lambda **kw: calls.append(kw) or real_sync(**kw))
    django_apps.get_app_config("admin").ready()  # connecting again must not add a second receiver
    migrated = MigrationLoader(connection).project_state().apps
    PeriodicTask.objects.filter(name="Inbox: enqueue unprocessed updates").delete()

    out = StringIO()
    for label in ("users", "django_celery_beat", "admin"):
        app_config = django_apps.get_app_config(label)
        post_migrate.send(
            sender=app_config,
            app_config=app_config,
            verbosity=1,
            interactive=False,
            using="default",
            apps=migrated,
            stdout=out,
            plan=[],
        )
    assert len(calls) == 1 and calls[0]["apps"] is migrated
    assert PeriodicTask.objects.filter(name="Inbox: enqueue unprocessed updates").count() == 1
    assert out.getvalue().count("Beat schedule (config/schedule.py): 1 job(s) created, 0 task path(s) updated.") == 1
    assert PeriodicTask.objects.count() == len(SCHEDULE)


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
