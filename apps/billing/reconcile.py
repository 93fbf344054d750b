"""Reconciliation with Telegram's Stars ledger: getStarTransactions, read back STARS_RECONCILE_DAYS, against our
payments. What they disagree on is a Discrepancy, raised once per kind and charge id:

- missing_payment: a user paid (a transaction from them) and we have no payment with its charge id (the
  successful_payment update was lost). Staff credit it with one click, through payment_record as the update
  would have (Telegram gives the invoice payload), or dismiss it; `details` says why it cannot be credited when
  the payload names nothing we sell or the user is unknown to the bot.
- unrecorded_refund: Telegram refunded (a transaction to the payer) a payment we have as paid. The run records
  and applies it at once (payment_refund_record) and resolves it, or leaves it open when the user had spent some
  of the credits: staff take them back (the balance goes negative) or write them off.
- unknown_to_telegram: our paid payment inside the window whose charge id Telegram does not list, looked for
  only when the ledger was read back past the window. Money never moves for it: staff look and mark it checked.

A run's figures are stored (ReconciliationRun); a run that cannot read Telegram is stored with the error and
changes nothing."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core import sending
from apps.core.gateway import StarTransaction
from apps.core.money import credits_phrase, stars_text
from apps.users.models import TelegramUser

from .exceptions import DiscrepancyRefused
from .models import Discrepancy, DiscrepancyKind, Payment, PaymentStatus, ReconciliationRun
from .services import (
    STARS_CURRENCY,
    StarLedgerRead,
    invoice_buyer,
    is_our_invoice,
    payment_record,
    payment_refund_record,
    payment_shortfall_take,
    payment_shortfall_write_off,
)

logger = logging.getLogger(__name__)

# getStarTransactions pages (100 transactions each) a run reads at most.
MAX_PAGES = 100
# Telegram's clock and ours may differ: our payments this close to the window's start are not looked for.
_CLOCK_SLACK = timedelta(minutes=10)


def stars_reconcile(*, now: datetime | None = None) -> ReconciliationRun:
    """Read Telegram's Stars ledger back STARS_RECONCILE_DAYS and compare it with our payments: raise what
    they disagree on, apply the refunds Telegram made that we did not record, store the run's figures."""
    now = now or timezone.now()
    run = ReconciliationRun.objects.create(started_at=now, since=now - timedelta(days=settings.STARS_RECONCILE_DAYS))
    ledger = StarLedgerRead(since=run.since, max_pages=MAX_PAGES)
    try:
        transactions = [entry for page in ledger for entry in page]
    except sending.SendFailed as error:
        logger.warning("reconciliation: Telegram's Stars ledger could not be read: %s", error)
        run.error = f"Telegram's Stars ledger could not be read: {error}"
        _finish(run, ledger)
        return run
    # Telegram's transactions with a user inside the window, by charge id: the user paid, or was refunded.
    paid = {e.id: e for e in transactions if e.user_id is not None and not e.outgoing and e.date >= run.since}
    refunded = {e.id: e for e in transactions if e.user_id is not None and e.outgoing and e.date >= run.since}
    ours = Payment.objects.in_bulk(list(paid.keys() | refunded.keys()), field_name="telegram_payment_charge_id")
    compared = {payment.pk for payment in ours.values()}
    for charge_id, entry in paid.items():
        # A payment Telegram refunded as well left the user nothing to credit.
        if charge_id not in ours and charge_id not in refunded:
            _missing_payment(run, entry)
    for charge_id, entry in refunded.items():
        payment = ours.get(charge_id)
        # A refund we asked for and still wait on is refunds_settle's (every few minutes), not a discrepancy.
        if payment is not None and payment.status == PaymentStatus.PAID:
            _unrecorded_refund(run, entry)
    run.complete = ledger.complete
    if ledger.complete:
        listed = {entry.id for entry in transactions}
        window = Payment.objects.filter(
            status=PaymentStatus.PAID, created_at__gte=run.since + _CLOCK_SLACK, created_at__lt=now
        )
        for payment in window.only("user_id", "stars", "telegram_payment_charge_id", "created_at").iterator():
            compared.add(payment.pk)
            if payment.telegram_payment_charge_id not in listed:
                _unknown_to_telegram(run, payment)
    run.payments_compared = len(compared)
    _finish(run, ledger)
    found = (run.missing_payments, run.unrecorded_refunds, run.unknown_to_telegram)
    logger.info("reconciliation: %d missing payments, %d unrecorded refunds, %d unknown to Telegram", *found)
    return run


def _finish(run: ReconciliationRun, ledger: StarLedgerRead) -> None:
    run.pages, run.transactions, run.finished_at = ledger.pages, ledger.transactions, timezone.now()
    run.save()


def _missing_payment(run: ReconciliationRun, entry: StarTransaction) -> None:
    run.missing_payments += 1
    payer = _payer(entry)
    discrepancy = Discrepancy(
        run=run,
        kind=DiscrepancyKind.MISSING_PAYMENT,
        charge_id=entry.id,
        telegram_user_id=payer,
        stars=entry.amount,
        telegram_date=entry.date,
        invoice_payload=entry.invoice_payload[:128],
    )
    paid = f"User {payer} paid {stars_text(entry.amount)}; no payment of ours has this charge id."
    problem = credit_problem(discrepancy)
    discrepancy.details = f"{paid} It cannot be credited: {problem}." if problem else paid
    _raise(discrepancy)


def _payer(entry: StarTransaction) -> int:
    """Who paid, as the bot knows them: the user Telegram names or, when they were erased after the invoice was
    sent, the pseudonym it went to with their ledger (crediting the payment credits the ledger that stays)."""
    buyer = invoice_buyer(entry.invoice_payload)
    if buyer is not None and buyer != entry.user_id:
        if TelegramUser.objects.filter(pk=buyer, erased_at__isnull=False).exists():
            return buyer
    return entry.user_id


