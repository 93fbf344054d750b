"""Every periodic job of the project, with its default schedule, in one place.

New jobs go here, and only here: not in a data migration. After every `migrate` (and every `flush`)
`sync_schedule` writes this list into django-celery-beat's tables, where beat reads it and staff edit it
in the admin ("Periodic tasks"):

- a job whose PeriodicTask (matched by name) is missing is created with the default below: an interval
  (`every`, seconds) for a frequent job, a crontab at a time of day in settings.TIME_ZONE (`at`) for a
  daily or weekly one;
- a job that exists keeps whatever staff set (schedule, enabled, arguments...), except its task path,
  which follows this module when a task moved (the name is the key, so renaming a job here creates a
  new row beside the old one: delete the old one in the admin or in a data migration);
- a daily or weekly job still on the interval it had by default before jobs ran at a time of day (exactly
  86,400 or 604,800 seconds, and no crontab) moves to its crontab: that interval is one staff never chose,
  and "every 86400 seconds" ran the job at whatever hour the database was first migrated. A job staff
  gave another interval, or a crontab of their own, keeps it;
- nothing else is touched: rows staff added themselves, or jobs removed from this list, stay.

The crontab's time zone is TIME_ZONE when the crontab is created; a crontab staff set keeps its own.
The jobs used to be created by data migrations (analytics 0005, billing 0002, bot 0002, broadcast 0002,
users 0003); those are empty now and kept only because databases have them recorded as applied.
`task` is the name a task is registered under, which outlives moves between apps
(`@shared_task(name=...)`): rotation lives in apps/bot/tasks.py and is still "apps.users.tasks.rotate_profiles".
"""

import sys
from dataclasses import KW_ONLY, dataclass, field, replace
from functools import partial
from typing import Any, TextIO

from django.apps import apps as global_apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, router
from django_celery_beat.utils import now

DAY = 24 * 60 * 60
WEEK = 7 * DAY
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")  # cron's numbering


@dataclass(frozen=True)
class At:
    """A time of day in TIME_ZONE, every day or on one day of the week: a daily or weekly job's crontab."""

    hour: int
    minute: int
    weekday: int | None = None  # index in WEEKDAYS (0 is Sunday, as in cron); None: every day

    @property
    def old_interval(self) -> int:
        """The interval, in seconds, such a job had by default before jobs ran at a time of day."""
        return DAY if self.weekday is None else WEEK

    def crontab_fields(self) -> dict[str, str]:
        weekday = "*" if self.weekday is None else str(self.weekday)
        return {
            "minute": str(self.minute),
            "hour": str(self.hour),
            "day_of_week": weekday,
            "day_of_month": "*",
            "month_of_year": "*",
        }


def daily(time: str) -> At:
    """Every day at `time` ("HH:MM")."""
    hour, minute = (int(part) for part in time.split(":"))
    return At(hour, minute)


def weekly(day: str, time: str) -> At:
    """Every `day` ("sunday") at `time` ("HH:MM")."""
    return replace(daily(time), weekday=WEEKDAYS.index(day))


# What a run that returned nothing did: the scheduled tasks return None only when single_run skipped them
# because another run of the same job held its lock.
SKIPPED = "skipped: another run of this job was still going"


@dataclass(frozen=True)
class Job:
    name: str  # shown to staff, and the key: a PeriodicTask with this name is this job
    task: str  # the Celery task's registered name
    every: int | None = None  # default interval in seconds, for frequent jobs
    _: KW_ONLY
    at: At | None = None  # default time of day, for daily and weekly jobs: daily("03:00"), weekly("sunday", "04:00")
    description: str = ""  # what the job does, in one line, for the admin's job list
    # How a run's result reads in the job list: "{:,} events purged"; a dict result by its keys, "{refunded:,} ...".
    summary: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # other PeriodicTask fields, set on creation only

    def __post_init__(self) -> None:
        if (self.every is None) == (self.at is None):
            raise ValueError(f"job {self.name!r} needs either `every` or `at`")

    def summarise(self, result: Any) -> str:
        """A run's return value as staff read it; the value itself when `summary` does not fit it."""
        if result is None:
            return SKIPPED
        try:
            text = self.summary.format(**result) if isinstance(result, dict) else self.summary.format(result)
        except (KeyError, IndexError, ValueError):
            text = ""
        return text or str(result)


