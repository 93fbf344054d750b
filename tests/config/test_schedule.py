"""The beat schedule (config/schedule.py): what migrate writes into django-celery-beat's tables, what a later
sync changes, and what it leaves as staff set it."""

from datetime import UTC, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from config.celery import app
from config.schedule import DAY, SCHEDULE, SKIPPED, WEEK, WEEKDAYS, Job, daily, sync_schedule, weekly

pytestmark = pytest.mark.django_db

ROTATION = "Users: rotate psychological profiles (daily)"
ARCHIVE = "Users: archive old activity of busy users (weekly)"
EVENTS = "Analytics: purge raw events after ANALYTICS_RETENTION_DAYS"
SESSIONS = "Sessions: forget completed conversations' turns after the retention window"
SNAPSHOT = "Database: daily size snapshot"

# Each job's default: seconds between runs, or a time of day in TIME_ZONE (UTC in the tests).
DEFAULTS = {
    "apps.bot.tasks.sweep_inbox": 60,
    "apps.bot.tasks.purge_processed_updates": "02:30 UTC",
    "apps.billing.tasks.purge_logs": "04:15 UTC",
    "apps.billing.tasks.release_stale_reserves": 300,
    "apps.billing.tasks.settle_pending_refunds": 300,
    "apps.billing.tasks.lapse_subscriptions": 3600,
    "apps.billing.tasks.reconcile_stars": "04:30 UTC",
    "apps.users.tasks.archive_activity": "sunday 04:00 UTC",
    "apps.analytics.tasks.create_partitions": "02:45 UTC",
    "apps.analytics.tasks.purge_events": "03:30 UTC",
    "apps.sessions.tasks.purge_session_histories": "03:45 UTC",
    "apps.analytics.tasks.snapshot_database_size": "05:00 UTC",
    "apps.users.tasks.rotate_profiles": "03:00 UTC",
    "apps.broadcast.tasks.dispatch_broadcasts": 30,
}


def _when(row: PeriodicTask) -> int | str:
    """A row's schedule: seconds between runs, or "HH:MM zone" (daily) and "sunday HH:MM zone" (weekly)."""
    if row.interval:
        assert row.interval.period == "seconds" and not row.crontab
        return row.interval.every
    cron = row.crontab
    assert (cron.day_of_month, cron.month_of_year) == ("*", "*")
    day = "" if cron.day_of_week == "*" else f"{WEEKDAYS[int(cron.day_of_week)]} "
    return f"{day}{int(cron.hour):02}:{int(cron.minute):02} {cron.timezone}"


def _row(name: str) -> PeriodicTask:
    return PeriodicTask.objects.select_related("interval", "crontab").get(name=name)


def test_every_job_is_scheduled_after_migrate_and_names_a_real_task():
    app.loader.import_default_modules()  # what a worker does at start: every app's tasks module
    scheduled = {row.task: _when(row) for row in PeriodicTask.objects.select_related("interval", "crontab")}
    for task, when in DEFAULTS.items():
        assert scheduled.get(task) == when, task
        assert task in app.tasks, f"{task} is not a registered task"


def test_every_job_says_what_it_does_and_daily_jobs_run_apart():
    assert all(job.description for job in SCHEDULE), "the admin's job list shows each job's description"
    times = [(job.at.hour, job.at.minute) for job in SCHEDULE if job.at]
    assert len(set(times)) == len(times), "no two daily or weekly jobs start at the same minute"


def _old_interval(job: Job) -> int:
    return job.every or job.at.old_interval


# What the five data migrations (analytics 0005, billing 0002, bot 0002, broadcast 0002, users 0003) created
# before the schedule moved to config/schedule.py: the same names, registered task names and intervals.
MIGRATED_JOBS = {
    ("Inbox: enqueue unprocessed updates", "apps.bot.tasks.sweep_inbox", 60),
    ("Inbox: forget processed updates after 7 days", "apps.bot.tasks.purge_processed_updates", 86400),
    ("Billing: purge generation and debug logs after LOG_RETENTION_DAYS", "apps.billing.tasks.purge_logs", 86400),
    ("Billing: release holds of answers that never settled", "apps.billing.tasks.release_stale_reserves", 300),
    (ARCHIVE, "apps.users.tasks.archive_activity", 7 * 86400),
    (EVENTS, "apps.analytics.tasks.purge_events", 86400),
    (SESSIONS, "apps.sessions.tasks.purge_session_histories", 86400),
    (SNAPSHOT, "apps.analytics.tasks.snapshot_database_size", 86400),
    (ROTATION, "apps.users.tasks.rotate_profiles", 86400),
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
    ("Database: create monthly partitions ahead", "apps.analytics.tasks.create_partitions", 86400),
}


