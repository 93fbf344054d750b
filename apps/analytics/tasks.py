from celery import shared_task
from django.db import DatabaseError

from apps.core.locks import single_run

from . import jobs, services


@shared_task(
    acks_late=True, reject_on_worker_lost=True, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=20
)
def store_events(events: list[dict]) -> int:
    return services.events_store(events)


@shared_task
@single_run("purge_events", timeout=3 * 3600)
def purge_events() -> int:
    """Counts the finished days first: raw events only go once their days are counted."""
    jobs.events_rollup()
    return jobs.events_purge()


@shared_task
@single_run("create_partitions", timeout=3600)
def create_partitions() -> int:
    """Monthly partitions made ahead, so no event or activity waits in a DEFAULT partition (PostgreSQL)."""
    return jobs.partitions_create()


@shared_task
@single_run("database_size_snapshot", timeout=600)
def snapshot_database_size() -> int:
    return jobs.database_size_snapshot().pk
