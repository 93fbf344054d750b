import hashlib
import hmac
import json
import logging
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.llm.models import LLMRequest, RequestStatus, RequestType
from apps.llm.privacy import stored_error, stored_prompt
from apps.users.models import TelegramUser
from config.publisher import BatchPublisher

from .catalogue import InvalidEvent, validate_event
from .models import AnalyticsEvent
from .usage import request_with_rollups_insert, rollups_add

logger = logging.getLogger(__name__)


def daily_session_id(user_id: int | None, day: datetime) -> str:
    """Seed 002's session id: one per user and day, not reversible without the secret."""
    message = f"{user_id}-{day.date().isoformat()}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


# Replaced by an HMAC before storage, wherever they appear in an event's properties.
SENSITIVE_PROPERTIES = frozenset({"phone", "phone_number", "email", "address", "full_name"})


def pseudonym(value: object) -> str:
    """The same value always gives the same pseudonym (so it still counts and joins), never the value."""
    digest = hmac.new(settings.SECRET_KEY.encode(), str(value).encode(), hashlib.sha256).hexdigest()
    return f"hmac:{digest[:32]}"


def anonymise(properties: dict[str, Any]) -> dict[str, Any]:
    sensitive = SENSITIVE_PROPERTIES | set(settings.ANALYTICS_SENSITIVE_PROPERTIES)
    return {
        key: pseudonym(value)
        if key in sensitive and value is not None
        else anonymise(value)
        if isinstance(value, dict)
        else value
        for key, value in properties.items()
    }


def track(
    event_name: str,
    *,
    user_id: int | None,
    properties: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> bool:
    """Record a product event. Never raises into the caller: analytics must not break the bot.

    Validates and anonymises here; with a broker the event is handed to this process's publisher
    thread (no database round trip for the caller) and stored in batches by a Celery task; without
    one it is stored at once. Returns whether the event was accepted.
    """
    if not settings.ANALYTICS_ENABLED:
        return False
    try:
        properties = anonymise(dict(properties or {}))
        validate_event(event_name, properties)
        try:
            json.dumps(properties)
        except (TypeError, ValueError) as error:
            raise InvalidEvent(f"event {event_name!r} has properties that are not JSON: {error}") from None
        occurred_at = occurred_at or timezone.now()
        event = {
            "event_name": event_name,
            "user_id": user_id,
            "session_id": daily_session_id(user_id, occurred_at),
            "properties": properties,
            "occurred_at": occurred_at.isoformat(),
        }
        from config.celery import app

        if app.conf.task_always_eager:
            events_store([event])
        else:
            _event_publisher.submit(event)
        return True
    except InvalidEvent as error:
        logger.warning("analytics event dropped: %s", error)
    except Exception:
        logger.exception("analytics event %r lost", event_name)
    return False


_EVENT_COLUMNS = ("event_name", "user_id", "session_id", "properties", "occurred_at", "platform")


def events_store(events: list[dict[str, Any]]) -> int:
    """Store a batch of tracked events: COPY on PostgreSQL, one multi-row INSERT elsewhere."""
    rows = [
        (
            e["event_name"],
            e["user_id"],
            e["session_id"],
            e["properties"],
            parse_datetime(e["occurred_at"]),
            e.get("platform", "telegram"),
        )
        for e in events
    ]
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                f"COPY {AnalyticsEvent._meta.db_table} ({', '.join(_EVENT_COLUMNS)}) FROM STDIN"
            ) as copy,
        ):
            for name, user_id, session_id, properties, occurred_at, platform in rows:
                copy.write_row((name, user_id, session_id, json.dumps(properties), occurred_at, platform))
    else:
        AnalyticsEvent.objects.bulk_create(
            [AnalyticsEvent(**dict(zip(_EVENT_COLUMNS, row, strict=True))) for row in rows], batch_size=500
        )
    return len(rows)


def _publish_events(events: list[dict[str, Any]]) -> None:
    """One Celery message per batch; with the broker unreachable, straight to the database (seed 002's
    FallbackService), so nothing tracked meanwhile is lost."""
    from .tasks import store_events

    try:
        store_events.apply_async((events,), retry=False)
    except Exception:
        logger.warning("broker unreachable: storing %d events directly", len(events))
        try:
            events_store(events)
        finally:
            connection.close()  # this is the publisher's thread: nobody else would close its connection