def _beat_tables() -> tuple[list[dict], ...]:
    """Every row of the tables the sync may write, every column."""
    return (
        list(PeriodicTask.objects.order_by("pk").values()),
        list(IntervalSchedule.objects.order_by("pk").values()),
        list(CrontabSchedule.objects.order_by("pk").values()),
        list(PeriodicTasks.objects.order_by("pk").values()),
    )


def test_the_schedule_module_lists_every_job_the_migrations_created_and_migrate_syncs_it():
    """Each job the migrations created is here, a daily or weekly one with the interval it replaces."""
    assert {(job.name, job.task, _old_interval(job)) for job in SCHEDULE} == MIGRATED_JOBS | ADDED_JOBS
    assert len({job.name for job in SCHEDULE}) == len(SCHEDULE), "a job's name is its key: no two alike"
    rows = {row.name: (row.task, _when(row), row.enabled) for row in PeriodicTask.objects.all()}
    for name, task, _ in MIGRATED_JOBS:
        assert rows.get(name) == (task, DEFAULTS[task], True), name


def test_the_sync_is_idempotent():
    PeriodicTask.objects.filter(name__in=[job.name for job in SCHEDULE]).delete()
    IntervalSchedule.objects.all().delete()
    CrontabSchedule.objects.all().delete()
    first = sync_schedule()
    assert sorted(first.created) == sorted(job.name for job in SCHEDULE) and not first.moved and not first.timed
    after_first = _beat_tables()
    assert len(after_first[1]) == len({job.every for job in SCHEDULE if job.every}), "one interval per period"
    assert len(after_first[2]) == len({job.at for job in SCHEDULE if job.at}), "one crontab per time of day"

    second = sync_schedule()
    assert not second.changed
    assert _beat_tables() == after_first, "the second run changed nothing, not even beat's change marker"
    assert PeriodicTask.objects.count() == len(SCHEDULE)


def test_a_synced_database_is_left_as_it_is():
    """migrate already synced the test database: another sync finds nothing to do."""
    before = _beat_tables()
    assert not sync_schedule().changed
    assert _beat_tables() == before


def test_daily_and_weekly_jobs_get_a_crontab_at_their_time_of_day_in_the_time_zone(settings):
    settings.TIME_ZONE = "Europe/Moscow"
    PeriodicTask.objects.filter(name__in=[ROTATION, ARCHIVE]).delete()
    assert sorted(sync_schedule().created) == sorted([ROTATION, ARCHIVE])

    rotation, archive = _row(ROTATION), _row(ARCHIVE)
    assert rotation.interval is None and archive.interval is None
    assert _when(rotation) == "03:00 Europe/Moscow" and _when(archive) == "sunday 04:00 Europe/Moscow"
    assert rotation.crontab.timezone == ZoneInfo("Europe/Moscow")

    # Beat reads the crontab in its own zone: 03:00 in Moscow is midnight UTC.
    schedule = rotation.crontab.schedule
    ran = datetime(2026, 12, 2, 0, 0, 1, tzinfo=UTC)
    schedule.nowfun = lambda: datetime(2026, 12, 2, 23, 59, 30, tzinfo=UTC).astimezone(schedule.tz)
    due, next_check = schedule.is_due(ran)
    assert not due and 0 < next_check <= 30
    schedule.nowfun = lambda: datetime(2026, 12, 3, 0, 0, 2, tzinfo=UTC).astimezone(schedule.tz)
    assert schedule.is_due(ran).is_due


def _on_interval(name: str, every: int, period: str = IntervalSchedule.SECONDS) -> None:
    """The row as it was before jobs ran at a time of day, or as staff set it."""
    row = PeriodicTask.objects.get(name=name)
    row.crontab, row.interval = None, IntervalSchedule.objects.create(every=every, period=period)
    row.save()


