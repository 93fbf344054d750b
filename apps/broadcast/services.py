"""What staff do with a broadcast, and the periodic dispatcher. The sending itself is in delivery.py."""

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.gateway import telegram_gateway
from apps.core.privacy import redacted
from apps.users.models import TelegramUser

from .models import Broadcast, BroadcastAction, BroadcastDelivery, BroadcastStatus, DeliveryStatus
from .selectors import broadcasts_without_live_runner, get_users_by_criteria


class BroadcastStateError(ValidationError):
    """The action does not apply to the broadcast as it stands (e.g. pausing a finished one)."""


def _audit(broadcast: Broadcast, action: str, staff: AbstractBaseUser | None, note: str = "") -> None:
    BroadcastAction.objects.create(broadcast=broadcast, action=action, staff=staff, note=note[:255])


def _locked(broadcast_id: int, *allowed: str) -> Broadcast:
    broadcast = Broadcast.objects.select_for_update().get(pk=broadcast_id)
    if broadcast.status not in allowed:
        raise BroadcastStateError(f"the broadcast is {broadcast.get_status_display().lower()}")
    return broadcast


def _enqueue_run(broadcast_id: int) -> None:
    from .tasks import run_broadcast

    transaction.on_commit(lambda: run_broadcast.delay(broadcast_id))


