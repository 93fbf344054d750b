from celery import shared_task
from django.db import DatabaseError

from . import metering


# Named as when it lived in analytics: messages already queued under that name still find it.
@shared_task(
    name="apps.analytics.tasks.record_usage_later",
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=20,
    acks_late=True,
)
def record_usage_later(payload: dict) -> int:
    """A usage record the bot could not store at once: stored here, retried until the database is back."""
    return metering.usage_record_from_payload(payload).pk
