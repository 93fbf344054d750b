"""An erased user's money: the ledger and payments stay (accounting law), under the pseudonym."""

from collections.abc import Iterable

from django.db.models import Q

from apps.core.privacy import redacted

from ..models import Balance, Discrepancy, GenerationLog, Invoice, Operation, Payment, RefundAbuse, Subscription
from .ledger import idempotency_hash, operation_key


def billing_pseudonymise(*, user_id: int, pseudonym_id: int, names: Iterable[str]) -> dict[str, int]:
    """Move the user's balance, operations, invoices, payments, subscriptions and refund-abuse flags to the
    pseudonym, as they are: balance == Σ operations holds for it as it held for them, and Telegram's charge
    ids stay for reconciliation. What names the user or holds what they wrote goes: prompts and result URLs
    of operations, their names in staff's reasons, their id in the trial's key (a new user of the same
    Telegram id gets a trial of their own), in old invoice payloads and in reconciliation's discrepancies.
    Generation logs are deleted. Rows per table."""
    names = list(names)
    operations = Operation.objects.filter(user_id=user_id)
    for operation in operations.exclude(reason="").only("reason"):
        if (reason := redacted(operation.reason, names)) != operation.reason:
            Operation.objects.filter(pk=operation.pk).update(reason=reason)
    operations.filter(idempotency_key=idempotency_hash(operation_key("trial", user_id))).update(
        idempotency_key=idempotency_hash(operation_key("trial", pseudonym_id))
    )
    payments = Payment.objects.filter(user_id=user_id)
    for payment in payments.filter(invoice_payload__endswith=f":{user_id}").only("invoice_payload"):
        payload = _payload_of_pseudonym(payment.invoice_payload, user_id, pseudonym_id)
        Payment.objects.filter(pk=payment.pk).update(invoice_payload=payload)
    discrepancies = _discrepancies_pseudonymise(user_id=user_id, pseudonym_id=pseudonym_id, names=names)
    generation_logs, _ = GenerationLog.objects.filter(user_id=user_id).delete()
    return {
        Discrepancy._meta.label: discrepancies,
        Balance._meta.label: Balance.objects.filter(user_id=user_id).update(user_id=pseudonym_id),
        Operation._meta.label: operations.update(user_id=pseudonym_id, prompt="", result_url=""),
        Invoice._meta.label: Invoice.objects.filter(user_id=user_id).update(user_id=pseudonym_id),
        Payment._meta.label: payments.update(user_id=pseudonym_id),
        Subscription._meta.label: Subscription.objects.filter(user_id=user_id).update(user_id=pseudonym_id),
        RefundAbuse._meta.label: RefundAbuse.objects.filter(user_id=user_id).update(user_id=pseudonym_id),
        GenerationLog._meta.label: generation_logs,
    }


def _discrepancies_pseudonymise(*, user_id: int, pseudonym_id: int, names: list[str]) -> int:
    """Discrepancies about the user's payments name the pseudonym instead: crediting a payment Telegram took
    from them credits the ledger that stays. Run before their payments move."""
    named = list(Discrepancy.objects.filter(Q(telegram_user_id=user_id) | Q(payment__user_id=user_id)))
    for discrepancy in named:
        if discrepancy.telegram_user_id == user_id:
            discrepancy.telegram_user_id = pseudonym_id
        discrepancy.invoice_payload = _payload_of_pseudonym(discrepancy.invoice_payload, user_id, pseudonym_id)
        discrepancy.details = redacted(discrepancy.details, names)
    return Discrepancy.objects.bulk_update(named, ["telegram_user_id", "invoice_payload", "details"])


def _payload_of_pseudonym(payload: str, user_id: int, pseudonym_id: int) -> str:
    """Invoices sent before invoices were recorded name their user ("pkg:<package>:<user>"): the pseudonym."""
    if payload.startswith("pkg:") and payload.endswith(f":{user_id}"):
        return payload.removesuffix(str(user_id)) + str(pseudonym_id)
    return payload
