"""The ledger: every balance change is an Operation, written here, in a transaction, with the
balance row locked. Seed 003's function names are kept as the public face."""

import hashlib
from contextlib import nullcontext
from decimal import Decimal
from functools import cache
from typing import Literal

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.privacy import stored_prompt

from ..exceptions import InsufficientBalance
from ..models import Balance, Operation, OperationType
from .credits import CREDIT_PRECISION, as_credits

# What an idempotency key built by operation_key names: the event that caused the operation.
KeyKind = Literal["payment", "refund", "release", "generation", "trial", "hold", "expiry"]


def operation_key(kind: KeyKind, ref: object) -> str:
    """The idempotency key of the operation `kind` makes for `ref` (a charge id, a payment, a hold, an LLM
    request, a user): "payment:<charge id>", "release:<reserve id>", … The database holds hashes of
    these texts, so they never change."""
    return f"{kind}:{ref}"


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
    allow_negative: bool = False,
) -> Operation:
    """Change a balance by `amount` (signed) and record it. The same idempotency key twice returns the
    first operation. A debit the balance cannot cover raises InsufficientBalance; nothing changes, unless
    `allow_negative`: only for a staff decision to take back credits the user already spent (a refund).
    A credit is never refused, whatever the balance."""
    operation = Operation(
        user_id=user_id,
        type=type,
        amount=as_credits(amount),
        idempotency_key=idempotency_hash(idempotency_key),
        model=model or "",
        result_url=result_url or "",
        prompt=stored_prompt(prompt),
        llm_request_id=llm_request_id,
        payment_id=payment_id,
        staff=staff,
        reason=reason[:200],
    )
    return ledger_apply_together([operation], allow_negative=allow_negative)


def ledger_apply_together(operations: list[Operation], *, allow_negative: bool = False) -> Operation:
    """Write operations together (all or none); returns the last. Its idempotency key names the whole:
    if it was written before, nothing is written again and the stored operation is returned. The key
    is looked up only when a write fails, so the usual case costs no extra round trip."""
    connection = transaction.get_connection()
    # Only a debit is refused for want of credits: a balance below zero may always be credited.
    may_go_below_zero = allow_negative or sum((operation.amount for operation in operations), Decimal(0)) >= 0
    try:
        if connection.vendor == "postgresql":
            # One statement is atomic by itself; in a caller's transaction a savepoint keeps a duplicate
            # key from breaking it.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                _write_postgres(operations, connection, may_go_below_zero=may_go_below_zero)
        else:
            with transaction.atomic():
                for operation in operations:
                    _write_portable(operation, may_go_below_zero=may_go_below_zero)
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
    only if it stays at or above zero or may go below (a credit, or a debit allowed to), and the operations
    are inserted with the balance each left. Concurrent debits of one user queue on the row lock and each
    sees the balance the one before left."""
    connection = transaction.get_connection()
    columns = ", ".join(field.column for field in _FIELDS)
    typed = ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in _FIELDS)
    rows = ", ".join(f"({typed}, CAST(%s AS numeric), {position})" for position in range(count))
    return (
        f"WITH balance AS (UPDATE {Balance._meta.db_table} SET amount = amount + %s, updated_at = %s "
        f"WHERE user_id = %s AND (amount + %s >= 0 OR %s) RETURNING amount) "
        f"INSERT INTO {Operation._meta.db_table} ({columns}, balance_after) "
        f"SELECT {', '.join(f'new.{field.column}' for field in _FIELDS)}, balance.amount - new.later "
        f"FROM balance, (VALUES {rows}) AS new ({columns}, later, position) ORDER BY new.position "
        f"RETURNING id, balance_after"
    )


def _write_postgres(operations: list[Operation], connection, *, may_go_below_zero: bool) -> None:
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
            cursor.execute(
                _postgres_sql(len(operations)), [total, timezone.now(), user_id, total, may_go_below_zero, *params]
            )
            rows = sorted(cursor.fetchall())
        if rows:
            for operation, (pk, balance_after) in zip(operations, rows, strict=True):
                operation.pk, operation.balance_after = pk, balance_after
            return
        # No row updated: the balance is too low, or it did not exist when the statement began.
        current = Balance.objects.filter(pk=user_id).values_list("amount", flat=True).first()
        if current is None:
            Balance.objects.bulk_create([Balance(user_id=user_id)], ignore_conflicts=True)
        elif current + total < 0 and not may_go_below_zero:
            raise InsufficientBalance(user_id=user_id, balance=current, needed=-total)
    raise RuntimeError(f"the balance of user {user_id} kept changing; operation not applied")


def _write_portable(operation: Operation, *, may_go_below_zero: bool) -> None:
    """SQLite: the same rule in three statements; its IMMEDIATE transactions serialise writers."""
    Balance.objects.bulk_create([Balance(user_id=operation.user_id)], ignore_conflicts=True)
    balance = Balance.objects.select_for_update().get(pk=operation.user_id)
    new_amount = balance.amount + operation.amount
    if new_amount < 0 and not may_go_below_zero:
        raise InsufficientBalance(user_id=operation.user_id, balance=balance.amount, needed=-operation.amount)
    balance.amount = new_amount
    balance.save(update_fields=["amount", "updated_at"])
    operation.balance_after = new_amount
    operation.save(force_insert=True)


# --- Seed 003's functions ----------------------------------------------------------------------
def get_user_balance(user_id: int) -> Decimal:
    return next(iter(Balance.objects.filter(pk=user_id).values_list("amount", flat=True)), Decimal(0)).quantize(
        CREDIT_PRECISION
    )


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
    if as_credits(amount) <= 0:
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
        difference = as_credits(new_balance) - current
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