def _unrecorded_refund(run: ReconciliationRun, entry: StarTransaction) -> None:
    run.unrecorded_refunds += 1
    payment, _ = payment_refund_record(charge_id=entry.id)
    # The payment's user is the person Telegram names, or the pseudonym of a person erased since: not them.
    discrepancy = Discrepancy(
        run=run,
        kind=DiscrepancyKind.UNRECORDED_REFUND,
        charge_id=entry.id,
        telegram_user_id=payment.user_id,
        stars=entry.amount,
        telegram_date=entry.date,
        payment=payment,
        details=f"Telegram refunded {stars_text(entry.amount)} to user {payment.user_id}; we had the payment as paid.",
    )
    if payment.credits_unrecovered:
        discrepancy.details += (
            f" Recorded; the user had spent {credits_phrase(payment.credits_unrecovered, 4)} of its credits, not taken"
            " back: take them (the balance goes negative) or write them off."
        )
    else:
        discrepancy.resolved_at, discrepancy.resolution = timezone.now(), "refund recorded and applied by the run"
    _raise(discrepancy)


def _unknown_to_telegram(run: ReconciliationRun, payment: Payment) -> None:
    run.unknown_to_telegram += 1
    when = timezone.localtime(payment.created_at)
    details = (
        f"Payment {payment.pk} of user {payment.user_id} ({stars_text(payment.stars)}, recorded {when:%Y-%m-%d %H:%M})"
        f" is not in Telegram's Stars ledger, read back to {timezone.localtime(run.since):%Y-%m-%d %H:%M}."
    )
    _raise(
        Discrepancy(
            run=run,
            kind=DiscrepancyKind.UNKNOWN_TO_TELEGRAM,
            charge_id=payment.telegram_payment_charge_id,
            stars=payment.stars,
            payment=payment,
            details=details,
        )
    )


def _raise(discrepancy: Discrepancy) -> None:
    """Store it unless raised before: an open one is not duplicated, a resolved one is not raised again."""
    if not Discrepancy.objects.filter(kind=discrepancy.kind, charge_id=discrepancy.charge_id).exists():
        discrepancy.save()


# --- Resolutions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resolution:
    code: str
    label: str


CREDIT = Resolution("credit", "Credit it")
DISMISS = Resolution("dismiss", "Dismiss")
MARK_CHECKED = Resolution("checked", "Mark checked")
TAKE = Resolution("take", "Take the unrecovered credits (balance goes negative)")
WRITE_OFF = Resolution("write_off", "Write off")


def credit_problem(discrepancy: Discrepancy) -> str | None:
    """Why a missing payment cannot be credited, or None."""
    if not is_our_invoice(discrepancy.invoice_payload):
        return "its invoice payload names nothing we sell"
    if not TelegramUser.objects.filter(pk=discrepancy.telegram_user_id).exists():
        return "the user is unknown to the bot"
    return None


def resolutions(discrepancy: Discrepancy) -> list[Resolution]:
    """What staff may do about it now (nothing once it is resolved)."""
    if discrepancy.resolved_at is not None:
        return []
    if discrepancy.kind == DiscrepancyKind.MISSING_PAYMENT:
        return [DISMISS] if credit_problem(discrepancy) else [CREDIT, DISMISS]
    if discrepancy.kind == DiscrepancyKind.UNRECORDED_REFUND:
        return [TAKE, WRITE_OFF]
    return [MARK_CHECKED]


def discrepancy_resolve(*, discrepancy_id: int, code: str, staff) -> Discrepancy:
    """Resolve it the way staff chose (a Resolution's code), once: a discrepancy resolved before is returned as
    it is. DiscrepancyRefused when there is no such discrepancy or that resolution is not one it offers."""
    with transaction.atomic():
        discrepancy = Discrepancy.objects.select_for_update().filter(pk=discrepancy_id).first()
        if discrepancy is None:
            raise DiscrepancyRefused(f"no discrepancy {discrepancy_id}")
        if discrepancy.resolved_at is not None:
            return discrepancy
        if code not in {resolution.code for resolution in resolutions(discrepancy)}:
            raise DiscrepancyRefused(f"{discrepancy} cannot be resolved with {code!r}")
        if code == CREDIT.code:
            _credit(discrepancy, staff)
        elif code in (TAKE.code, WRITE_OFF.code):
            # The payment's decision closes its discrepancy (payments admin or here alike).
            decide = payment_shortfall_take if code == TAKE.code else payment_shortfall_write_off
            decide(payment_id=discrepancy.payment_id, staff=staff)
            discrepancy.refresh_from_db()
        else:
            _resolved(discrepancy, staff, "dismissed" if code == DISMISS.code else "checked")
    return discrepancy


def _credit(discrepancy: Discrepancy, staff) -> None:
    """Record and credit the payment as its successful_payment update would have."""
    payment, credited = payment_record(
        user_id=discrepancy.telegram_user_id,
        payload=discrepancy.invoice_payload,
        currency=STARS_CURRENCY,
        total_amount=discrepancy.stars,
        charge_id=discrepancy.charge_id,
    )
    discrepancy.payment = payment
    _resolved(discrepancy, staff, f"credited: payment {payment.pk}" if credited else f"recorded: payment {payment.pk}")


def _resolved(discrepancy: Discrepancy, staff, resolution: str) -> None:
    discrepancy.resolved_at, discrepancy.resolved_by, discrepancy.resolution = timezone.now(), staff, resolution
    discrepancy.save(update_fields=["payment", "resolved_at", "resolved_by", "resolution"])
