"""The inbox: every update is stored durably before it is acknowledged, then processed once."""

import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cache
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from apps.core.db import CONNECTION_ERRORS, connection_lost, drop_dead_connection, on_fresh_connection
from apps.core.publisher import BatchPublisher, TaskMessages
from apps.core.text import MAX_DEPTH, storable

from . import runtime
from .models import InboxStatus, InboxUpdate
from .replies import replies_purge

logger = logging.getLogger(__name__)

_MAX_UPDATE_ID = 2**63 - 1
_ERROR_LIMIT = 4000
# An update whose database connection died under it (PostgreSQL restarted or failed over) is tried again
# after each of these many seconds (the task's retries, the processing thread's), not left to the sweeper.
RETRY_DELAYS = (1, 2, 4, 8, 15)
# Recording an update's outcome on a connection that died: at once on a fresh one, then after these.
_RECORD_DELAYS = (0, 1, 2)


class InvalidUpdate(ValueError):
    """The body is not something Telegram would send."""


def update_parse(body: bytes) -> dict[str, Any]:
    """The update as it will be stored and processed: what PostgreSQL cannot hold (NUL, lone surrogates)
    is replaced by U+FFFD in every string, keys included, so both databases keep the same thing and the
    user is answered as usual (apps.core.text)."""
    try:
        payload = storable(json.loads(body))
    except (ValueError, UnicodeDecodeError) as error:  # TooDeep is a ValueError
        raise InvalidUpdate(f"body is not valid JSON: {error}") from None
    except RecursionError:
        raise InvalidUpdate(f"body is not valid JSON: nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(payload, dict):
        raise InvalidUpdate("an update must be a JSON object")
    update_id = payload.get("update_id")
    if type(update_id) is not int or not 0 <= update_id <= _MAX_UPDATE_ID:
        raise InvalidUpdate("update_id must be a non-negative integer")
    return payload


def update_type(payload: Mapping[str, Any]) -> str:
    """What kind of update this is ("message", "callback_query", …, or a kind newer than our
    python-telegram-bot): its one key beside update_id; "" if it has none. For a parsed update, give
    `update.to_dict()`."""
    return next((key for key in payload if key != "update_id"), "")


# Messages that move money: a payment to credit, a refund Telegram made whose credits must go back before
# they are spent.
_PAYMENT_MESSAGES = ["successful_payment", "refunded_payment"]
# Payment updates, as stored in the inbox: what goes to the payments queue.
PAYMENT_UPDATES = Q(update_type="pre_checkout_query") | Q(
    update_type="message", payload__message__has_any_keys=_PAYMENT_MESSAGES
)


def is_payment(payload: Mapping[str, Any]) -> bool:
    """A pre_checkout_query (Telegram waits at most 10 s for its answer) or a message carrying a
    successful_payment or a refunded_payment: processed on the payments queue, never behind chat."""
    kind = update_type(payload)
    message = payload.get("message")
    return kind == "pre_checkout_query" or (
        kind == "message" and isinstance(message, Mapping) and any(key in message for key in _PAYMENT_MESSAGES)
    )


def inbox_receive(*, payload: dict[str, Any], enqueue: bool = True) -> bool:
    """Store an update and enqueue its processing after commit. False if it was seen before.

    `enqueue=False`: the caller processes it itself, now, with `inbox_process` (Try the bot, `manage.py chat`:
    their test user is answered by the stand-in's bot in the caller's thread, never by a worker's real one).
    """
    update_id = payload["update_id"]
    stored = _store(
        update_id=update_id,
        update_type=update_type(payload)[:40],
        payload=payload,
        status=InboxStatus.PENDING,
        attempts=0,
        claim_token="",
        error="",
        received_at=timezone.now(),
    )
    if stored and enqueue:
        if is_payment(payload) and not current_app.conf.task_always_eager:
            transaction.on_commit(lambda: _enqueue_payments([update_id]))
        else:  # without a broker there is no queue to choose: the processing thread, as for any update
            transaction.on_commit(lambda: _enqueue(update_id))
    return stored


def _store(**values: Any) -> bool:
    """`_insert_if_new`, and again on a fresh connection when the one it ran on died under it (PostgreSQL
    restarted or failed over while the request held it; a 500 only makes Telegram send the update again,
    later): at once, then, should that one have been dying too, a moment later. The INSERT that died may
    have been committed, so after a retry the update counts as new either way: a second enqueue is
    harmless, the claim lets one task process it."""
    try:
        return _insert_if_new(**values)
    except CONNECTION_ERRORS:
        if not drop_dead_connection():
            raise
    on_fresh_connection(lambda: _insert_if_new(**values), delays=(0.2,))
    return True


def _insert_if_new(**values: Any) -> bool:
    """One `INSERT ... ON CONFLICT DO NOTHING RETURNING`: in autocommit it is its own durable
    transaction in one round trip, a retried delivery raises nothing (so no savepoint), and the
    busiest path of the system skips the ORM's per-save machinery."""
    connection = transaction.get_connection()
    fields = [InboxUpdate._meta.get_field(name) for name in values]
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor, tuple(field.column for field in fields)), params)
        return cursor.fetchone() is not None


