"""Telegram Stars: invoices, checking and crediting a payment once (and thanking for it once), refunds that
never leave a user both their Stars and their credits, and refunds Telegram made without us."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.core import sending
from apps.core.gateway import StarTransaction, telegram_gateway
from apps.users.models import TelegramUser

from ..exceptions import InsufficientBalance, RefundRefused
from ..models import (
    Balance,
    CreditPackage,
    Discrepancy,
    DiscrepancyKind,
    Invoice,
    Operation,
    OperationType,
    PaidStream,
    Payment,
    PaymentStatus,
    RefundAbuse,
    Shortfall,
    SubscriptionPlan,
)
from ..revenue import payment_consumed
from ..selectors import package_for_sale
from .ledger import idempotency_hash, ledger_apply, operation_key
from .streams import stream_purchased
from .subscriptions import subscription_period_paid, subscription_refunded

logger = logging.getLogger(__name__)

STARS_CURRENCY = "XTR"
_INVOICE = "inv"  # "inv:<Invoice id>"
_PACKAGE = "pkg"  # "pkg:<package id>:<user id>", the payload of invoices sent before invoices were recorded


# --- Invoices ----------------------------------------------------------------------------------
def invoice_payload(
    *,
    user_id: int,
    package: CreditPackage | None = None,
    plan: SubscriptionPlan | None = None,
    stream: PaidStream | None = None,
) -> str:
    """Record what this invoice sells (a package, a subscription plan or a paid stream: its title, credits
    and Stars now) and return the payload that names it: the payment is credited with this, whatever staff
    change meanwhile."""
    sold = package or plan or stream
    invoice = Invoice.objects.create(
        user_id=user_id,
        package=package,
        plan=plan,
        stream=stream,
        title=sold.title,
        credits=Decimal(0) if stream is not None else sold.credits,
        stars=sold.stars,
    )
    return f"{_INVOICE}:{invoice.pk}"


@dataclass(frozen=True)
class _Offer:
    """What an invoice of ours sold, to whom."""

    user_id: int
    package_id: int | None
    invoice: Invoice | None
    title: str
    credits: Decimal
    stars: int
    plan_id: int | None = None
    stream_id: int | None = None


def _offer(payload: str) -> _Offer | None:
    """What the invoice with this payload sold, or None if it is none of ours. An old payload names only
    the package: it is read as it is now, on sale or not."""
    kind, _, rest = payload.partition(":")
    if kind == _INVOICE and rest.isdigit():
        invoice = Invoice.objects.filter(pk=int(rest)).first()
        if invoice is not None:
            return _Offer(
                invoice.user_id,
                invoice.package_id,
                invoice,
                invoice.title,
                invoice.credits,
                invoice.stars,
                invoice.plan_id,
                invoice.stream_id,
            )
    if kind == _PACKAGE:
        package_id, _, payer = rest.partition(":")
        package = CreditPackage.objects.filter(pk=int(package_id)).first() if package_id.isdigit() else None
        if package is not None and payer.isdigit():
            return _Offer(int(payer), package.pk, None, package.title, package.credits, package.stars)
    return None


def is_our_invoice(payload: str) -> bool:
    """Whether this payload names an invoice of ours: a payment of it can be credited."""
    return _offer(payload) is not None


def invoice_buyer(payload: str) -> int | None:
    """The user the invoice with this payload was sent to (an erased person's pseudonym, since the erase), or
    None if it is none of ours."""
    offer = _offer(payload)
    return offer.user_id if offer is not None else None


def _on_sale(offer: _Offer) -> CreditPackage | SubscriptionPlan | PaidStream | None:
    """What the offer sold, if it is still on sale."""
    if offer.plan_id:
        return SubscriptionPlan.objects.filter(pk=offer.plan_id, is_active=True).first()
    if offer.stream_id:
        return PaidStream.objects.filter(pk=offer.stream_id, is_active=True).first()
    return package_for_sale(str(offer.package_id)) if offer.package_id else None


def payment_problem(*, user_id: int, payload: str, currency: str, total_amount: int) -> str | None:
    """Why Telegram should not take this payment (answered in pre_checkout_query), or None. An invoice is
    paid only while what it sells is on sale on the terms the invoice shows."""
    offer = _offer(payload)
    sold = _on_sale(offer) if offer is not None else None
    if offer is None or offer.user_id != user_id or sold is None:
        return "This offer is no longer available. Please open /buy again."
    if currency != STARS_CURRENCY or total_amount != offer.stars or sold.stars != offer.stars:
        return "The price has changed. Please open /buy again."
    if not isinstance(sold, PaidStream) and sold.credits != offer.credits:
        return "This offer has changed. Please open /buy again."
    if not TelegramUser.objects.filter(pk=user_id, is_active=True).exists():
        return "Your account is not active. Send /start and try again."
    if settings.REFUND_ABUSE_BLOCKS_PURCHASES and RefundAbuse.objects.filter(user_id=user_id).exists():
        return gettext("Purchases are closed for your account after a refund. Please write to support.")
    return None


# --- Payments ----------------------------------------------------------------------------------
def payment_record(
    *,
    user_id: int,
    payload: str,
    currency: str,
    total_amount: int,
    charge_id: str,
    provider_charge_id: str = "",
    period_end: datetime | None = None,
) -> tuple[Payment | None, bool]:
    """Record and credit a successful payment exactly once per Telegram charge id, however often it arrives,
    with what its invoice sold: Telegram has taken the Stars, so a package withdrawn or changed since is no
    reason not to. A subscription's payment (the first or a renewal: each a charge id of its own) credits
    its period and extends the subscription to `period_end` (subscription_expiration_date); a paid stream's
    gives access instead of credits. Returns the payment (None if its payload is none of our invoices) and
    whether this call credited it."""
    payment = Payment.objects.filter(telegram_payment_charge_id=charge_id).first()
    if payment is not None:
        return payment, False
    offer = _offer(payload)
    if offer is None or currency != STARS_CURRENCY:
        logger.error(
            "payment %s of user %s (%s %s, payload %r) is not for an invoice of ours: not credited",
            charge_id,
            user_id,
            total_amount,
            currency,
            payload,
        )
        return None, False
    if total_amount != offer.stars or user_id != offer.user_id:
        logger.warning(
            "payment %s: user %s paid %s XTR for invoice %r of user %s at %s XTR; credited as the invoice sold",
            charge_id,
            user_id,
            total_amount,
            payload,
            offer.user_id,
            offer.stars,
        )
    with transaction.atomic():
        payment, created = Payment.objects.get_or_create(
            telegram_payment_charge_id=charge_id,
            defaults={
                "user_id": user_id,
                "package_id": offer.package_id,
                "invoice": offer.invoice,
                "stars": total_amount,
                "credits": offer.credits,
                "provider_payment_charge_id": provider_charge_id,
                "invoice_payload": payload,
                "stream_id": offer.stream_id,
            },
        )
        if created and offer.plan_id is not None:
            subscription_period_paid(payment, period_end=period_end)
        if created and offer.stream_id is not None:
            stream_purchased(payment)
        elif created:
            ledger_apply(
                user_id=user_id,
                type=OperationType.PAYMENT,
                amount=offer.credits,
                payment_id=payment.pk,
                idempotency_key=operation_key("payment", charge_id),
            )
            transaction.on_commit(
                lambda: track(
                    Events.PAYMENT_COMPLETED,
                    user_id=user_id,
                    properties={"stars": total_amount, "credits": str(offer.credits), "package": offer.title},
                )
            )
    return payment, created


def payment_thanked(payment_id: int) -> None:
    """The user has been thanked for this payment (the thanks reached Telegram): a redelivery stays silent."""
    Payment.objects.filter(pk=payment_id, thanked_at__isnull=True).update(thanked_at=timezone.now())


# --- Refunds -----------------------------------------------------------------------------------
def payment_refund(*, payment_id: int, staff=None, allow_negative: bool = False) -> Payment:
    """Give the Stars back (refundStarPayment) and take the credits back, never leaving the user both.

    The credits are taken back first, in the ledger, and the payment is "refunding" (committed); then
    Telegram is asked:
    - it refunds: the payment is refunded;
    - it refuses (any answer but a timeout; also "already refunded" is taken as refunded): the credits are
      given back, the payment is paid again, and Telegram's answer is raised (`sending.SendFailed`);
    - it does not answer in time (`sending.Unconfirmed`): it may have refunded, so the payment stays
      "refunding", its credits held back, until `refunds_settle` finds the refund in Telegram's own
      transactions (refunded) or, after BILLING_REFUND_GRACE, does not (undone, credits back). So does a
      process that dies while it waits.
    RefundRefused when the payment is not paid (refunded, or a refund pending), its payer was erased (Telegram
    refunds to an account nothing names any more) or the user has spent the credits; nothing was changed then.
    With `allow_negative` (staff chose so, knowing what the user spent) the credits are taken back all the same
    and the balance goes below zero."""
    payment = _refund_begin(payment_id, staff, allow_negative)
    try:
        telegram_gateway().refund_star_payment(user_id=payment.user_id, charge_id=payment.telegram_payment_charge_id)
    except sending.Unconfirmed as error:
        logger.warning("refund of payment %s unconfirmed (%s): pending until Telegram's ledger says", payment.pk, error)
    except sending.SendFailed as error:
        if "ALREADY_REFUNDED" in str(error).upper():  # refunded before (e.g. by another tool): Stars are back
            _refund_settle(payment.pk, refunded=True)
        else:
            _refund_settle(payment.pk, refunded=False, reason=f"Telegram refused: {error}")
            raise
    except Exception:  # our own failure before the request (the gateway's contract): Telegram was not asked
        _refund_settle(payment.pk, refunded=False, reason="refund not sent: an error before the request")
        raise
    else:
        _refund_settle(payment.pk, refunded=True)
    payment.refresh_from_db()
    return payment


def _credits_owed(payment: Payment) -> Decimal:
    """The payment's credits a refund takes back: all of them, but those a lapsed subscription period's expiry
    took back already (it never expires a payment while its refund is pending: what is taken is given back)."""
    expired = payment.operations.filter(type=OperationType.EXPIRY).aggregate(total=Sum("amount"))["total"]
    return max(payment.credits + (expired or Decimal(0)), Decimal(0))


def _refund_key(payment: Payment, step: str = "") -> str:
    """Attempt 1 keeps the key refunds always had ("refund:<payment>"); later ones (after a refusal was
    undone) and the undoing get keys of their own."""
    ref = str(payment.pk) if payment.refund_attempts <= 1 else f"{payment.pk}:{payment.refund_attempts}"
    return operation_key("refund", f"{ref}:{step}" if step else ref)


def _refund_begin(payment_id: int, staff, allow_negative: bool) -> Payment:
    """Take the credits back and mark the payment "refunding", in one transaction."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status == PaymentStatus.REFUNDED:
            raise RefundRefused(f"payment {payment.pk} was already refunded")
        if payment.status == PaymentStatus.REFUNDING:
            raise RefundRefused(f"a refund of payment {payment.pk} is pending Telegram's confirmation")
        if TelegramUser.objects.filter(pk=payment.user_id, erased_at__isnull=False).exists():
            # refundStarPayment names the payer's Telegram account, and the erase left nothing that does
            raise RefundRefused(
                "the person who paid was erased: Telegram refunds Stars only to their account, which nothing "
                "here names any more"
            )
        payment.refund_attempts += 1
        if owed := _credits_owed(payment):  # a paid stream's payment credited nothing: only its Stars go back
            try:
                ledger_apply(
                    user_id=payment.user_id,
                    type=OperationType.REFUND,
                    amount=-owed,
                    payment_id=payment.pk,
                    staff=staff,
                    idempotency_key=_refund_key(payment),
                    allow_negative=allow_negative,
                )
            except InsufficientBalance as error:
                raise RefundRefused(f"the user has already spent the credits ({error.balance} left)") from error
        payment.status, payment.refunded_by = PaymentStatus.REFUNDING, staff
        payment.refund_requested_at = timezone.now()
        payment.save(update_fields=["status", "refund_requested_at", "refunded_by", "refund_attempts"])
    return payment


def _refund_settle(payment_id: int, *, refunded: bool, reason: str = "") -> bool:
    """End a pending refund: refunded (the credits stay taken), or undone (credits back, paid again).
    False if it was not pending (settled already: nothing more happens)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.REFUNDING:
            return False
        if refunded:
            # This attempt's debit (an earlier attempt's was given back when it was undone)
            taken = payment.operations.filter(idempotency_key=idempotency_hash(_refund_key(payment))).first()
            _payment_refunded(payment, taken=taken)
        elif owed := _credits_owed(payment):
            ledger_apply(
                user_id=payment.user_id,
                type=OperationType.REFUND,
                amount=owed,
                payment_id=payment.pk,
                reason=f"refund undone: {reason}",
                idempotency_key=_refund_key(payment, "undone"),
            )
        if not refunded:
            payment.status, payment.refund_requested_at, payment.refunded_by = PaymentStatus.PAID, None, None
        payment.save(update_fields=["status", "refunded_at", "refund_requested_at", "refunded_by"])
    return True


def _payment_refunded(payment: Payment, *, taken: Operation | None) -> None:
    """Mark the payment refunded (its Stars are back; the caller saves it), end the subscription period it paid,
    and check it for refund abuse over the ledger before `taken`, the refund's debit (None: the refund could
    take nothing back, so the whole ledger)."""
    payment.status, payment.refunded_at = PaymentStatus.REFUNDED, timezone.now()
    if payment.subscription_id is not None:
        subscription_refunded(payment)
    _refund_abuse_check(payment, before_id=taken.pk if taken else None)


def _refund_abuse_check(payment: Payment, *, before_id: int | None) -> None:
    """Flag the user if they had consumed REFUND_ABUSE_SHARE or more of the refunded payment's credits before
    the refund took them back (before the operation `before_id`; None: a refund that could take none back, so
    the whole ledger): they keep what they used and get the Stars."""
    if not payment.credits:
        return
    consumed = payment_consumed(user_id=payment.user_id, payment_id=payment.pk, before_id=before_id)
    share = (consumed / payment.credits).quantize(Decimal("0.0001"))
    if share >= settings.REFUND_ABUSE_SHARE:
        RefundAbuse.objects.get_or_create(
            payment=payment,
            defaults={
                "user_id": payment.user_id,
                "credits_consumed": consumed,
                "stars_returned": payment.stars,
                "share_consumed": share,
            },
        )
        logger.warning("refund abuse: user %s had consumed %s of payment %s", payment.user_id, share, payment.pk)


# --- Refunds Telegram made ---------------------------------------------------------------------
def payment_refund_record(*, charge_id: str) -> tuple[Payment | None, bool]:
    """Record a refund Telegram made without our asking (a dispute) or whose answer we lost, as a
    refunded_payment update or reconciliation with Telegram's ledger finds it; once, however often it arrives.

    The payment is refunded and its credits are taken back, as many as the balance holds: what the user has
    already spent is never taken below zero silently, but recorded on the payment (credits_unrecovered) for
    staff to take back (the balance goes negative) or write off. A refund we asked for and still wait on is
    settled. Returns the payment (None: no payment of ours has this charge id) and whether this call recorded
    the refund."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(telegram_payment_charge_id=charge_id).first()
        if payment is None:
            logger.error("Telegram refunded payment %s, which we have no record of", charge_id)
            return None, False
        if payment.status == PaymentStatus.REFUNDING:
            recorded = _refund_settle(payment.pk, refunded=True)
            payment.refresh_from_db()
            return payment, recorded
        if payment.status == PaymentStatus.REFUNDED:
            return payment, False
        balance = Balance.objects.select_for_update().filter(pk=payment.user_id).values_list("amount", flat=True)
        owed = _credits_owed(payment)
        take = min(owed, max(balance.first() or Decimal(0), Decimal(0)))
        taken = None
        if take > 0:
            taken = ledger_apply(
                user_id=payment.user_id,
                type=OperationType.REFUND,
                amount=-take,
                payment_id=payment.pk,
                reason="refunded by Telegram",
                idempotency_key=operation_key("refund", f"{payment.pk}:telegram"),
            )
        payment.credits_unrecovered = (owed - take) or None
        _payment_refunded(payment, taken=taken)
        payment.save(update_fields=["status", "refunded_at", "credits_unrecovered"])
    if payment.credits_unrecovered:
        logger.warning(
            "Telegram refunded payment %s after user %s spent %s of its credits: staff decide",
            payment.pk,
            payment.user_id,
            payment.credits_unrecovered,
        )
    return payment, True