# Daily jobs run in the quiet night hours of TIME_ZONE, a quarter of an hour or more apart, the database's size
# snapshot last, after the purges.
SCHEDULE: list[Job] = [
    # apps.bot: the inbox
    Job(
        "Inbox: enqueue unprocessed updates",
        "apps.bot.tasks.sweep_inbox",
        60,
        description="Sends updates that were stored but never processed (broker down, worker died) through the bot.",
        summary="{:,} update(s) enqueued again",
    ),
    Job(
        "Inbox: forget processed updates after 7 days",
        "apps.bot.tasks.purge_processed_updates",
        at=daily("02:30"),
        description="Deletes processed updates and their stored replies once Telegram no longer resends them.",
        summary="{:,} update(s) and replies deleted",
    ),
    # apps.billing
    Job(
        "Billing: purge generation and debug logs after LOG_RETENTION_DAYS",
        "apps.billing.tasks.purge_logs",
        at=daily("04:15"),
        description="Deletes generation and debug logs older than LOG_RETENTION_DAYS.",
        summary="{:,} log(s) deleted",
    ),
    Job(
        "Billing: release holds of answers that never settled",
        "apps.billing.tasks.release_stale_reserves",
        300,
        description="Gives users back the credits held for answers that never settled (a worker died mid-answer).",
        summary="{:,} hold(s) released",
    ),
    Job(
        "Billing: settle refunds Telegram did not confirm (getStarTransactions)",
        "apps.billing.tasks.settle_pending_refunds",
        300,
        description="Looks up pending refunds in Telegram's Stars ledger: refunded there, or undone after the grace.",
        summary="{refunded:,} refunded, {undone:,} undone, {pending:,} still pending",
    ),
    Job(
        "Billing: lapse subscriptions not renewed (unused credits expire with SUBSCRIPTION_CREDITS_EXPIRE)",
        "apps.billing.tasks.lapse_subscriptions",
        3600,
        description="Ends subscriptions whose period ran out unrenewed; their unused credits expire if so configured.",
        summary="{:,} subscription(s) lapsed",
    ),
    Job(
        "Billing: reconcile payments and refunds with Telegram's Stars ledger (STARS_RECONCILE_DAYS)",
        "apps.billing.tasks.reconcile_stars",
        at=daily("04:30"),
        description="Compares the last STARS_RECONCILE_DAYS of payments and refunds with Telegram's Stars ledger.",
        summary="{missing_payments:,} missing payment(s), {unrecorded_refunds:,} unrecorded refund(s) applied, "
        "{unknown_to_telegram:,} unknown to Telegram (run {run})",
    ),
    # retention and housekeeping
    Job(
        "Users: archive old activity of busy users (weekly)",
        "apps.users.tasks.archive_activity",
        at=weekly("sunday", "04:00"),
        description="Moves activity older than ACTIVITY_ARCHIVE_DAYS of users with over 1,000 rows to the archive.",
        summary="{:,} activity row(s) archived",
    ),
    Job(
        "Database: create monthly partitions ahead",
        "apps.analytics.tasks.create_partitions",
        at=daily("02:45"),
        description="Creates this month's and the next 3 months' partitions of the raw events and the activity log "
        "(PostgreSQL).",
        summary="{:,} partition(s) created",
    ),
    Job(
        "Analytics: purge raw events after ANALYTICS_RETENTION_DAYS",
        "apps.analytics.tasks.purge_events",
        at=daily("03:30"),
        description="Counts finished days into daily totals, then deletes events older than ANALYTICS_RETENTION_DAYS.",
        summary="{:,} event(s) purged",
    ),
    Job(
        "Sessions: forget completed conversations' turns after the retention window",
        "apps.sessions.tasks.purge_session_histories",
        at=daily("03:45"),
        description="Deletes conversation turns older than SESSION_HISTORY_RETENTION_DAYS; sessions' figures stay.",
        summary="{:,} session(s) lost turns",
    ),
    Job(
        "Database: daily size snapshot",
        "apps.analytics.tasks.snapshot_database_size",
        at=daily("05:00"),
        description="Records each table's size and rows for the Database size page, after the night's purges.",
        summary="snapshot #{} recorded",
    ),
    # profiles (the task moved to apps/bot/tasks.py and kept its registered name)
    Job(
        "Users: rotate psychological profiles (daily)",
        "apps.users.tasks.rotate_profiles",
        at=daily("03:00"),
        description="Has the LLM rewrite the profiles, over 7 days old, of users seen in the last 30 days.",
        summary="{:,} profile(s) rewritten",
    ),
    # apps.broadcast
    Job(
        "Broadcasts: start scheduled, resume stalled (every 30 s)",
        "apps.broadcast.tasks.dispatch_broadcasts",
        30,
        description="Starts broadcasts whose time has come, and hands stalled ones to a new runner.",
        summary="{started:,} started, {resumed:,} resumed",
    ),
]


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)  # job names
    moved: list[str] = field(default_factory=list)  # job names whose task path was updated
    timed: list[str] = field(default_factory=list)  # job names moved from their old interval to their time of day

    @property
    def changed(self) -> bool:
        return bool(self.created or self.moved or self.timed)