@cache
def _insert_sql(vendor: str, columns: tuple[str, ...]) -> str:
    quote = transaction.get_connection().ops.quote_name
    key = quote(InboxUpdate._meta.pk.column)
    return (
        f"INSERT INTO {quote(InboxUpdate._meta.db_table)} ({', '.join(map(quote, columns))}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
    )


def _publish_processing(update_ids: list[int], queue: str | None = None) -> None:
    """One Celery message per update, all through one producer and one Redis pipeline, to `queue` (None:
    the default queue, chat's)."""
    from .tasks import process_update

    app = current_app
    if app.conf.task_always_eager:  # no broker: each update is processed here and now
        for update_id in update_ids:
            process_update.apply_async((update_id,))
        return
    route = {"queue": queue} if queue else {}
    with app.producer_or_acquire() as producer, producer.batch():
        for update_id in update_ids:
            # Given reprs spare Celery its saferepr of the arguments: a fifth of a publish's CPU.
            process_update.apply_async(
                (update_id,), producer=producer, argsrepr=f"({update_id},)", kwargsrepr="{}", **route
            )


def _enqueue_payments(update_ids: list[int]) -> None:
    """Payment updates go to their own queue (settings.PAYMENTS_QUEUE) and are published at once, from the
    caller's thread: they are few, and must not wait behind chat updates in the batch publisher either."""
    try:
        _publish_processing(update_ids, queue=settings.PAYMENTS_QUEUE or None)
    except Exception:
        # The updates are stored; the sweeper enqueues them once the broker is back.
        logger.warning("could not enqueue %d payment update(s); the sweeper will retry", len(update_ids), exc_info=True)


def _enqueue_routed(update_ids: list[int]) -> None:
    """Enqueue stored updates again (sweeper, replay): payment updates on their queue, first."""
    payments = set(InboxUpdate.objects.filter(PAYMENT_UPDATES, pk__in=update_ids).values_list("pk", flat=True))
    if payments:
        _enqueue_payments([update_id for update_id in update_ids if update_id in payments])
    if chat := [update_id for update_id in update_ids if update_id not in payments]:
        _enqueue_now(chat)


@cache
def _chat_messages() -> TaskMessages:
    from .tasks import process_update

    return TaskMessages(process_update)


def _publish_chat(update_ids: list[int]) -> None:
    """The webhook's publisher thread: the default queue's messages copied from the one Celery built
    (TaskMessages), a tenth of a Celery publish's CPU, which the request threads share a GIL with."""
    if current_app.conf.task_always_eager:
        _publish_processing(update_ids)
    else:
        _chat_messages().publish(update_ids)


# Lingering 10 ms gathers a busy webhook's updates into a few LPUSHes a second per process instead of one
# per update, and wakes the thread (which takes the GIL from the request threads) as seldom; an update
# reaches the broker at most that much later, against a chat answer's hundreds of milliseconds.
_publisher = BatchPublisher(_publish_chat, linger=0.01)


