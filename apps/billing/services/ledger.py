"""The ledger: every balance change is an Operation, written here, in a transaction, with the
balance row locked. Seed 003's function names are kept as the public face."""

import hashlib
import logging
from contextlib import nullcontext
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.core.gateway import telegram_gateway
from apps.core.privacy import stored_error, stored_prompt
from apps.llm.services import price_for
from apps.users.models import TelegramUser

from ..exceptions import InsufficientBalance, RefundRefused
from ..models import (
    Balance,
    CreditPackage,
    DebugLog,
    GenerationLog,
    Operation,
    OperationType,
    Payment,
    PaymentStatus,
    PricePlan,
)

logger = logging.getLogger(__name__)

CENT = Decimal("0.0001")
STARS_CURRENCY = "XTR"


def _credits(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def credits_text(value: Decimal) -> str:
    """An amount as people read it: 100, 12.5, 0.16 (never 1E+2 or 100.0000)."""
    text = f"{Decimal(value).quantize(CENT):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def idempotency_hash(key: str | None) -> int | None:
    """Keys are stored as a 64-bit hash: eight bytes and one small index per operation, where the text
    would take forty bytes and two indexes (seed 003's 1 GB budget)."""
    if not key:
        return None
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def ledger_apply(
    *,
    user_id: int,
    type: int,
    amount: Decimal | int | str,
    idempotency_key: str | None = None,
    model: str = "",
    result_url: str = "",
    prompt: str | None = None,
    llm_request_id: int | None = None,
    payment_id: int | None = None,
    staff=None,
    reason: str = "",
) -> Operation:
    """Change a balance by `amount` (signed) and record it. The same idempotency key twice returns the
    first operation. A debit the balance cannot cover raises InsufficientBalance; nothing changes."""
    operation = Operation(
        user_id=user_id,
        type=type,
        amount=_credits(amount),
        idempotency_key=idempotency_hash(idempotency_key),
        model=model or "",
        result_url=result_url or "",
        prompt=stored_prompt(prompt),
        llm_request_id=llm_request_id,
        payment_id=payment_id,
        staff=staff,
        reason=reason[:200],
    )
    return _apply_once([operation])


def _apply_once(operations: list[Operation]) -> Operation:
    """Write operations together (all or none); returns the last. Its idempotency key names the whole:
    if it was written before, nothing is written again and the stored operation is returned. The key
    is looked up only when a write fails, so the usual case costs no extra round trip."""
    connection = transaction.get_connection()
    try:
        if connection.vendor == "postgresql":
            # One statement is atomic by itself; in a caller's transaction a savepoint keeps a duplicate
            # key from breaking it.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                _write_postgres(operations, connection)
        else:
            with transaction.atomic():
                for operation in operations:
                    _write_portable(operation)
    except (IntegrityError, InsufficientBalance):
        # Written before (a retry, or a concurrent twin that committed first): that is the answer.
        key = operations[-1].idempotency_key
        if key is not None and (done := Operation.objects.filter(idempotency_key=key).first()):
            return done
        raise
    return operations[-1]


_FIELDS = [field for field in Operation._meta.concrete_fields if field.name not in ("id", "balance_after")]


@cache
def _postgres_sql(count: int) -> str:
    """One statement for `count` operations of one user: the balance row is updated (and so locked)
    only if it stays at or above zero, and the operations are inserted with the balance each left.
    Concurrent debits of one user queue on the row lock and each sees the balance the one before left."""
    connection = transaction.get_connection()
    columns = ", ".join(field.column for field in _FIELDS)
    typed = ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in _FIELDS)
    rows = ", ".join(f"({typed}, CAST(%s AS numeric), {position})" for position in range(count))
    return (
        f"WITH balance AS (UPDATE {Balance._meta.db_table} SET amount = amount + %s, updated_at = %s "
        f"WHERE user_id = %s AND amount + %s >= 0 RETURNING amount) "
        f"INSERT INTO {Operation._meta.db_table} ({columns}, balance_after) "
        f"SELECT {', '.join(f'new.{field.column}' for field in _FIELDS)}, balance.amount - new.later "
        f"FROM balance, (VALUES {rows}) AS new ({columns}, later, position) ORDER BY new.position "
        f"RETURNING id, balance_after"
    )


