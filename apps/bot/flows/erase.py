"""Erase one Telegram user everywhere: from the admin, `manage.py erase_user` and the user's own /forget.

What holds what they wrote, or what was read from it, is deleted (sessions, journey progress, replies, voice
transcripts, generation logs, stored updates' payloads, cached LLM answers). What must stay moves, in the same
transaction, to a pseudonym: a user row of a random negative id, nobody's, that keeps only what aggregates group
by. The ledger and payments stay there (accounting law) and balance == Σ operations holds for it; events, LLM
usage, activity and deliveries stay there too, so every count, rollup and margin is unchanged, without the
texts and names in them. Last, the user's row goes: a later update from the same Telegram id starts a new user.
A receipt records when, by whom, why and how many rows per table, and nothing about the person.

Before any of it, Telegram is asked to stop renewing their Stars subscription: it would go on charging a person
who is gone, and crediting the renewal to the pseudonym's subscription."""

import logging
from collections.abc import Callable
from datetime import datetime

from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q

from apps.analytics.models import AnalyticsEvent
from apps.analytics.services import events_pseudonymise
from apps.billing.selectors import renewing_subscriptions
from apps.billing.services import subscription_set_canceled
from apps.billing.services.erasure import billing_pseudonymise
from apps.bot.models import InboxUpdate
from apps.bot.replies import replies_forget
from apps.bot.services import inbox_forget
from apps.broadcast.services import deliveries_pseudonymise
from apps.core import sending
from apps.core.gateway import telegram_gateway
from apps.core.privacy import redacted
from apps.core.text import storable_text
from apps.journey.models import JourneyProgress
from apps.journey.services import journey_erase
from apps.llm.services import llm_usage_pseudonymise
from apps.sessions.models import UserSession
from apps.sessions.services import sessions_erase
from apps.users.models import ErasureReceipt, TelegramUser
from apps.users.services import (
    activity_pseudonymise,
    user_delete,
    user_delete_if_bare,
    user_names,
    user_pseudonym_create,
)

from .profiles import profile_caches_forget

logger = logging.getLogger(__name__)

# Asks Telegram to stop renewing a subscription, called with user_id= and charge_id= (the subscription's first
# payment's); raises `apps.core.sending.SendFailed` when Telegram refused or did not answer.
SubscriptionCanceller = Callable[..., None]


