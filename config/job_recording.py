"""Every run of a scheduled job (config/schedule.py) is recorded as an apps.bot.models.JobRun, by Celery's task
signals in whatever process runs it: a worker, an eager call, `run_job`. Other tasks (updates, broadcast
slices) are let by after one dict lookup.

A recording that fails (the database is away) is logged and the job goes on: its writes are atomic on their
own (apps.bot.job_runs), so they never leave a job's transaction broken either."""

import logging
from collections.abc import Callable
from typing import Any

from celery import states
from celery.signals import task_failure, task_postrun, task_prerun

from apps.bot.job_runs import job_run_finish, job_run_start

from .schedule import SCHEDULE, Job

logger = logging.getLogger(__name__)

JOBS_BY_TASK: dict[str, Job] = {job.task: job for job in SCHEDULE}


def record_job_runs() -> None:
    """Connects the receivers; once, however often it is called."""
    task_prerun.connect(run_started, weak=False, dispatch_uid="config.job_recording.run_started")
    task_postrun.connect(run_ended, weak=False, dispatch_uid="config.job_recording.run_ended")
    task_failure.connect(run_failed, weak=False, dispatch_uid="config.job_recording.run_failed")


def run_started(sender: Any = None, task_id: str = "", **kwargs: Any) -> None:
    if job := _job(sender):
        _record(lambda: job_run_start(task=job.task, task_id=task_id))


def run_ended(sender: Any = None, task_id: str = "", retval: Any = None, state: str = "", **kwargs: Any) -> None:
    """The end of every run: its result when it succeeded, else what went wrong (a failure was recorded just
    before, by run_failed; a retry or a rejection was not)."""
    if job := _job(sender):
        if state == states.SUCCESS:
            _record(lambda: job_run_finish(task=job.task, task_id=task_id, ok=True, summary=job.summarise(retval)))
        else:
            _record(lambda: job_run_finish(task=job.task, task_id=task_id, ok=False, error=error_text(retval)))


def run_failed(sender: Any = None, task_id: str = "", exception: BaseException | None = None, **kwargs: Any) -> None:
    """A job that raised; also a job past its hard time limit, whose process the worker killed, so that the
    run's end is never sent: the worker's main process reports this."""
    if job := _job(sender):
        _record(lambda: job_run_finish(task=job.task, task_id=task_id, ok=False, error=error_text(exception)))


def error_text(error: Any) -> str:
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return str(error)


def _job(sender: Any) -> Job | None:
    return JOBS_BY_TASK.get(getattr(sender, "name", ""))


def _record(write: Callable[[], None]) -> None:
    try:
        write()
    except Exception:
        logger.warning("a run of a scheduled job could not be recorded", exc_info=True)
