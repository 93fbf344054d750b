from celery import shared_task

from apps.core.locks import single_run

from . import services


@shared_task
def purge_logs() -> int:
    return services.logs_purge()


@shared_task
def release_stale_reserves() -> int:
    return services.reserves_release_stale()


# Routed to the payments queue (CELERY_TASK_ROUTES): money does not wait behind chat.
@shared_task
@single_run("settle_pending_refunds", timeout=15 * 60)
def settle_pending_refunds() -> dict[str, int]:
    settled = services.refunds_settle()
    return {"refunded": len(settled.refunded), "undone": len(settled.undone), "pending": len(settled.pending)}


# Routed to the payments queue (CELERY_TASK_ROUTES) with the other money jobs.
@shared_task
@single_run("lapse_subscriptions", timeout=15 * 60)
def lapse_subscriptions() -> int:
    return len(services.subscriptions_lapse())
