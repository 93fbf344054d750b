"""Every run of a scheduled job is recorded (apps.bot.models.JobRun): its result, or its error, and how long it
took; in the process that ran it, without ever breaking the job."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.analytics.models import AnalyticsEvent
from apps.analytics.tasks import purge_events, store_events
from apps.bot.job_runs import RUNS_KEPT, job_run_finish, job_run_start, job_runs_last
from apps.bot.models import JobRun
from apps.core.locks import held
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db

PURGE = "apps.analytics.tasks.purge_events"


def _old_events(count: int) -> None:
    old = timezone.now() - timedelta(days=400)
    AnalyticsEvent.objects.bulk_create(AnalyticsEvent(event_name="bot_started", occurred_at=old) for _ in range(count))


def test_a_job_run_is_recorded_with_what_it_did(settings):
    settings.ANALYTICS_RETENTION_DAYS = 365
    _old_events(3)
    assert purge_events.delay().get() == 3  # eager here, as without a broker

    run = JobRun.objects.get()
    assert (run.task, run.ok, run.summary, run.error) == (PURGE, True, "3 event(s) purged", "")
    assert run.started_at <= run.finished_at <= timezone.now()


def test_a_failed_run_is_recorded_with_its_error(monkeypatch):
    def fails() -> int:
        raise RuntimeError("disk full\nsecond line")

    monkeypatch.setattr("apps.analytics.jobs.events_purge", fails)
    assert purge_events.apply().failed()

    run = JobRun.objects.get()
    assert (run.ok, run.summary, run.error) == (False, "", "RuntimeError: disk full\nsecond line")
    assert run.finished_at is not None


def test_a_run_skipped_for_another_run_says_so():
    with held("purge_events", timeout=60):
        assert purge_events.delay().get() is None
    assert JobRun.objects.get().summary == "skipped: another run of this job was still going"


def test_tasks_that_are_not_scheduled_jobs_are_not_recorded():
    assert store_events.delay([]).get() == 0
    assert not JobRun.objects.exists()


def test_a_recording_that_fails_never_breaks_the_job(monkeypatch, settings):
    """The database refuses the recording's insert (a real database error, inside the test's transaction as
    an eager job's recording can be in its caller's): the job runs, and the transaction stays usable."""

    def refused(**fields: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO no_such_table VALUES (1)")

    monkeypatch.setattr(JobRun.objects, "create", refused)
    settings.ANALYTICS_RETENTION_DAYS = 365
    _old_events(2)
    assert purge_events.delay().get() == 2
    assert not AnalyticsEvent.objects.exists() and not JobRun.objects.exists()


def test_only_the_last_runs_of_each_job_are_kept():
    for n in range(RUNS_KEPT + 3):
        job_run_start(task=PURGE, task_id=f"run-{n}")
        job_run_finish(task=PURGE, task_id=f"run-{n}", ok=True, summary=str(n))
    job_run_start(task="apps.bot.tasks.sweep_inbox", task_id="other")
    job_run_finish(task="apps.bot.tasks.sweep_inbox", task_id="other", ok=True)

    assert JobRun.objects.filter(task=PURGE).count() == RUNS_KEPT
    assert not JobRun.objects.filter(task_id__in=["run-0", "run-1", "run-2"]).exists()
    assert job_runs_last([PURGE, "apps.bot.tasks.sweep_inbox", "never.ran"]).keys() == {
        PURGE,
        "apps.bot.tasks.sweep_inbox",
    }
    assert job_runs_last([PURGE])[PURGE].summary == str(RUNS_KEPT + 2)


def test_a_runs_end_is_recorded_once():
    """A failure is reported, then the end of the run: the first report stands."""
    job_run_start(task=PURGE, task_id="once")
    job_run_finish(task=PURGE, task_id="once", ok=False, error="TimeLimitExceeded: 300")
    job_run_finish(task=PURGE, task_id="once", ok=True, summary="too late")
    run = JobRun.objects.get()
    assert (run.ok, run.error, run.summary) == (False, "TimeLimitExceeded: 300", "")


@pytest.mark.django_db(transaction=True)
def test_a_job_run_by_a_real_worker_is_recorded(start_worker):
    _old_events(4)  # past the default ANALYTICS_RETENTION_DAYS, which the worker has
    start_worker()

    purge_events.delay()
    wait_until(lambda: JobRun.objects.filter(finished_at__isnull=False).exists(), timeout=30)
    run = JobRun.objects.get()
    assert (run.task, run.ok, run.summary) == (PURGE, True, "4 event(s) purged")
    assert not AnalyticsEvent.objects.exists()
