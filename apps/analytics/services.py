import hashlib
import hmac
import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from .catalogue import InvalidEvent, validate_event
from .models import AnalyticsEvent

logger = logging.getLogger(__name__)


def daily_session_id(user_id: int | None, day: datetime) -> str:
    """Seed 002's session id: one per user and day, not reversible without the secret."""
    message = f"{user_id}-{day.date().isoformat()}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


def track(
    event_name: str,
    *,
    user_id: int | None,
    properties: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> bool:
    """Record a product event. Never raises into the caller: analytics must not break the bot.

    Returns whether the event was accepted.
    """
    if not settings.ANALYTICS_ENABLED:
        return False
    try:
        properties = dict(properties or {})
        validate_event(event_name, properties)
        occurred_at = occurred_at or timezone.now()
        AnalyticsEvent.objects.create(
            event_name=event_name,
            user_id=user_id,
            session_id=daily_session_id(user_id, occurred_at),
            properties=properties,
            occurred_at=occurred_at,
        )
        return True
    except InvalidEvent as error:
        logger.warning("analytics event dropped: %s", error)
    except Exception:
        logger.exception("analytics event %r lost", event_name)
    return False
