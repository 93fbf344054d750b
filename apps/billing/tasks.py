from celery import shared_task

from apps.core import sending
from apps.core.locks import single_run

from . import reconcile, services


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


# Routed to the payments queue (CELERY_TASK_ROUTES) with the other money jobs. A run that could not read
# Telegram is stored with its error, and the job fails with it.
@shared_task
@single_run("reconcile_stars", timeout=30 * 60)
def reconcile_stars() -> dict[str, int]:
    run = reconcile.stars_reconcile()
    if run.error:
        raise sending.SendFailed(run.error)
    return {
        "run": run.pk,
        "missing_payments": run.missing_payments,
        "unrecorded_refunds": run.unrecorded_refunds,
        "unknown_to_telegram": run.unknown_to_telegram,
    }
