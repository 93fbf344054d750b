"""Telegram Stars: the invoice payload, checking and crediting a payment once, refunds."""

import logging

from django.db import transaction
from django.utils import timezone

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.core.gateway import telegram_gateway
from apps.users.models import TelegramUser

from ..exceptions import InsufficientBalance, RefundRefused
from ..models import CreditPackage, OperationType, Payment, PaymentStatus
from ..selectors import package_for_sale
from .ledger import ledger_apply, operation_key

logger = logging.getLogger(__name__)

STARS_CURRENCY = "XTR"


def invoice_payload(*, package: CreditPackage, user_id: int) -> str:
    return f"pkg:{package.pk}:{user_id}"


def _package_from_payload(payload: str, user_id: int) -> CreditPackage | None:
    kind, _, rest = payload.partition(":")
    package_id, _, payer = rest.partition(":")
    if kind != "pkg" or payer != str(user_id):
        return None
    return package_for_sale(package_id)


def payment_problem(*, user_id: int, payload: str, currency: str, total_amount: int) -> str | None:
    """Why Telegram should not take this payment (answered in pre_checkout_query), or None."""
    package = _package_from_payload(payload, user_id)
    if package is None:
        return "This offer is no longer available. Please open /buy again."
    if currency != STARS_CURRENCY or total_amount != package.stars:
        return "The price has changed. Please open /buy again."
    if not TelegramUser.objects.filter(pk=user_id, is_active=True).exists():
        return "Your account is not active. Send /start and try again."
    return None


def payment_record(
    *, user_id: int, payload: str, currency: str, total_amount: int, charge_id: str, provider_charge_id: str = ""
) -> tuple[Payment | None, bool]:
    """Credit a successful payment exactly once per Telegram charge id, however often it arrives.
    Returns the payment (None if it matches no offer) and whether this call credited it."""
    package = _package_from_payload(payload, user_id)
    if package is None or currency != STARS_CURRENCY or total_amount != package.stars:
        logger.warning(
            "payment %s of user %s does not match an offer (%s %s %s): not credited",
            charge_id,
            user_id,
            payload,
            total_amount,
            currency,
        )
        return None, False
    with transaction.atomic():
        payment, created = Payment.objects.get_or_create(
            telegram_payment_charge_id=charge_id,
            defaults={
                "user_id": user_id,
                "package": package,
                "stars": total_amount,
                "credits": package.credits,
                "provider_payment_charge_id": provider_charge_id,
                "invoice_payload": payload,
            },
        )
        if created:
            ledger_apply(
                user_id=user_id,
                type=OperationType.PAYMENT,
                amount=package.credits,
                payment_id=payment.pk,
                idempotency_key=operation_key("payment", charge_id),
            )
            transaction.on_commit(
                lambda: track(
                    Events.PAYMENT_COMPLETED,
                    user_id=user_id,
                    properties={"stars": total_amount, "credits": str(package.credits), "package": package.title},
                )
            )
    return payment, created


def payment_refund(*, payment_id: int, staff=None) -> Payment:
    """Give the Stars back (refundStarPayment) and take the credits back, once. RefundRefused when the
    ledger will not, `sending.SendFailed` when Telegram does not; either way nothing was changed."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status == PaymentStatus.REFUNDED:
            raise RefundRefused(f"payment {payment.pk} was already refunded")
        try:
            ledger_apply(
                user_id=payment.user_id,
                type=OperationType.REFUND,
                amount=-payment.credits,
                payment_id=payment.pk,
                staff=staff,
                idempotency_key=operation_key("refund", payment.pk),
            )
        except InsufficientBalance as error:
            raise RefundRefused(f"the user has already spent the credits ({error.balance} left)") from error
        payment.status, payment.refunded_at, payment.refunded_by = PaymentStatus.REFUNDED, timezone.now(), staff
        payment.save(update_fields=["status", "refunded_at", "refunded_by"])
        # Last: if Telegram refuses, the transaction rolls back and nothing was taken.
        telegram_gateway().refund_star_payment(user_id=payment.user_id, charge_id=payment.telegram_payment_charge_id)
    return payment
