from celery import shared_task

from . import services


# acks_late + reject_on_worker_lost: a worker that dies mid-update hands the message back;
# the claim token lets that redelivery take the update over at once.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def process_update(update_id: int) -> str | None:
    return services.inbox_process(update_id=update_id, token=process_update.request.id or "")


@shared_task
def sweep_inbox() -> int:
    return services.inbox_sweep()


@shared_task
def purge_processed_updates() -> int:
    return services.inbox_purge_processed()