def broadcast_start(broadcast_id: int, *, staff: AbstractBaseUser | None = None) -> Broadcast:
    """Take the segment now (one pending delivery per user) and start sending."""
    with transaction.atomic():
        broadcast = _locked(broadcast_id, BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
        broadcast.full_clean()
        if not settings.TELEGRAM_BOT_TOKEN:
            raise BroadcastStateError("TELEGRAM_BOT_TOKEN is not set: the bot cannot send anything")
        users = get_users_by_criteria(broadcast.criteria).values_list("id", flat=True)
        BroadcastDelivery.objects.bulk_create(
            (BroadcastDelivery(broadcast=broadcast, user_id=user_id) for user_id in users.iterator(chunk_size=5000)),
            batch_size=5000,
            ignore_conflicts=True,
        )
        broadcast.recipients = BroadcastDelivery.objects.filter(broadcast=broadcast).count()
        broadcast.status, broadcast.started_at = BroadcastStatus.RUNNING, timezone.now()
        broadcast.runner, broadcast.heartbeat_at = "", None
        broadcast.save()
        _audit(broadcast, "started", staff, f"{broadcast.recipients} recipients")
        _enqueue_run(broadcast.pk)
    return broadcast


def broadcast_schedule(broadcast_id: int, at, *, staff: AbstractBaseUser | None = None) -> Broadcast:
    with transaction.atomic():
        broadcast = _locked(broadcast_id, BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
        broadcast.status, broadcast.scheduled_at = BroadcastStatus.SCHEDULED, at
        broadcast.full_clean()
        broadcast.save()
        _audit(broadcast, "scheduled", staff, f"for {at:%Y-%m-%d %H:%M %Z}")
    return broadcast


def broadcast_pause(broadcast_id: int, *, staff: AbstractBaseUser | None = None) -> Broadcast:
    """The runner notices within a second and stops after the messages already on their way."""
    return _set_status(broadcast_id, BroadcastStatus.PAUSED, "paused", staff, BroadcastStatus.RUNNING)


def broadcast_cancel(broadcast_id: int, *, staff: AbstractBaseUser | None = None) -> Broadcast:
    """Stops for good; deliveries not sent stay pending, so the audit shows who never got it."""
    return _set_status(
        broadcast_id,
        BroadcastStatus.CANCELLED,
        "cancelled",
        staff,
        BroadcastStatus.DRAFT,
        BroadcastStatus.SCHEDULED,
        BroadcastStatus.RUNNING,
        BroadcastStatus.PAUSED,
    )


def broadcast_resume(broadcast_id: int, *, staff: AbstractBaseUser | None = None) -> Broadcast:
    with transaction.atomic():
        broadcast = _locked(broadcast_id, BroadcastStatus.PAUSED)
        # A fresh runner takes over at once; the old one, if still finishing, sees it is no longer its own.
        broadcast.status, broadcast.runner, broadcast.heartbeat_at = BroadcastStatus.RUNNING, "", None
        broadcast.save(update_fields=["status", "runner", "heartbeat_at"])
        _audit(broadcast, "resumed", staff)
        _enqueue_run(broadcast.pk)
    return broadcast


def broadcast_resend_unconfirmed(broadcast_id: int, *, staff: AbstractBaseUser | None = None) -> int:
    """Staff's call: the unconfirmed deliveries (a sender died between claiming them and hearing from
    Telegram) go out again. Some of those users may then have the message twice; that is why the engine
    never does this by itself. Returns how many go again."""
    with transaction.atomic():
        broadcast = _locked(broadcast_id, BroadcastStatus.RUNNING, BroadcastStatus.PAUSED, BroadcastStatus.DONE)
        again = BroadcastDelivery.objects.filter(broadcast=broadcast, status=DeliveryStatus.UNCONFIRMED).update(
            status=DeliveryStatus.PENDING, next_attempt_at=None
        )
        if again and broadcast.status == BroadcastStatus.DONE:
            broadcast.status, broadcast.finished_at, broadcast.runner = BroadcastStatus.RUNNING, None, ""
            broadcast.save(update_fields=["status", "finished_at", "runner"])
        _audit(broadcast, "resent unconfirmed", staff, f"{again} deliveries")
        if again and broadcast.status == BroadcastStatus.RUNNING:
            _enqueue_run(broadcast.pk)
    return again


def _set_status(
    broadcast_id: int, status: str, action: str, staff: AbstractBaseUser | None, *allowed: str
) -> Broadcast:
    with transaction.atomic():
        broadcast = _locked(broadcast_id, *allowed)
        broadcast.status = status
        if status == BroadcastStatus.CANCELLED:
            broadcast.finished_at = timezone.now()
        broadcast.save(update_fields=["status", "finished_at"])
        _audit(broadcast, action, staff)
    return broadcast


def broadcast_send_test(broadcast_id: int, *, staff: AbstractBaseUser) -> TelegramUser:
    """The message as users will get it, to the staff member's own Telegram account; no delivery row."""
    broadcast = Broadcast.objects.get(pk=broadcast_id)
    broadcast.full_clean()
    account = TelegramUser.objects.filter(staff_account=staff).first()
    if account is None:
        raise BroadcastStateError(
            "your staff account is not linked to a Telegram account: set “staff account” on your Telegram user"
        )
    telegram_gateway().broadcast_send(broadcast, account.pk, timeout=60)
    _audit(broadcast, "tested", staff, f"sent to {account}")
    return account


def broadcast_to_user(user_id: int, text: str, *, staff: AbstractBaseUser) -> Broadcast:
    """A message to one user from their admin page, as a broadcast of one: the same sender, pacing, delivery
    record and audit as any other. The title names nobody (erasing the user moves the delivery, not titles)."""
    with transaction.atomic():
        broadcast = Broadcast(title="Message to one user", text=text, created_by=staff)
        broadcast.full_clean()
        if not settings.TELEGRAM_BOT_TOKEN:
            raise BroadcastStateError("TELEGRAM_BOT_TOKEN is not set: the bot cannot send anything")
        broadcast.status, broadcast.started_at, broadcast.recipients = BroadcastStatus.RUNNING, timezone.now(), 1
        broadcast.save()
        BroadcastDelivery.objects.create(broadcast=broadcast, user_id=user_id)
        _audit(broadcast, "started", staff, "1 recipient, from the user's page")
        _enqueue_run(broadcast.pk)
    return broadcast


def broadcasts_dispatch() -> dict[str, int]:
    """Every half minute: start scheduled broadcasts that are due, and hand running broadcasts whose
    runner went silent (a killed worker) to a new one."""
    due = Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED, scheduled_at__lte=timezone.now())
    started = 0
    for broadcast_id in due.values_list("pk", flat=True):
        try:
            broadcast_start(broadcast_id)
            started += 1
        except ValidationError as error:  # edited into something invalid, or started meanwhile
            Broadcast.objects.filter(pk=broadcast_id, status=BroadcastStatus.SCHEDULED).update(
                status=BroadcastStatus.DRAFT
            )
            BroadcastAction.objects.create(broadcast_id=broadcast_id, action="not started", note=str(error)[:255])
    stalled = broadcasts_without_live_runner().filter(status=BroadcastStatus.RUNNING)
    resumed = 0
    for broadcast_id, runner, heartbeat_at in stalled.values_list("pk", "runner", "heartbeat_at"):
        if runner:  # not merely waiting for its first task: a runner died
            note = f"{runner} silent since {heartbeat_at:%H:%M:%S %Z}" if heartbeat_at else runner
            BroadcastAction.objects.create(broadcast_id=broadcast_id, action="taken over", note=note)
        _enqueue_run(broadcast_id)
        resumed += 1
    return {"started": started, "resumed": resumed}


def deliveries_pseudonymise(*, user_id: int, pseudonym_id: int, names: Iterable[str]) -> dict[str, int]:
    """The user's deliveries move to the pseudonym, so every broadcast's counts stay; one not sent yet never
    will be (failed: the recipient was erased). Notes of test messages sent to them (a staff member's own
    account) lose their names. Rows per table."""
    deliveries = BroadcastDelivery.objects.filter(user_id=user_id)
    deliveries.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]).update(
        status=DeliveryStatus.FAILED, error="not sent: the recipient was erased", next_attempt_at=None, claimed_at=None
    )
    names = list(names)
    notes = 0
    for action in BroadcastAction.objects.filter(action="tested").exclude(note="").only("note"):
        if (note := redacted(action.note, names)) != action.note:
            notes += BroadcastAction.objects.filter(pk=action.pk).update(note=note)
    return {
        BroadcastDelivery._meta.label: deliveries.update(user_id=pseudonym_id),
        BroadcastAction._meta.label: notes,
    }
