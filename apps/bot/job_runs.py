"""Runs of the scheduled jobs (apps.bot.models.JobRun): started, finished, pruned, and each job's last.

Both writes are atomic on their own, so a failing one inside a caller's transaction (a job run eagerly)
rolls back only itself."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from .models import JobRun

RUNS_KEPT = 50  # per job: a few weeks of a daily job, the last half hour of one every 30 seconds
ERROR_KEPT = 2000  # characters of an error: its message, not a whole traceback


@transaction.atomic
def job_run_start(*, task: str, task_id: str) -> None:
    JobRun.objects.create(task=task, task_id=task_id)


@transaction.atomic
def job_run_finish(*, task: str, task_id: str, ok: bool, summary: str = "", error: str = "") -> None:
    """Completes the run started under `task_id`, once (its end may be reported twice: a failure, then the
    end of the run), and drops the job's runs older than its last RUNS_KEPT."""
    finished = JobRun.objects.filter(task_id=task_id, finished_at=None).update(
        finished_at=timezone.now(),
        ok=ok,
        summary=summary[: JobRun._meta.get_field("summary").max_length],
        error=error[:ERROR_KEPT],
    )
    if finished:
        older = JobRun.objects.filter(task=task).order_by("-started_at", "-pk").values("pk")[RUNS_KEPT:]
        JobRun.objects.filter(pk__in=older).delete()


def job_runs_last(tasks: Iterable[str]) -> dict[str, JobRun]:
    """Each task's latest run, by task name, in one query; a task never run is absent."""
    latest = JobRun.objects.filter(task=OuterRef("task")).order_by("-started_at", "-pk").values("pk")[:1]
    return {run.task: run for run in JobRun.objects.filter(task__in=list(tasks), pk=Subquery(latest))}