def payment_shortfall_take(*, payment_id: int, staff) -> Operation | None:
    """Staff's decision on the credits a refund could not take back: take them now, the balance going below
    zero by exactly that much (one refund operation, with the staff member). None when the payment has no
    shortfall awaiting a decision (decided before: nothing more happens)."""
    with transaction.atomic():
        payment = _shortfall_undecided(payment_id)
        if payment is None:
            return None
        operation = ledger_apply(
            user_id=payment.user_id,
            type=OperationType.REFUND,
            amount=-payment.credits_unrecovered,
            payment_id=payment.pk,
            staff=staff,
            reason="spent before Telegram refunded: taken back by staff",
            idempotency_key=operation_key("refund", f"{payment.pk}:unrecovered"),
            allow_negative=True,
        )
        _shortfall_decided(payment, Shortfall.TAKEN, staff)
    return operation


def payment_shortfall_write_off(*, payment_id: int, staff) -> bool:
    """Staff's other decision: the user keeps what they spent; no balance changes. False when there was no
    shortfall awaiting a decision."""
    with transaction.atomic():
        payment = _shortfall_undecided(payment_id)
        if payment is None:
            return False
        _shortfall_decided(payment, Shortfall.WRITTEN_OFF, staff)
    return True


def _shortfall_undecided(payment_id: int) -> Payment | None:
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    return payment if payment.credits_unrecovered and not payment.unrecovered_resolution else None


