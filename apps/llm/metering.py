"""Metering: every LLM call recorded with its user's day and totals, never lost."""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core.privacy import stored_error, stored_prompt
from apps.users.models import TelegramUser

from .models import LLMRequest, RequestStatus, RequestType
from .pricing import cost_at
from .usage import request_with_rollups_insert, rollups_add

logger = logging.getLogger(__name__)


# Waits between inline attempts to record usage before it is handed to a Celery task.
_RECORD_RETRY_DELAYS = (0.05, 0.2, 0.5)
# `cost=PRICED`: priced from the price list when the record is stored (inline, or by the task later).
PRICED = "priced-when-stored"


def record_usage(
    user_id: int | None, username: str | None, tokens_used: int | None, **details: Any
) -> LLMRequest | None:
    """Seed 000's entry point: record one LLM call and add it to the user's day and totals.

    `tokens_used` is the total; `details` may carry prompt_tokens, completion_tokens, cached_tokens,
    audio_seconds (transcriptions), cost, model, provider, latency_ms, status, error_message, request_type, session_id,
    persona_id, prompt_text, response_text, attempts, occurred_at. Never raises into the caller: a database
    error is retried, then handed to a Celery task; the record is not lost.
    """
    fields = _usage_fields(user_id, username, tokens_used, details)
    if (held := getattr(_holding, "usage", None)) is not None:
        held.fields.append(fields)
        return None
    return _record(fields)


def _record(fields: dict) -> LLMRequest | None:
    """Store the record now, retrying a database error; else hand it to a task."""
    user_id = fields["user_id"]
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


class HeldUsage:
    """What record_usage was asked to record inside usage_held(), kept for the caller's transaction."""

    def __init__(self) -> None:
        self.fields: list[dict] = []
        self.written: list[dict] = []  # in the caller's transaction, which the usage_held() block ends with

    def write(self) -> LLMRequest | None:
        """Record what is held in the caller's transaction, with what the call led to (the charge, the
        answer): one commit for all. Returns the last request recorded; None if it could not be (a database
        error, inside a savepoint that keeps the caller's transaction usable: it is recorded record_usage's
        way, retried or by a task, as the usage_held() block ends)."""
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("HeldUsage.write() records in the caller's transaction: call it inside one")
        writing, self.fields = self.fields, []
        request = None
        for fields in writing:
            try:
                with transaction.atomic():
                    request = usage_record(**fields)
            except DatabaseError:
                logger.warning("recording usage for user %s failed; kept apart", fields["user_id"], exc_info=True)
                self.fields.append(fields)
                request = None
            else:
                self.written.append(fields)
        return request


_holding = threading.local()


@contextmanager
def usage_held() -> Iterator[HeldUsage]:
    """Meanwhile, what record_usage is asked to record in this thread is held (record_usage returns None)
    for the caller to write with HeldUsage.write() in the transaction that settles what the call led to;
    that transaction ends the block. What was not written, or was written in a transaction an exception
    rolled back on its way out of the block, is recorded record_usage's way (retried, else handed to a task)
    as the block ends. Only a process killed in between loses it, and then the answer it paid for was not
    stored either: the update is answered again, and that call is recorded."""
    if getattr(_holding, "usage", None) is not None:
        raise RuntimeError("usage_held() does not nest")
    held = _holding.usage = HeldUsage()
    try:
        yield held
    except BaseException:
        held.fields[:0] = held.written
        raise
    finally:
        _holding.usage = None
        for fields in held.fields:
            _record(fields)


def _usage_fields(user_id: int | None, username: str | None, tokens_used: int | None, details: dict) -> dict:
    cost = details.get("cost")
    return {
        "user_id": user_id,
        "username": (username or "")[:64],
        "session_id": details.get("session_id"),
        "persona_id": details.get("persona_id"),
        "request_type": details.get("request_type", RequestType.CHAT),
        "provider": details.get("provider", ""),
        "model": details.get("model", ""),
        "prompt_tokens": details.get("prompt_tokens"),
        "completion_tokens": details.get("completion_tokens"),
        "total_tokens": tokens_used,
        "cached_tokens": details.get("cached_tokens"),
        "audio_seconds": details.get("audio_seconds"),
        "cost": cost if cost in (None, PRICED) else Decimal(cost),
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
    if fields["cost"] == PRICED:
        fields["cost"] = cost_at(
            provider=fields["provider"],
            model=fields["model"],
            prompt_tokens=fields["prompt_tokens"],
            completion_tokens=fields["completion_tokens"],
            cached_tokens=fields["cached_tokens"],
            at=fields["created_at"],
            audio_seconds=fields["audio_seconds"],
        )
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
        "cost": fields["cost"] if fields["cost"] in (None, PRICED) else str(fields["cost"]),
        "created_at": fields["created_at"].isoformat(),
    }
    try:
        record_usage_later.delay(payload)
    except Exception:
        # Last resort: the record in the log, to be replayed by hand; what people and the model wrote stays out.
        logged = {**payload, "prompt_text": len(payload["prompt_text"]), "response_text": len(payload["response_text"])}
        logger.error("usage record could not be stored or queued (texts as their lengths): %s", logged)


def usage_record_from_payload(payload: dict) -> LLMRequest:
    fields = dict(payload)
    fields["cost"] = fields["cost"] if fields["cost"] in (None, PRICED) else Decimal(fields["cost"])
    fields["created_at"] = parse_datetime(fields["created_at"])
    sessions = LLMRequest._meta.get_field("session").related_model
    if fields.get("session_id") is not None and not sessions._base_manager.filter(pk=fields["session_id"]).exists():
        # Gone meanwhile (the user erased, the session forgotten): the record would never store, and each
        # try on PostgreSQL would make the user's row again, taking the failure for a user not stored yet.
        fields["session_id"] = None
    return usage_record(**fields)