def _write_postgres(operations: list[Operation], connection) -> None:
    """The operations (all of one user) in one statement: one round trip, atomic by itself."""
    user_id = operations[0].user_id
    total = sum((operation.amount for operation in operations), Decimal(0))
    params = []
    for position, operation in enumerate(operations):
        later = sum((later.amount for later in operations[position + 1 :]), Decimal(0))
        params += [field.get_db_prep_save(field.pre_save(operation, add=True), connection) for field in _FIELDS]
        params.append(later)
    for _ in range(3):
        with connection.cursor() as cursor:
            cursor.execute(_postgres_sql(len(operations)), [total, timezone.now(), user_id, total, *params])
            rows = sorted(cursor.fetchall())
        if rows:
            for operation, (pk, balance_after) in zip(operations, rows, strict=True):
                operation.pk, operation.balance_after = pk, balance_after
            return
        # No row updated: the balance is too low, or it did not exist when the statement began.
        current = Balance.objects.filter(pk=user_id).values_list("amount", flat=True).first()
        if current is None:
            Balance.objects.bulk_create([Balance(user_id=user_id)], ignore_conflicts=True)
        elif current + total < 0:
            raise InsufficientBalance(user_id=user_id, balance=current, needed=-total)
    raise RuntimeError(f"the balance of user {user_id} kept changing; operation not applied")


def _write_portable(operation: Operation) -> None:
    """SQLite: the same rule in three statements; its IMMEDIATE transactions serialise writers."""
    Balance.objects.bulk_create([Balance(user_id=operation.user_id)], ignore_conflicts=True)
    balance = Balance.objects.select_for_update().get(pk=operation.user_id)
    new_amount = balance.amount + operation.amount
    if new_amount < 0:
        raise InsufficientBalance(user_id=operation.user_id, balance=balance.amount, needed=-operation.amount)
    balance.amount = new_amount
    balance.save(update_fields=["amount", "updated_at"])
    operation.balance_after = new_amount
    operation.save(force_insert=True)


# --- Seed 003's functions ----------------------------------------------------------------------
def get_user_balance(user_id: int) -> Decimal:
    return next(iter(Balance.objects.filter(pk=user_id).values_list("amount", flat=True)), Decimal(0)).quantize(CENT)


def add_to_balance(
    user_id: int,
    amount: Decimal,
    *,
    operation_type: int = OperationType.ADJUSTMENT,
    reason: str = "",
    staff=None,
    idempotency_key: str | None = None,
) -> Decimal:
    """Credit the balance; returns the new balance."""
    if _credits(amount) <= 0:
        raise ValueError("add_to_balance takes a positive amount")
    operation = ledger_apply(
        user_id=user_id, type=operation_type, amount=amount, reason=reason, staff=staff, idempotency_key=idempotency_key
    )
    return operation.balance_after


def update_user_balance(user_id: int, new_balance: Decimal, *, reason: str = "", staff=None) -> Decimal:
    """Set the balance: an adjustment operation for the difference, never a bare overwrite."""
    with transaction.atomic():
        Balance.objects.bulk_create([Balance(user_id=user_id)], ignore_conflicts=True)
        current = Balance.objects.select_for_update().get(pk=user_id).amount
        difference = _credits(new_balance) - current
        if difference == 0:
            return current
        return ledger_apply(
            user_id=user_id, type=OperationType.ADJUSTMENT, amount=difference, reason=reason, staff=staff
        ).balance_after


