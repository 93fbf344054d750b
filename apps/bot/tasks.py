import logging
from datetime import datetime

from celery import shared_task
from django.db import DatabaseError

from apps.core.db import connection_lost
from apps.core.locks import single_run

from . import services
from .flows import erase, profiles

logger = logging.getLogger(__name__)


# acks_late + reject_on_worker_lost: a worker that dies mid-update hands the message back;
# the claim token lets that redelivery take the update over at once.
# A database connection that died under the update (PostgreSQL restarted or failed over) is retried after
# services.RETRY_DELAYS seconds: a retry keeps the task id, so it takes its own claim back.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=len(services.RETRY_DELAYS))
def process_update(self, update_id: int) -> str | None:
    retries = self.request.retries
    may_retry = retries < self.max_retries
    try:
        return services.inbox_process(update_id=update_id, token=self.request.id or "", may_retry=may_retry)
    except Exception as error:
        if not (may_retry and connection_lost(error)):
            raise
        logger.warning(
            "update %s met a dead database connection; retry %d in %d s",
            update_id,
            retries + 1,
            services.RETRY_DELAYS[retries],
        )
        raise self.retry(exc=error, countdown=services.RETRY_DELAYS[retries]) from error


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=10)
def sweep_erase_stragglers(user_id: int, pseudonym_id: int, erased_at: str) -> int:
    return erase.erase_stragglers(
        user_id=user_id, pseudonym_id=pseudonym_id, erased_at=datetime.fromisoformat(erased_at)
    )


@shared_task
def sweep_inbox() -> int:
    return services.inbox_sweep()


@shared_task
def purge_processed_updates() -> int:
    return services.inbox_purge_processed()


# Profile rotation moved here from the users app; the tasks keep their names, which beat's schedule and
# messages already queued carry.
@shared_task(name="apps.users.tasks.rotate_profiles")
@single_run("rotate_profiles", timeout=6 * 3600)
def rotate_profiles() -> int:
    return profiles.rotate_profiles().updated


@shared_task(name="apps.users.tasks.refresh_profile")
def refresh_profile(user_id: int) -> bool:
    try:
        return profiles.profile_refresh(user_id)
    except Exception as error:  # background spend: the contact that asked for it is long answered
        logger.warning("profile of user %s not refreshed: %s", user_id, error)
        return False