_event_publisher = BatchPublisher(_publish_events, max_batch=1000, linger=1.0)


def events_flush(timeout: float = 5.0) -> bool:
    """Wait until every event this process tracked has left it (shutdown, tests)."""
    return _event_publisher.flush(timeout)


# Waits between inline attempts to record usage before it is handed to a Celery task.
_RECORD_RETRY_DELAYS = (0.05, 0.2, 0.5)


def record_usage(
    user_id: int | None, username: str | None, tokens_used: int | None, **details: Any
) -> LLMRequest | None:
    """Seed 000's entry point: record one LLM call and add it to the user's day and totals.

    `tokens_used` is the total; `details` may carry prompt_tokens, completion_tokens, cached_tokens,
    cost, model, provider, latency_ms, status, error_message, request_type, session_id,
    prompt_text, response_text, attempts, occurred_at. Never raises into the caller: a database
    error is retried, then handed to a Celery task; the record is not lost.
    """
    fields = _usage_fields(user_id, username, tokens_used, details)
    for delay in (*_RECORD_RETRY_DELAYS, None):
        try:
            return usage_record(**fields)
        except DatabaseError:
            if delay is None:
                break
            logger.warning("recording usage for user %s failed; retrying in %ss", user_id, delay, exc_info=True)
            time.sleep(delay)
        except Exception:
            logger.exception("recording usage for user %s failed", user_id)
            break
    _record_later(fields)
    return None


def _usage_fields(user_id: int | None, username: str | None, tokens_used: int | None, details: dict) -> dict:
    cost = details.get("cost")
    return {
        "user_id": user_id,
        "username": (username or "")[:64],
        "session_id": details.get("session_id"),
        "request_type": details.get("request_type", RequestType.CHAT),
        "provider": details.get("provider", ""),
        "model": details.get("model", ""),
        "prompt_tokens": details.get("prompt_tokens"),
        "completion_tokens": details.get("completion_tokens"),
        "total_tokens": tokens_used,
        "cached_tokens": details.get("cached_tokens"),
        "cost": Decimal(cost) if cost is not None else None,
        "latency_ms": int(details.get("latency_ms") or 0),
        "status": details.get("status", RequestStatus.SUCCESS),
        "attempts": int(details.get("attempts") or 1),
        "error_message": stored_error(details.get("error_message")),
        "prompt_text": stored_prompt(details.get("prompt_text")),
        "response_text": stored_prompt(details.get("response_text")),
        "created_at": details.get("occurred_at") or timezone.now(),
    }


def usage_record(*, user_id: int | None, username: str, **fields: Any) -> LLMRequest:
    """The LLM request and both rollups, in one transaction."""
    connection = transaction.get_connection()
    request = LLMRequest(user_id=user_id, **fields)
    if user_id is None:
        request.save(force_insert=True)  # background spend of no one: no rollups
        return request
    if connection.vendor != "postgresql":
        with transaction.atomic():
            _user_ensure(user_id, username)
            request.save(force_insert=True)
            rollups_add(request)
        return request
    if connection.in_atomic_block:  # the caller's transaction: no failed statement may break it
        _user_ensure(user_id, username)
        request.pk = request_with_rollups_insert(request)
        return request
    try:
        # One statement in autocommit: one round trip, one commit.
        request.pk = request_with_rollups_insert(request)
    except IntegrityError:
        # A user the bot has not stored yet (the foreign key is checked at commit): store, then again.
        _user_ensure(user_id, username)
        request.pk = request_with_rollups_insert(request)
    return request


def _user_ensure(user_id: int, username: str) -> None:
    TelegramUser.objects.bulk_create([TelegramUser(id=user_id, username=username)], ignore_conflicts=True)


def _record_later(fields: dict) -> None:
    from .tasks import record_usage_later

    payload = {
        **fields,
        "cost": str(fields["cost"]) if fields["cost"] is not None else None,
        "created_at": fields["created_at"].isoformat(),
    }
    try:
        record_usage_later.delay(payload)
    except Exception:
        # Last resort: the whole record in the log, to be replayed by hand.
        logger.error("usage record could not be stored or queued: %s", payload)


def usage_record_from_payload(payload: dict) -> LLMRequest:
    fields = dict(payload)
    fields["cost"] = Decimal(fields["cost"]) if fields["cost"] is not None else None
    fields["created_at"] = parse_datetime(fields["created_at"])
    return usage_record(**fields)