def create_operation(
    user_id: int,
    operation_type: int | str,
    amount: Decimal,
    model: str | None = None,
    result_url: str | None = None,
    prompt: str | None = None,
    *,
    idempotency_key: str | None = None,
) -> int:
    """Seed 003's create_operation: a signed amount of a type ("payment", "generation", "refund", …).
    Returns the operation id."""
    if isinstance(operation_type, str):
        operation_type = OperationType[operation_type.upper()]
    return ledger_apply(
        user_id=user_id,
        type=operation_type,
        amount=amount,
        model=model or "",
        result_url=result_url or "",
        prompt=prompt,
        idempotency_key=idempotency_key,
    ).pk


def get_user_operations(user_id: int, operation_type: int | str | None = None, limit: int = 50) -> list[Operation]:
    operations = Operation.objects.filter(user_id=user_id)
    if operation_type is not None:
        if isinstance(operation_type, str):
            operation_type = OperationType[operation_type.upper()]
        operations = operations.filter(type=operation_type)
    return list(operations.order_by("-id")[:limit])


# --- Charging per answer: reserve, then settle -------------------------------------------------
def plan_for(model: str) -> PricePlan | None:
    return PricePlan.objects.filter(model=model).first() or PricePlan.objects.filter(model="").first()


def _charge(
    plan: PricePlan | None, *, prompt_tokens: int, completion_tokens: int, provider_cost: Decimal | None
) -> Decimal:
    if plan is None:
        return Decimal(0)
    if plan.markup is not None and provider_cost is not None:
        charge = provider_cost * plan.markup * settings.BILLING_CREDITS_PER_USD
    else:
        charge = (
            prompt_tokens * plan.credits_per_1k_prompt + completion_tokens * plan.credits_per_1k_completion
        ) / 1000
    return _credits(max(charge, plan.minimum_charge))


def charge_estimate(*, model: str, prompt_chars: int, max_tokens: int) -> Decimal:
    """The most an answer can cost: a generous prompt estimate (3 characters a token) and every
    allowed completion token."""
    plan = plan_for(model)
    provider_cost = None
    if plan is not None and plan.markup is not None:
        price = price_for("", model, timezone.now())
        provider_cost = price.cost(prompt_tokens=prompt_chars // 3 + 1, completion_tokens=max_tokens) if price else None
    return _charge(plan, prompt_tokens=prompt_chars // 3 + 1, completion_tokens=max_tokens, provider_cost=provider_cost)


def charge_for_usage(
    *, model: str, prompt_tokens: int | None, completion_tokens: int | None, provider_cost: Decimal | None
) -> Decimal:
    """What an answer costs the user. Usage the provider did not report costs the minimum charge."""
    plan = plan_for(model)
    if prompt_tokens is None or completion_tokens is None:
        return _credits(plan.minimum_charge) if plan else Decimal(0)
    return _charge(plan, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, provider_cost=provider_cost)


def is_billable(user) -> bool:
    return not settings.BILLING_FREE_MODE and not user.is_admin


def billing_reserve(*, user_id: int, amount: Decimal) -> Operation:
    """Hold the most an answer can cost; InsufficientBalance if the balance cannot cover it."""
    return ledger_apply(user_id=user_id, type=OperationType.RESERVE, amount=-_credits(amount))


def billing_settle(*, reserve: Operation, charge: Decimal, llm_request_id: int, model: str = "") -> Operation:
    """Release the hold and charge what the answer cost, never more than was held: two operations
    written together, once per LLM request."""
    held = -reserve.amount
    release = Operation(
        user_id=reserve.user_id,
        type=OperationType.RELEASE,
        amount=held,
        idempotency_key=idempotency_hash(f"release:{reserve.pk}"),
    )
    generation = Operation(
        user_id=reserve.user_id,
        type=OperationType.GENERATION,
        amount=-min(_credits(charge), held),
        model=model,
        llm_request_id=llm_request_id,
        idempotency_key=idempotency_hash(f"generation:{llm_request_id}"),
    )
    return _apply_once([release, generation])


def billing_release(*, reserve: Operation) -> Operation:
    """The answer failed: give back everything that was held."""
    return ledger_apply(
        user_id=reserve.user_id,
        type=OperationType.RELEASE,
        amount=-reserve.amount,
        idempotency_key=f"release:{reserve.pk}",
    )


def billing_grant_trial(*, user_id: int) -> Operation | None:
    if settings.BILLING_TRIAL_CREDITS <= 0:
        return None
    return ledger_apply(
        user_id=user_id,
        type=OperationType.BONUS,
        amount=settings.BILLING_TRIAL_CREDITS,
        reason="trial credit",
        idempotency_key=f"trial:{user_id}",
    )


# --- Telegram Stars --------------------------------------------------------------------------
def invoice_payload(*, package: CreditPackage, user_id: int) -> str:
    return f"pkg:{package.pk}:{user_id}"


def _package_from_payload(payload: str, user_id: int) -> CreditPackage | None:
    kind, _, rest = payload.partition(":")
    package_id, _, payer = rest.partition(":")
    if kind != "pkg" or not package_id.isdigit() or payer != str(user_id):
        return None
    return CreditPackage.objects.filter(pk=int(package_id), is_active=True).first()


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
) -> Payment | None:
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
                idempotency_key=f"payment:{charge_id}",
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
    """Give the Stars back (refundStarPayment) and take the credits back, once."""
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
                idempotency_key=f"refund:{payment.pk}",
            )
        except InsufficientBalance as error:
            raise RefundRefused(f"the user has already spent the credits ({error.balance} left)") from error
        payment.status, payment.refunded_at, payment.refunded_by = PaymentStatus.REFUNDED, timezone.now(), staff
        payment.save(update_fields=["status", "refunded_at", "refunded_by"])
        # Last: if Telegram refuses, the transaction rolls back and nothing was taken.
        telegram_gateway().refund_star_payment(user_id=payment.user_id, charge_id=payment.telegram_payment_charge_id)
    return payment


