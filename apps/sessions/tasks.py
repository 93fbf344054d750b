from celery import shared_task

from apps.core.locks import single_run

from . import services


@shared_task
@single_run("purge_session_histories", timeout=3600)
def purge_session_histories() -> int:
    return services.session_histories_purge()
