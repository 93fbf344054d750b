from celery import shared_task

from apps.core.locks import single_run

from . import delivery, services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_broadcast(broadcast_id: int) -> str:
    """One slice of a running broadcast (BROADCAST_SLICE_SECONDS); the runner enqueues the next."""
    return delivery.broadcast_run(broadcast_id)


@shared_task
@single_run("dispatch_broadcasts", timeout=300)
def dispatch_broadcasts() -> dict[str, int]:
    return services.broadcasts_dispatch()