def _shortfall_decided(payment: Payment, resolution: Shortfall, staff) -> None:
    """Record who decided what, and close the discrepancy a reconciliation left open for this decision."""
    payment.unrecovered_resolution, payment.unrecovered_resolved_by = resolution, staff
    payment.unrecovered_resolved_at = timezone.now()
    payment.save(update_fields=["unrecovered_resolution", "unrecovered_resolved_at", "unrecovered_resolved_by"])
    Discrepancy.objects.filter(
        kind=DiscrepancyKind.UNRECORDED_REFUND, charge_id=payment.telegram_payment_charge_id, resolved_at__isnull=True
    ).update(
        resolved_at=payment.unrecovered_resolved_at,
        resolved_by=staff,
        resolution=f"unrecovered credits: {resolution.label.lower()}",
    )


@dataclass
class RefundsSettled:
    refunded: list[int] = field(default_factory=list)  # payment ids: Telegram's ledger shows the refund
    undone: list[int] = field(default_factory=list)  # not there past the grace: credits back
    pending: list[int] = field(default_factory=list)  # not there yet, or the ledger was not read far enough


# getStarTransactions gives at most 100 a page; a run reads at most this many pages.
_PAGE, _MAX_PAGES = 100, 50
# Telegram's clock and ours may differ: a refund is looked for from this long before it was asked.
_CLOCK_SLACK = timedelta(minutes=10)


