from celery import shared_task

from apps.core.locks import single_run

from . import jobs


@shared_task
@single_run("archive_activity", timeout=6 * 3600)
def archive_activity() -> int:
    return jobs.activity_archive()