def _process_here(update_ids: list[int]) -> None:
    """Without a broker, this process's processing thread: each update as the task processes it, tried again
    after RETRY_DELAYS when its database connection died. Its connection goes back to the pool after each."""
    for update_id in update_ids:
        token = uuid.uuid4().hex
        for retries in range(len(RETRY_DELAYS) + 1):
            may_retry = retries < len(RETRY_DELAYS)
            try:
                inbox_process(update_id=update_id, token=token, may_retry=may_retry)
                break
            except Exception as error:
                if not (may_retry and connection_lost(error)):
                    logger.exception("update %s not processed; the sweeper will retry", update_id)
                    break
            finally:
                close_old_connections()
            time.sleep(RETRY_DELAYS[retries])


_processor = BatchPublisher(_process_here, max_batch=1, name="inbox-processing")


def _enqueue(update_id: int) -> None:
    """The webhook's enqueue, never the processing itself: to the broker through the publisher thread or,
    without a broker, to this process's processing thread. Either way the request answers at once and gives
    its connection back; processing inside it held that connection while the handlers took more, and a
    burst of Telegram's 40 connections exhausted the pool."""
    (_processor if current_app.conf.task_always_eager else _publisher).submit(update_id)


def _enqueue_now(update_ids: list[int]) -> None:
    try:
        _publish_processing(update_ids)
    except Exception:
        # The updates are stored; the sweeper enqueues them once the broker is back.
        logger.warning("could not enqueue %d update(s); the sweeper will retry", len(update_ids), exc_info=True)


def inbox_flush_enqueued(timeout: float = 5.0) -> bool:
    """Wait until every update this process received is handed to the broker or, without a broker,
    processed (tests, `run_polling --once`, shutdown)."""
    deadline = time.monotonic() + timeout
    return _publisher.flush(timeout) and _processor.flush(max(deadline - time.monotonic(), 0))


def inbox_claim(*, update_id: int, token: str) -> dict[str, Any] | None:
    """Take an update for processing. None if it is done, failed, or being processed elsewhere.

    A message redelivered after its worker died carries the same task id, so it may take its
    own claim back; the sweeper frees claims that nobody finished.
    """
    claimable = Q(status=InboxStatus.PENDING) | Q(status=InboxStatus.PROCESSING, claim_token=token)
    with transaction.atomic():
        claimed = InboxUpdate.objects.filter(claimable, pk=update_id).update(
            status=InboxStatus.PROCESSING, claim_token=token, claimed_at=timezone.now(), attempts=F("attempts") + 1
        )
        if not claimed:
            return None
        return InboxUpdate.objects.values_list("payload", flat=True).get(pk=update_id)


def inbox_process(*, update_id: int, token: str, may_retry: bool = False) -> str | None:
    """Process one stored update through the bot. Returns the final status, None if not claimed.

    `may_retry`: the caller tries again in seconds, with the same token, when the database connection
    died (the task's retries, the processing thread's): such a failure of the handlers is then raised
    for it, not recorded as failed for the sweeper. Recording the outcome outlives a dead connection.
    """
    payload = inbox_claim(update_id=update_id, token=token)
    if payload is None:
        return None
    try:
        runtime.process_update(payload)
    except Exception as error:
        if may_retry and connection_lost(error):
            raise
        logger.exception("update %s failed", update_id)
        failed = {"status": InboxStatus.FAILED, "error": _describe(error)}
        if isinstance(error, runtime.UnusableUpdate):
            failed["attempts"] = settings.INBOX_MAX_ATTEMPTS  # only staff's replay tries again
        _record(lambda: InboxUpdate.objects.filter(pk=update_id, claim_token=token).update(**failed))
        return InboxStatus.FAILED
    # The payload holds what the user wrote: keep only the update_id, for dedupe.
    _record(
        lambda: InboxUpdate.objects.filter(pk=update_id).update(
            status=InboxStatus.DONE, payload=None, error="", claim_token="", processed_at=timezone.now()
        )
    )
    return InboxStatus.DONE


def _record(update: Callable[[], object]) -> None:
    """An update's outcome, written even when the connection died under the handlers: on a fresh one
    (the update is not processed again for it). Past _RECORD_DELAYS the error goes to the caller, whose
    retry takes its own claim back."""
    on_fresh_connection(update, delays=_RECORD_DELAYS)


