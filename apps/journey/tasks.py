from celery import shared_task

from . import services


@shared_task(acks_late=True)
def refresh_journey(user_id: int, session_id: int | None = None) -> str | None:
    return services.journey_refresh(user_id=user_id, session_id=session_id)
