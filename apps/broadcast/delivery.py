"""The delivery engine: one runner per running broadcast, a few sender threads in it, all paced by one
rate limit shared through Redis by every worker.

Exactly once: each delivery is claimed (pending → sending, committed) right before its message goes
out and recorded right after Telegram answers. A sender killed in between leaves the row "sending";
the next runner marks it unconfirmed and never sends it again, because Telegram may have delivered
it. Only a failure that certainly kept the message from Telegram (a refused connection, a 429, a 5xx)
puts a delivery back to pending.
"""

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connection, connections
from django.db.models import F
from django.utils import timezone

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.core import sending
from apps.core.flood import flood_hold, flood_wait
from apps.core.gateway import telegram_gateway
from apps.core.ratelimit import RateLimiter
from apps.users.services import user_set_active

from .models import FINAL_STATUSES, Broadcast, BroadcastAction, BroadcastDelivery, BroadcastStatus, DeliveryStatus
from .selectors import broadcasts_without_live_runner, delivery_counts

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0
RATE_HEADROOM = 0.03
_CLAIM_LOCK = {"postgresql": " FOR UPDATE SKIP LOCKED"}


@dataclass
class Outcome:
    status: str
    message_id: int | None = None
    error: str = ""
    retry_at: datetime | None = None
    counts_as_attempt: bool = True


def broadcast_run(broadcast_id: int) -> str:
    """Send what is pending of a running broadcast for up to BROADCAST_SLICE_SECONDS, then hand over to
    a fresh task (long tasks hold a worker and outlive time limits). Returns what happened."""
    runner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not _take_over(broadcast_id, runner):
        return "not running, or another runner is alive"
    broadcast = Broadcast.objects.get(pk=broadcast_id)
    deliveries_mark_unconfirmed(broadcast_id)
    # The bot's first call initialises it (getMe): done now, or the first senders' messages would wait
    # for it with their slots booked and then reach Telegram all at once.
    telegram_gateway().warm_up()
    stop = threading.Event()
    limiter, threads = _pace(broadcast)
    senders = [
        threading.Thread(target=_send_loop, args=(broadcast, limiter, stop), name=f"broadcast-{n}", daemon=True)
        for n in range(threads)
    ]
    for sender in senders:
        sender.start()
    deadline = time.monotonic() + settings.BROADCAST_SLICE_SECONDS
    last_beat = time.monotonic()
    while any(sender.is_alive() for sender in senders):
        time.sleep(0.05)
        if stop.is_set() or time.monotonic() - last_beat < HEARTBEAT_SECONDS:
            continue
        last_beat = time.monotonic()
        if not _beat(broadcast_id, runner) or last_beat > deadline:
            stop.set()  # paused, cancelled, taken over, or the slice is over: finish the messages in hand
    return _finish(broadcast_id, runner, hand_over=time.monotonic() > deadline)


def _pace(broadcast: Broadcast) -> tuple[RateLimiter, int]:
    if broadcast.paid:
        return _limiter("broadcast-paid", settings.BROADCAST_PAID_RATE), settings.BROADCAST_PAID_CONCURRENCY
    return _limiter("broadcast", settings.BROADCAST_RATE), settings.BROADCAST_CONCURRENCY


@cache
def _limiter(name: str, limit: int) -> RateLimiter:
    # Telegram counts arrivals; ours leave on schedule and arrive a few milliseconds early or late.
    # Paced exactly at the limit, some one-second windows would hold one message too many (a 429
    # stops the whole bot for a second); 3% under it leaves each window ~30 ms of slack.
    return RateLimiter(name, limit * (1 - RATE_HEADROOM))