def _describe(error: BaseException) -> str:
    text = "".join(traceback.format_exception(error))
    return text[-_ERROR_LIMIT:]


def inbox_sweep(*, limit: int = 1000) -> int:
    """Enqueue again what was stored but never processed, claimed by a worker that died, or
    failed fewer than INBOX_MAX_ATTEMPTS times. Returns how many were enqueued."""
    now = timezone.now()
    grace = now - settings.INBOX_PENDING_GRACE
    due = (
        Q(status=InboxStatus.PENDING, received_at__lt=grace)
        # Past the task's hard time limit: the worker that claimed it is gone.
        | Q(status=InboxStatus.PROCESSING, claimed_at__lt=now - settings.INBOX_STALE_AFTER)
        | Q(status=InboxStatus.FAILED, attempts__lt=settings.INBOX_MAX_ATTEMPTS, claimed_at__lt=grace)
    )
    with transaction.atomic():
        update_ids = list(
            InboxUpdate.objects.filter(due)
            .order_by("received_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        InboxUpdate.objects.filter(pk__in=update_ids).update(status=InboxStatus.PENDING, claim_token="")
        if update_ids:
            transaction.on_commit(lambda: _enqueue_routed(update_ids))
    if update_ids:
        logger.info("inbox sweeper enqueued %d updates", len(update_ids))
    return len(update_ids)


def inbox_replay(*, update_ids: list[int]) -> int:
    """Staff's replay: failed updates go through the bot again, with a fresh attempt budget."""
    with transaction.atomic():
        replayable = list(
            InboxUpdate.objects.filter(pk__in=update_ids, status=InboxStatus.FAILED, payload__isnull=False)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        InboxUpdate.objects.filter(pk__in=replayable).update(status=InboxStatus.PENDING, attempts=0, error="")
        if replayable:
            transaction.on_commit(lambda: _enqueue_routed(replayable))
    return len(replayable)


def inbox_purge_processed(*, older_than=None) -> int:
    """Forget processed updates and their replies after INBOX_KEEP_PROCESSED (Telegram never retries that
    late), and what users wrote in failed updates after INBOX_FAILED_RETENTION_DAYS (the row and its
    error stay; it can no longer be replayed). Returns how many updates and replies were deleted."""
    keep = older_than or settings.INBOX_KEEP_PROCESSED
    cutoff = timezone.now() - keep
    deleted, _ = InboxUpdate.objects.filter(status=InboxStatus.DONE, processed_at__lt=cutoff).delete()
    failed_cutoff = timezone.now() - timedelta(days=settings.INBOX_FAILED_RETENTION_DAYS)
    InboxUpdate.objects.filter(status=InboxStatus.FAILED, received_at__lt=failed_cutoff, payload__isnull=False).update(
        payload=None
    )
    return deleted + replies_purge(older_than=keep)


def inbox_forget(user_id: int) -> list[int]:
    """Stored updates that still hold their payload (pending, failed, being processed) and name the user
    anywhere in it lose it and their error, and count as processed: nothing of theirs is replayed, and their
    update ids still turn Telegram's retries away until the purge. Returns those update ids."""
    named = (
        InboxUpdate.objects.filter(payload__isnull=False)
        .alias(text=Cast("payload", TextField()))
        .filter(text__contains=str(user_id))
        .values_list("pk", "payload")
    )
    update_ids = [update_id for update_id, payload in named if _holds_id(payload, user_id)]
    InboxUpdate.objects.filter(pk__in=update_ids).update(
        status=InboxStatus.DONE, payload=None, error="", claim_token="", processed_at=timezone.now()
    )
    return update_ids


def _holds_id(value: Any, user_id: int) -> bool:
    """Whether the JSON `value` holds `user_id` as a value somewhere (a sender, a chat, a mention)."""
    if isinstance(value, dict):
        return any(_holds_id(item, user_id) for item in value.values())
    if isinstance(value, list):
        return any(_holds_id(item, user_id) for item in value)
    return (type(value) is int and value == user_id) or value == str(user_id)
