"""Subscriptions in Telegram Stars: each period's payment credits the period once (its charge id is the
key) and moves the subscription's end; the user cancels and re-enables renewal; a lapsed subscription's
unused credits are kept or expired, as SUBSCRIPTION_CREDITS_EXPIRE says."""

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from ..models import Balance, Operation, OperationType, Payment, Subscription
from .ledger import ledger_apply, operation_key

logger = logging.getLogger(__name__)

SUBSCRIPTION_PERIOD = timedelta(days=30)  # Telegram's only period: subscription_period 2592000 seconds
# Telegram charges a renewal at the period's end; its payment may reach us a little later.
LAPSE_GRACE = timedelta(hours=6)
# What spends credits: answers charged (and their holds), and charges given back.
_SPENDING = Q(type__in=[OperationType.GENERATION, OperationType.RESERVE, OperationType.RELEASE]) | Q(
    type=OperationType.REFUND, payment__isnull=True
)


def subscription_period_paid(payment: Payment, *, period_end: datetime | None) -> Subscription:
    """The first payment of an invoice link starts a subscription; every later one (a renewal, a charge id
    of its own) extends it. Called with the new payment, in its transaction."""
    invoice = payment.invoice
    period_end = period_end or payment.created_at + SUBSCRIPTION_PERIOD
    subscription, created = Subscription.objects.select_for_update().get_or_create(
        invoice=invoice,
        defaults={
            "user_id": payment.user_id,
            "plan_id": invoice.plan_id,
            "title": invoice.title,
            "charge_id": payment.telegram_payment_charge_id,
            "started_at": payment.created_at,
            "expires_at": period_end,
        },
    )
    if not created:
        subscription.expires_at = max(subscription.expires_at, period_end)
        subscription.renewals += 1
        subscription.lapsed_at = None
        subscription.save(update_fields=["expires_at", "renewals", "lapsed_at"])
    payment.subscription, payment.period_end = subscription, period_end
    payment.save(update_fields=["subscription", "period_end"])
    return subscription


def subscription_set_canceled(*, subscription_id: int, user_id: int, canceled: bool) -> Subscription | None:
    """Record that the user cancelled renewal (or re-enabled it) after Telegram accepted it
    (editUserStarSubscription). None: not this user's subscription, or over."""
    subscription = Subscription.objects.filter(pk=subscription_id, user_id=user_id).first()
    if subscription is None or not subscription.is_live:
        return None
    if subscription.is_canceled != canceled:
        subscription.is_canceled = canceled
        subscription.canceled_at = timezone.now() if canceled else None
        subscription.save(update_fields=["is_canceled", "canceled_at"])
    return subscription


def subscription_refunded(payment: Payment) -> None:
    """A refunded period ends the subscription where that period began: Telegram cancels it on refund."""
    subscription = Subscription.objects.select_for_update().get(pk=payment.subscription_id)
    period_start = (payment.period_end or subscription.expires_at) - SUBSCRIPTION_PERIOD
    subscription.expires_at = min(subscription.expires_at, max(period_start, payment.created_at))
    subscription.is_canceled = True
    subscription.canceled_at = subscription.canceled_at or timezone.now()
    subscription.save(update_fields=["expires_at", "is_canceled", "canceled_at"])


def subscriptions_lapse(*, now: datetime | None = None) -> list[int]:
    """Subscriptions whose period ended (past a grace for a late renewal) without renewal are lapsed once;
    with SUBSCRIPTION_CREDITS_EXPIRE their last period's unused credits are taken back (an expiry
    operation). Returns the ids of the subscriptions lapsed."""
    now = now or timezone.now()
    due = Subscription.objects.filter(lapsed_at__isnull=True, expires_at__lte=now - LAPSE_GRACE)
    lapsed = []
    for subscription_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
            if subscription.lapsed_at is not None or subscription.expires_at > now - LAPSE_GRACE:
                continue
            if settings.SUBSCRIPTION_CREDITS_EXPIRE:
                _expire_unused(subscription)
            subscription.lapsed_at = now
            subscription.save(update_fields=["lapsed_at"])
        lapsed.append(subscription_id)
    if lapsed:
        logger.info("subscriptions lapsed: %d", len(lapsed))
    return lapsed


def _expire_unused(subscription: Subscription) -> None:
    """Take back what the last paid period granted and the user has not spent since it began, never more
    than the balance."""
    last = subscription.payments.filter(status="paid").order_by("-created_at").first()
    if last is None:
        return
    spent = -(
        Operation.objects.filter(_SPENDING, user_id=subscription.user_id, created_at__gte=last.created_at).aggregate(
            total=Sum("amount")
        )["total"]
        or Decimal(0)
    )
    balance = Balance.objects.filter(pk=subscription.user_id).values_list("amount", flat=True).first() or Decimal(0)
    unused = min(balance, max(last.credits - spent, Decimal(0)))
    if unused > 0:
        ledger_apply(
            user_id=subscription.user_id,
            type=OperationType.EXPIRY,
            amount=-unused,
            payment_id=last.pk,
            reason=f"subscription {subscription.pk} lapsed",
            idempotency_key=operation_key("expiry", last.pk),
        )