class SubscriptionNotCanceled(Exception):
    """Telegram did not cancel the person's renewing subscription (it refused, or did not answer): nothing was
    erased, and erasing again asks again."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Telegram did not cancel the subscription: {reason.rstrip('.')}. Nothing was erased. Try again."
        )


def user_erase(
    user_id: int,
    *,
    reason: str,
    via: str,
    staff=None,
    cancel_subscription: SubscriptionCanceller | None = None,
) -> ErasureReceipt | None:
    """Erase the user (see above) and return the receipt; None, changing nothing, when there is no such user
    (erased before, never seen, or a pseudonym). `via`: an ErasureReceipt.Via; `staff`: who asked, if staff.
    A reason is required (ValueError without one, or with another `via`). A renewing subscription is cancelled
    with Telegram first, through `cancel_subscription` (the gateway's by default; a handler hands over its own
    bot's); SubscriptionNotCanceled, erasing nothing, when Telegram did not cancel it."""
    if not reason.strip():
        raise ValueError("an erase needs a reason")
    via = ErasureReceipt.Via(via)
    erasable = TelegramUser.objects.filter(pk=user_id, erased_at__isnull=True)
    if not erasable.exists():
        return None
    _subscriptions_stop(user_id, cancel=cancel_subscription or telegram_gateway().star_subscription_cancel)
    with transaction.atomic():
        user = erasable.select_for_update().first()
        if user is None:  # erased meanwhile
            return None
        names = user_names(user)
        pseudonym = user_pseudonym_create(user)
        moved = {"user_id": user_id, "pseudonym_id": pseudonym.pk}
        update_ids = inbox_forget(user_id)
        counts = {
            **billing_pseudonymise(**moved, names=names),
            **llm_usage_pseudonymise(**moved),
            AnalyticsEvent._meta.label: events_pseudonymise(**moved, names=names),
            **activity_pseudonymise(**moved),
            **deliveries_pseudonymise(**moved, names=names),
            LogEntry._meta.label: _admin_log_pseudonymise(**moved, names=names),
            UserSession._meta.label: sessions_erase(user_id),
            JourneyProgress._meta.label: journey_erase(user_id),
            **replies_forget(chat_id=user_id, update_ids=update_ids),
            InboxUpdate._meta.label: len(update_ids),
        }
        for label, deleted in user_delete(user_id).items():
            counts[label] = counts.get(label, 0) + deleted
        receipt = ErasureReceipt.objects.create(
            erased_by=staff,
            via=via,
            reason=storable_text(reason.strip()),  # a shell passes bytes that are not UTF-8 as surrogates
            pseudonym_id=pseudonym.pk,
            counts={label: count for label, count in sorted(counts.items()) if count},
        )
        transaction.on_commit(lambda: profile_caches_forget(user_id))
        transaction.on_commit(lambda: _stragglers_sweep_later(user_id, pseudonym.pk, receipt.erased_at))
    return receipt


def _subscriptions_stop(user_id: int, *, cancel: SubscriptionCanceller) -> None:
    """Have Telegram stop renewing each of the user's subscriptions that it would charge again, and record it
    cancelled, as /subscription does: outside the erase's transaction, which must not wait on Telegram. Cancelled
    or lapsed ones: nothing to ask."""
    for subscription in renewing_subscriptions(user_id):
        try:
            cancel(user_id=user_id, charge_id=subscription.charge_id)
        except sending.SendFailed as error:
            raise SubscriptionNotCanceled(str(error)) from error
        subscription_set_canceled(subscription_id=subscription.pk, user_id=user_id, canceled=True)


# Events travel in batches through the broker (a second's linger, retries while the database is away) and
# activity with them: what the user did just before the erase may land after it, under their id. Swept twice.
STRAGGLER_SWEEPS = (60, 15 * 60)  # seconds after the erase


def erase_stragglers(*, user_id: int, pseudonym_id: int, erased_at: datetime) -> int:
    """Move to the pseudonym the events, activity and LLM usage of the user that happened by the erase but were
    stored after it (what a new user of the same Telegram id did since is theirs, and stays), and drop the bare
    row a late usage record made under their id. Rows moved."""
    ids = {"user_id": user_id, "pseudonym_id": pseudonym_id}
    with transaction.atomic():
        moved = events_pseudonymise(**ids, names=(), until=erased_at)
        moved += sum(activity_pseudonymise(**ids, until=erased_at).values())
        moved += sum(llm_usage_pseudonymise(**ids, until=erased_at).values())
    user_delete_if_bare(user_id, since=erased_at)
    return moved


def _stragglers_sweep_later(user_id: int, pseudonym_id: int, erased_at: datetime) -> None:
    from apps.bot.tasks import sweep_erase_stragglers

    for delay in STRAGGLER_SWEEPS:
        try:
            sweep_erase_stragglers.apply_async((user_id, pseudonym_id, erased_at.isoformat()), countdown=delay)
        except Exception:  # the erase is done: a late straggler is the smaller loss than failing the caller
            logger.exception("erase of a user: the sweep of late events could not be scheduled")


def _admin_log_pseudonymise(*, user_id: int, pseudonym_id: int, names: list[str]) -> int:
    """Staff's edits of the user's records stay in the admin's history, under the pseudonym: entries of rows
    whose key is the user (their row, their balance, …) point at the pseudonym's, and no entry names them."""
    keyed_by_user = ContentType.objects.get_for_models(*_keyed_by_user()).values()
    own = Q(content_type__in=keyed_by_user, object_id=str(user_id))
    named = own
    for name in names:
        for spelling in {name, name.lower(), name.upper(), name.title()}:  # SQLite's LIKE folds ASCII only
            named |= Q(object_repr__icontains=spelling)
    entries = list(LogEntry.objects.filter(named).annotate(own=own))
    for entry in entries:
        if entry.own:
            entry.object_id = str(pseudonym_id)
        entry.object_repr = redacted(entry.object_repr, names)
    LogEntry.objects.bulk_update(entries, ["object_id", "object_repr"])
    return len(entries)


def _keyed_by_user() -> list[type]:
    """TelegramUser, and the models whose primary key is a user (one row per user: a balance, …)."""
    return [TelegramUser] + [
        model
        for model in apps.get_models()
        if model._meta.pk.is_relation and model._meta.pk.related_model is TelegramUser
    ]
