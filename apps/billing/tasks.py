from celery import shared_task

from . import services


@shared_task
def purge_logs() -> int:
    return services.logs_purge()


@shared_task
def release_stale_reserves() -> int:
    return services.reserves_release_stale()
