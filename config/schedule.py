"""Every periodic job of the project, with its default schedule, in one place.

New jobs go here, and only here: not in a data migration. After every `migrate` (and every `flush`)
`sync_schedule` writes this list into django-celery-beat's tables, where beat reads it and staff edit it
in the admin ("Periodic tasks"):

- a job whose PeriodicTask (matched by name) is missing is created with the default below;
- a job that exists keeps whatever staff set (interval, enabled, arguments...), except its task path,
  which follows this module when a task moved (the name is the key, so renaming a job here creates a
  new row beside the old one: delete the old one in the admin or in a data migration);
- nothing else is touched: rows staff added themselves, or jobs removed from this list, stay.

The jobs used to be created by data migrations (analytics 0005, billing 0002, bot 0002, broadcast 0002,
users 0003); those are empty now and kept only because databases have them recorded as applied.
`task` is the name a task is registered under, which outlives moves between apps
(`@shared_task(name=...)`): rotation lives in apps/bot/tasks.py and is still "apps.users.tasks.rotate_profiles".
"""

import sys
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TextIO

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, router
from django_celery_beat.utils import now

DAY = 24 * 60 * 60


@dataclass(frozen=True)
class Job:
    name: str  # shown to staff, and the key: a PeriodicTask with this name is this job
    task: str  # the Celery task's registered name
    every: int  # default interval, in seconds
    options: dict[str, Any] = field(default_factory=dict)  # other PeriodicTask fields, set on creation only


SCHEDULE: list[Job] = [
    # apps.bot: the inbox
    Job("Inbox: enqueue unprocessed updates", "apps.bot.tasks.sweep_inbox", 60),
    Job("Inbox: forget processed updates after 7 days", "apps.bot.tasks.purge_processed_updates", DAY),
    # apps.billing
    Job("Billing: purge generation and debug logs after LOG_RETENTION_DAYS", "apps.billing.tasks.purge_logs", DAY),
    Job("Billing: release holds of answers that never settled", "apps.billing.tasks.release_stale_reserves", 300),
    Job(
        "Billing: settle refunds Telegram did not confirm (getStarTransactions)",
        "apps.billing.tasks.settle_pending_refunds",
        300,
    ),
    Job(
        "Billing: lapse subscriptions not renewed (unused credits expire with SUBSCRIPTION_CREDITS_EXPIRE)",
        "apps.billing.tasks.lapse_subscriptions",
        3600,
    ),
    Job(
        "Billing: reconcile payments and refunds with Telegram's Stars ledger (STARS_RECONCILE_DAYS)",
        "apps.billing.tasks.reconcile_stars",
        DAY,
    ),
    # retention and housekeeping
    Job("Users: archive old activity of busy users (weekly)", "apps.users.tasks.archive_activity", 7 * DAY),
    Job("Analytics: purge raw events after ANALYTICS_RETENTION_DAYS", "apps.analytics.tasks.purge_events", DAY),
    Job(
        "Sessions: forget completed conversations' turns after the retention window",
        "apps.sessions.tasks.purge_session_histories",
        DAY,
    ),
    Job("Database: daily size snapshot", "apps.analytics.tasks.snapshot_database_size", DAY),
    # profiles (the task moved to apps/bot/tasks.py and kept its registered name)
    Job("Users: rotate psychological profiles (daily)", "apps.users.tasks.rotate_profiles", DAY),
    # apps.broadcast
    Job("Broadcasts: start scheduled, resume stalled (every 30 s)", "apps.broadcast.tasks.dispatch_broadcasts", 30),
]


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)  # job names
    moved: list[str] = field(default_factory=list)  # job names whose task path was updated

    @property
    def changed(self) -> bool:
        return bool(self.created or self.moved)


def sync_schedule(
    jobs: list[Job] | None = None, *, using: str = DEFAULT_DB_ALIAS, apps: Any = global_apps
) -> SyncResult:
    """Write `jobs` (default: SCHEDULE) into django-celery-beat's tables; idempotent. `apps` is the model
    registry to use: post_migrate hands over the migrated state's, as Django asks of its receivers."""
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    tasks, intervals = PeriodicTask.objects.using(using), IntervalSchedule.objects.using(using)

    def interval(seconds: int) -> Any:
        # IntervalSchedule has no unique constraint (staff may have made twins): take the oldest match.
        found = intervals.filter(every=seconds, period="seconds").order_by("pk").first()
        return found or intervals.create(every=seconds, period="seconds")

    result = SyncResult()
    for job in jobs if jobs is not None else SCHEDULE:
        # get_or_create: a concurrent `migrate` that created the row first is found, not duplicated.
        row, created = tasks.get_or_create(
            name=job.name, defaults={"task": job.task, "interval": partial(interval, job.every), **job.options}
        )
        if created:
            result.created.append(job.name)
        elif row.task != job.task:
            tasks.filter(pk=row.pk).update(task=job.task)
            result.moved.append(job.name)
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
            f"{len(result.moved)} task path(s) updated.\n"
        )