def _send_loop(broadcast: Broadcast, limiter: RateLimiter, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            if (wait := flood_wait()) > 0:
                stop.wait(min(wait, HEARTBEAT_SECONDS))
                continue
            if stop.wait(limiter.reserve()):
                return  # stopped while waiting for the slot: it goes unused
            claimed = _claim(broadcast.pk)
            if claimed is None:
                if not BroadcastDelivery.objects.filter(broadcast=broadcast, status=DeliveryStatus.PENDING).exists():
                    return
                stop.wait(0.2)  # only retries waiting for their time
                continue
            delivery_id, user_id, attempts = claimed
            outcome = _deliver(broadcast, user_id, attempts)
            _record(broadcast.pk, delivery_id, user_id, outcome)
    except Exception:
        logger.exception("broadcast %s: a sender stopped", broadcast.pk)
    finally:
        connections.close_all()


def _claim(broadcast_id: int) -> tuple[int, int, int] | None:
    """pending → sending for the next due delivery, in one statement (and skipping rows another
    sender is claiming on PostgreSQL). Returns (id, user_id, attempts) or None."""
    table = BroadcastDelivery._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (
        f"UPDATE {table} SET status = %s, attempts = attempts + 1, claimed_at = %s "  # noqa: S608
        f"WHERE id = (SELECT id FROM {table} WHERE broadcast_id = %s AND status = %s "
        f"AND (next_attempt_at IS NULL OR next_attempt_at <= %s) ORDER BY id LIMIT 1"
        f"{_CLAIM_LOCK.get(connection.vendor, '')}) AND status = %s RETURNING id, user_id, attempts"
    )
    pending, sending = DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value
    with connection.cursor() as cursor:
        cursor.execute(sql, [sending, now, broadcast_id, pending, now, pending])
        return cursor.fetchone()


def _deliver(broadcast: Broadcast, user_id: int, attempts: int) -> Outcome:
    try:
        message_id = telegram_gateway().broadcast_send(broadcast, user_id)
    except Exception as error:  # a Telegram answer, or our side failing before the request: never lost
        return outcome_of_error(error, attempts)
    return Outcome(DeliveryStatus.SENT, message_id=message_id)


def outcome_of_error(error: Exception, attempts: int) -> Outcome:
    """What a failed send means for its delivery (and, for a 429, for the whole bot)."""
    now = timezone.now()
    if isinstance(error, sending.RetryAfter):
        flood_hold(error.seconds)
        return Outcome(DeliveryStatus.PENDING, error=str(error), retry_at=now + timedelta(seconds=error.seconds),
                       counts_as_attempt=False)  # fmt: skip
    if isinstance(error, sending.Blocked):
        return Outcome(DeliveryStatus.BLOCKED, error=str(error))
    if isinstance(error, sending.Rejected):  # the same request would be refused again
        return Outcome(DeliveryStatus.FAILED, error=str(error))
    if isinstance(error, sending.Unconfirmed):
        return Outcome(DeliveryStatus.UNCONFIRMED, error=f"no answer in time, not sent again: {error}")
    if attempts >= settings.BROADCAST_MAX_ATTEMPTS:
        return Outcome(DeliveryStatus.FAILED, error=f"after {attempts} attempts: {error}")
    backoff = settings.BROADCAST_RETRY_BASE_DELAY * 2 ** (attempts - 1)
    return Outcome(DeliveryStatus.PENDING, error=str(error), retry_at=now + timedelta(seconds=backoff))


def _record(broadcast_id: int, delivery_id: int, user_id: int, outcome: Outcome) -> None:
    fields: dict = {"status": outcome.status, "error": outcome.error[:500], "claimed_at": None}
    if outcome.status == DeliveryStatus.SENT:
        fields.update(message_id=outcome.message_id, sent_at=timezone.now(), error="")
    if outcome.retry_at is not None:
        fields["next_attempt_at"] = outcome.retry_at
    if not outcome.counts_as_attempt:
        fields["attempts"] = F("attempts") - 1
    # "unconfirmed" too: a slow answer may arrive after a new runner gave up on it; the answer wins.
    BroadcastDelivery.objects.filter(
        pk=delivery_id, status__in=[DeliveryStatus.SENDING, DeliveryStatus.UNCONFIRMED]
    ).update(**fields)
    if outcome.status == DeliveryStatus.SENT:
        track(Events.BROADCAST_DELIVERED, user_id=user_id, properties={"broadcast_id": broadcast_id})
    elif outcome.status == DeliveryStatus.BLOCKED:
        user_set_active(user_id=user_id, is_active=False)


def deliveries_mark_unconfirmed(broadcast_id: int) -> int:
    """Claims older than BROADCAST_CLAIM_TIMEOUT belong to a sender that died mid-send: never resent."""
    cutoff = timezone.now() - timedelta(seconds=settings.BROADCAST_CLAIM_TIMEOUT)
    return BroadcastDelivery.objects.filter(
        broadcast_id=broadcast_id, status=DeliveryStatus.SENDING, claimed_at__lt=cutoff
    ).update(
        status=DeliveryStatus.UNCONFIRMED,
        error="the sender stopped while this message was on its way; not sent again so nobody gets it twice",
    )


def _take_over(broadcast_id: int, runner: str) -> bool:
    free = broadcasts_without_live_runner().filter(pk=broadcast_id, status=BroadcastStatus.RUNNING)
    return free.update(runner=runner, heartbeat_at=timezone.now()) == 1


def _beat(broadcast_id: int, runner: str) -> bool:
    """Still this runner's, still running: say so, and refresh the counters the admin shows."""
    running = Broadcast.objects.filter(pk=broadcast_id, runner=runner, status=BroadcastStatus.RUNNING)
    return running.update(heartbeat_at=timezone.now(), **_counters(delivery_counts(broadcast_id))) == 1


def _counters(counts: dict[str, int]) -> dict[str, int]:
    """The Broadcast's counter fields from the deliveries by status."""
    return {status: counts[status] for status in FINAL_STATUSES}


def _finish(broadcast_id: int, runner: str, *, hand_over: bool) -> str:
    """Done when nothing is left; after a full slice the next task goes on. Senders that stopped
    early on an error leave the broadcast to the dispatcher, which retries it within a minute."""
    counts = delivery_counts(broadcast_id)
    counters = _counters(counts)
    mine = Broadcast.objects.filter(pk=broadcast_id, runner=runner)
    if counts[DeliveryStatus.PENDING] == 0 and counts[DeliveryStatus.SENDING] == 0:
        if mine.filter(status=BroadcastStatus.RUNNING).update(
            status=BroadcastStatus.DONE, finished_at=timezone.now(), runner="", heartbeat_at=None, **counters
        ):
            note = ", ".join(f"{number} {status}" for status, number in counters.items() if number)
            BroadcastAction.objects.create(broadcast_id=broadcast_id, action="finished", note=note)
            return "done"
    mine.update(runner="", heartbeat_at=None, **counters)
    if hand_over and Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.RUNNING, runner="").exists():
        from .tasks import run_broadcast

        run_broadcast.delay(broadcast_id)  # the slice is over: the next one in a fresh task
        return "continued"
    return "stopped"