# --- Logs (seed 003's kie_logs and debug_logs) ------------------------------------------------
def log_kie_operation(
    user_id: int | None,
    model: str,
    prompt: str | None = None,
    result_url: str | None = None,
    error_message: str | None = None,
) -> GenerationLog:
    return GenerationLog.objects.create(
        user_id=user_id,
        model=model[:64],
        prompt=stored_prompt(prompt),
        result_url=(result_url or "")[:500],
        error=stored_error(error_message),
    )


def log_debug(level: str, message: str, context: dict | None = None) -> DebugLog:
    return DebugLog.objects.create(level=level[:10], message=message[:1000], context=context or {})


def logs_purge(*, retention_days: int | None = None) -> int:
    cutoff = timezone.now() - timedelta(days=retention_days or settings.LOG_RETENTION_DAYS)
    generation, _ = GenerationLog.objects.filter(created_at__lt=cutoff).delete()
    debug, _ = DebugLog.objects.filter(created_at__lt=cutoff).delete()
    return generation + debug


def reserves_release_stale(
    *, older_than: timedelta = timedelta(minutes=15), lookback: timedelta = timedelta(days=7)
) -> int:
    """Holds whose answer never settled (the worker died mid-call) go back to their users. Looks at
    holds from the last `lookback`; the job runs every few minutes."""
    now = timezone.now()
    reserves = list(
        Operation.objects.filter(
            type=OperationType.RESERVE, created_at__range=(now - older_than - lookback, now - older_than)
        )
    )
    release_keys = {idempotency_hash(f"release:{reserve.pk}"): reserve for reserve in reserves}
    settled = set(Operation.objects.filter(idempotency_key__in=release_keys).values_list("idempotency_key", flat=True))
    stale = [reserve for key, reserve in release_keys.items() if key not in settled]
    for reserve in stale:
        billing_release(reserve=reserve)
    return len(stale)