def test_a_job_on_its_old_default_interval_moves_to_its_time_of_day_and_staffs_schedules_stay():
    _on_interval(ROTATION, DAY)  # as every database migrated before: "every 86400 seconds"
    _on_interval(ARCHIVE, WEEK)
    _on_interval(EVENTS, 12, IntervalSchedule.HOURS)  # staff's choice
    _on_interval(SESSIONS, 1, IntervalSchedule.DAYS)  # staff's choice too, if as long as the old default
    snapshot = PeriodicTask.objects.get(name=SNAPSHOT)  # staff moved it to 01:10
    snapshot.crontab = CrontabSchedule.objects.create(minute="10", hour="1", timezone="Asia/Almaty")
    snapshot.save()
    noticed_by_beat = PeriodicTasks.last_change()

    result = sync_schedule()
    assert sorted(result.timed) == sorted([ROTATION, ARCHIVE]) and not result.created and not result.moved
    assert (_when(_row(ROTATION)), _when(_row(ARCHIVE))) == ("03:00 UTC", "sunday 04:00 UTC")
    events, sessions = _row(EVENTS), _row(SESSIONS)
    assert (events.interval.every, events.interval.period, events.crontab) == (12, "hours", None)
    assert (sessions.interval.every, sessions.interval.period, sessions.crontab) == (1, "days", None)
    assert _when(_row(SNAPSHOT)) == "01:10 Asia/Almaty"
    assert PeriodicTasks.last_change() > noticed_by_beat, "a running beat is told to reload"
    assert not sync_schedule().changed


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
    _on_interval(ROTATION, 12, IntervalSchedule.HOURS)
    PeriodicTask.objects.filter(name=ROTATION).update(task="apps.users.tasks.rotate_profiles_v0")  # an old name
    noticed_by_beat = PeriodicTasks.last_change()

    result = sync_schedule()
    assert (result.created, result.moved, result.timed) == ([], [ROTATION], [])
    job = _row(ROTATION)
    assert job.task == "apps.users.tasks.rotate_profiles"
    assert (job.interval.every, job.interval.period) == (12, IntervalSchedule.HOURS), "staff's schedule stays"
    assert PeriodicTasks.last_change() > noticed_by_beat, "a running beat is told to reload"
    assert not sync_schedule().changed


@pytest.mark.parametrize(
    ("job", "when"),
    [
        (Job("Test: a job added later", "apps.analytics.tasks.purge_events", 600), 600),
        (Job("Test: a daily job added later", "apps.analytics.tasks.purge_events", at=daily("06:10")), "06:10 UTC"),
        (
            Job("Test: a weekly one", "apps.analytics.tasks.purge_events", at=weekly("friday", "23:05")),
            "friday 23:05 UTC",
        ),
    ],
)
def test_a_new_job_in_the_module_is_created_with_its_schedule_and_options(job, when):
    new = Job(job.name, job.task, job.every, at=job.at, options={"queue": "slow", "priority": 3})
    assert sync_schedule([*SCHEDULE, new]).created == [new.name]
    row = _row(new.name)
    assert (row.task, _when(row), row.queue, row.priority) == (new.task, when, "slow", 3)


def test_a_job_has_an_interval_or_a_time_of_day():
    with pytest.raises(ValueError, match="either `every` or `at`"):
        Job("Test: when?", "apps.analytics.tasks.purge_events")
    with pytest.raises(ValueError, match="either `every` or `at`"):
        Job("Test: both", "apps.analytics.tasks.purge_events", DAY, at=daily("03:00"))


@pytest.mark.parametrize(
    ("summary", "result", "text"),
    [
        ("{:,} event(s) purged", 1204, "1,204 event(s) purged"),
        ("{started:,} started, {resumed:,} resumed", {"started": 2, "resumed": 0}, "2 started, 0 resumed"),
        ("{:,} event(s) purged", None, SKIPPED),  # single_run's answer when another run held the lock
        ("", 42, "42"),
        ("{refunded} refunded", 3, "3"),  # a summary that does not fit the result: the result itself
    ],
)
def test_a_runs_result_reads_as_its_jobs_summary_says(summary, result, text):
    job = Job("Test: summarised", "apps.analytics.tasks.purge_events", 60, summary=summary)
    assert job.summarise(result) == text


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
    _on_interval(ROTATION, DAY)  # the historical models move it too

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
    assert _when(_row(ROTATION)) == "03:00 UTC"
    report = (
        "Beat schedule (config/schedule.py): 1 job(s) created, 0 task path(s) updated, 1 moved to their time of day."
    )
    assert out.getvalue().count(report) == 1
    assert PeriodicTask.objects.count() == len(SCHEDULE)