def refunds_settle(*, payment_ids: list[int] | None = None) -> RefundsSettled:
    """Settle pending refunds (all, or these) from Telegram's own ledger (getStarTransactions): a refund
    of the payment's charge there (same id, going out to the user) → refunded; none once the ledger was
    read back to before the refund was asked, and the refund older than BILLING_REFUND_GRACE → undone,
    credits back. Anything else waits for the next run. Raises `sending.SendFailed` if Telegram cannot be
    read; nothing was settled then."""
    pending = Payment.objects.filter(status=PaymentStatus.REFUNDING).select_related("user")
    if payment_ids is not None:
        pending = pending.filter(pk__in=payment_ids)
    payments = {payment.telegram_payment_charge_id: payment for payment in pending}
    result = RefundsSettled()
    if not payments:
        return result
    since = min(payment.refund_requested_at or payment.created_at for payment in payments.values()) - _CLOCK_SLACK
    found, complete = _refunds_in_telegram(payments, since=since)
    cutoff = timezone.now() - settings.BILLING_REFUND_GRACE
    for charge_id, payment in payments.items():
        if charge_id in found:
            if _refund_settle(payment.pk, refunded=True):
                result.refunded.append(payment.pk)
        elif complete and (payment.refund_requested_at or payment.created_at) <= cutoff:
            if _refund_settle(payment.pk, refunded=False, reason="Telegram's transactions show no refund"):
                result.undone.append(payment.pk)
        else:
            result.pending.append(payment.pk)
    if result.refunded or result.undone:
        logger.info("pending refunds: %d confirmed, %d undone", len(result.refunded), len(result.undone))
    return result