def sync_schedule(
    jobs: list[Job] | None = None, *, using: str = DEFAULT_DB_ALIAS, apps: Any = global_apps
) -> SyncResult:
    """Write `jobs` (default: SCHEDULE) into django-celery-beat's tables; idempotent. `apps` is the model
    registry to use: post_migrate hands over the migrated state's, as Django asks of its receivers."""
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    tasks, intervals = PeriodicTask.objects.using(using), IntervalSchedule.objects.using(using)

    def interval(seconds: int) -> Any:
        # IntervalSchedule has no unique constraint (staff may have made twins): take the oldest match.
        found = intervals.filter(every=seconds, period="seconds").order_by("pk").first()
        return found or intervals.create(every=seconds, period="seconds")

    def crontab(at: At) -> Any:
        # Nor has CrontabSchedule.
        fields = {**at.crontab_fields(), "timezone": settings.TIME_ZONE}
        crontabs = CrontabSchedule.objects.using(using)
        return crontabs.filter(**fields).order_by("pk").first() or crontabs.create(**fields)

    def on_interval(row: Any, seconds: int) -> bool:
        return intervals.filter(pk=row.interval_id, every=seconds, period="seconds").exists()

    result = SyncResult()
    for job in jobs if jobs is not None else SCHEDULE:
        schedule = (
            {"interval": partial(interval, job.every)} if job.at is None else {"crontab": partial(crontab, job.at)}
        )
        # get_or_create: a concurrent `migrate` that created the row first is found, not duplicated.
        row, created = tasks.get_or_create(name=job.name, defaults={"task": job.task, **schedule, **job.options})
        if created:
            result.created.append(job.name)
            continue
        if row.task != job.task:
            tasks.filter(pk=row.pk).update(task=job.task)
            result.moved.append(job.name)
        if job.at is not None and row.crontab_id is None and on_interval(row, job.at.old_interval):
            tasks.filter(pk=row.pk).update(interval=None, crontab=crontab(job.at))
            result.timed.append(job.name)
    if result.changed:
        # What PeriodicTask's own signals do: tell a running beat to reload (historical models send none).
        PeriodicTasks.objects.using(using).update_or_create(ident=1, defaults={"last_update": now()})
    return result


def sync_schedule_after_migrate(
    sender: Any,
    *,
    using: str = DEFAULT_DB_ALIAS,
    apps: Any = global_apps,
    verbosity: int = 1,
    stdout: TextIO | None = None,
    **kwargs: Any,
) -> None:
    """post_migrate receiver (connected in config.apps). `migrate` hands over the migrated state's
    models; `flush` (a transactional test's teardown too) sends none, so the current models are used."""
    try:
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    except LookupError:  # django_celery_beat migrated back to zero: no tables to write to
        return
    if not router.allow_migrate_model(using, PeriodicTask):
        return
    result = sync_schedule(using=using, apps=apps)
    if verbosity >= 1 and result.changed:
        (stdout or sys.stdout).write(
            f"  Beat schedule (config/schedule.py): {len(result.created)} job(s) created, "
            f"{len(result.moved)} task path(s) updated, {len(result.timed)} moved to their time of day.\n"
        )
