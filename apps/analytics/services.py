import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core.privacy import mentions
from apps.core.publisher import BatchPublisher, enqueue
from apps.llm.metering import record_usage  # noqa: F401  seed 000's public name
from apps.users.models import ActiveUserDay
from apps.users.services import active_days_rebuild

from .catalogue import InvalidEvent, validate_event
from .models import AnalyticsEvent, ResponseTimeBucket, UserFirstEvent
from .rollups import first_events_add, first_events_rebuild, histogram_rebuild, rollups_add

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
        enqueue(_event_publisher, event, run_now=events_store)
        return True
    except InvalidEvent as error:
        logger.warning("analytics event dropped: %s", error)
    except Exception:
        logger.exception("analytics event %r lost", event_name)
    return False


_EVENT_COLUMNS = ("event_name", "user_id", "session_id", "properties", "occurred_at", "platform")


def events_store(events: list[dict[str, Any]]) -> int:
    """Store a batch of tracked events (COPY on PostgreSQL, one multi-row INSERT elsewhere) and fold them into
    the rollups the dashboard reads, in one transaction."""
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
    with transaction.atomic():
        _events_insert(rows)
        rollups_add((name, user_id, properties, occurred_at) for name, user_id, _, properties, occurred_at, _ in rows)
    return len(rows)


def _events_insert(rows: list[tuple]) -> None:
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


def events_pseudonymise(
    *, user_id: int, pseudonym_id: int, names: Iterable[str], until: datetime | None = None, batch: int = 1000
) -> int:
    """The user's events move to the pseudonym, so every count, funnel and rollup stays as it was: their
    daily session ids are made again from the pseudonym (the old ones are keyed by the Telegram id), and
    properties that name them go, as do the pseudonyms of sensitive properties (the same value always gives
    the same one: they would link back). `until`: only events that happened by then (a later user of the same
    Telegram id is somebody new). Returns how many events moved."""
    names = list(names)
    events = AnalyticsEvent.objects.filter(user_id=user_id)
    if until is not None:
        events = events.filter(occurred_at__lte=until)
    events = events.only("occurred_at", "properties").order_by("pk")
    moved = 0
    while chunk := list(events[:batch]):
        for event in chunk:
            event.user_id = pseudonym_id
            event.session_id = daily_session_id(pseudonym_id, event.occurred_at)
            event.properties = _unnamed(event.properties, names)
        AnalyticsEvent.objects.bulk_update(chunk, ["user", "session_id", "properties"])
        moved += len(chunk)
    _first_events_move(user_id=user_id, pseudonym_id=pseudonym_id, until=until)
    return moved


def _first_events_move(*, user_id: int, pseudonym_id: int, until: datetime | None) -> None:
    """The user's first times go with their events (the earliest kept, should the pseudonym have some). With
    `until`, a later user of the same Telegram id keeps the firsts of what they did, from the raw events left."""
    rows = UserFirstEvent.objects.filter(user_id=user_id)
    if until is not None:
        rows = rows.filter(first_at__lte=until)
    moving = dict(rows.values_list("event_name", "first_at"))
    if not moving:
        return
    first_events_add({(pseudonym_id, name): first for name, first in moving.items()})
    rows.delete()
    if until is not None:
        left = (
            AnalyticsEvent.objects.filter(user_id=user_id, event_name__in=list(moving))
            .values("event_name")
            .annotate(first=Min("occurred_at"))
            .order_by()
        )
        first_events_add({(user_id, row["event_name"]): row["first"] for row in left})


def analytics_rollups_rebuild(*, user_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Every analytics rollup again from the raw events and the activity log (demo data, repairs, after a bulk
    load): idempotent, in chunks. `user_ids`: only theirs, for what is kept per user (the histogram is whole).
    Returns rows per rollup."""
    user_ids = None if user_ids is None else list(user_ids)
    return {
        UserFirstEvent._meta.label: first_events_rebuild(user_ids=user_ids),
        ResponseTimeBucket._meta.label: histogram_rebuild(),
        ActiveUserDay._meta.label: active_days_rebuild(user_ids=user_ids),
    }


def _unnamed(properties: dict[str, Any], names: list[str]) -> dict[str, Any]:
    sensitive = SENSITIVE_PROPERTIES | set(settings.ANALYTICS_SENSITIVE_PROPERTIES)
    kept = {}
    for key, value in properties.items():
        if key in sensitive:
            continue
        if isinstance(value, dict):
            kept[key] = _unnamed(value, names)
        elif not mentions(json.dumps(value, ensure_ascii=False), names):
            kept[key] = value
    return kept