def _refunds_in_telegram(payments: dict[str, Payment], *, since: datetime) -> tuple[set[str], bool]:
    """The charge ids among `payments` that Telegram's ledger shows refunded to their payer, and whether the
    ledger was read far enough to say the others are not: to its end, or (newest first) back past `since`."""
    found: set[str] = set()
    ledger = StarLedgerRead(since=since)
    for page in ledger:
        for entry in page:
            payment = payments.get(entry.id)
            if payment is None or not entry.outgoing:
                continue
            # Telegram names the person it refunded, whom an erased person's pseudonym no longer names.
            if entry.user_id in (payment.user_id, None) or payment.user.erased_at is not None:
                found.add(entry.id)
        if len(found) == len(payments):
            return found, True
    return found, ledger.complete


class StarLedgerRead:
    """The bot's Telegram Stars ledger (getStarTransactions), page by page, newest first, until a page reaches
    back before `since` or the ledger ends (then `complete`), or `max_pages` were read. Iterating raises
    `sending.SendFailed` if Telegram cannot be read. `pages` and `transactions` count what was read."""

    def __init__(self, *, since: datetime, max_pages: int = _MAX_PAGES) -> None:
        self.since, self.max_pages = since, max_pages
        self.pages = self.transactions = 0
        self.complete = False

    def __iter__(self) -> Iterator[list[StarTransaction]]:
        gateway = telegram_gateway()
        offset = 0
        for _ in range(self.max_pages):
            page = gateway.star_transactions(offset=offset, limit=_PAGE)
            self.pages, self.transactions = self.pages + 1, self.transactions + len(page)
            # Newest first, and this page reaches back before `since`; or the last page.
            self.complete = len(page) < _PAGE or (page[0].date >= page[-1].date and page[-1].date < self.since)
            yield page
            if self.complete:
                return
            offset += len(page)
        logger.warning("Telegram's Stars ledger read for %d pages without reaching %s", self.max_pages, self.since)
