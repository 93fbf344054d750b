import logging

from celery import shared_task

from config.locks import single_run

from . import jobs

logger = logging.getLogger(__name__)


@shared_task
@single_run("archive_activity", timeout=6 * 3600)
def archive_activity() -> int:
    return jobs.activity_archive()


@shared_task
@single_run("rotate_profiles", timeout=6 * 3600)
def rotate_profiles() -> int:
    from .profiles import rotate_profiles as rotate

    return rotate().updated


@shared_task
def refresh_profile(user_id: int) -> bool:
    from .profiles import profile_refresh

    try:
        return profile_refresh(user_id)
    except Exception as error:  # background spend: the contact that asked for it is long answered
        logger.warning("profile of user %s not refreshed: %s", user_id, error)
        return False
