"""An erased user's money: the ledger and payments stay (accounting law), under the pseudonym."""

from collections.abc import Iterable

from apps.core.privacy import redacted

from ..models import Balance, GenerationLog, Invoice, Operation, Payment, RefundAbuse, Subscription
from .ledger import idempotency_hash, operation_key


def billing_pseudonymise(*, user_id: int, pseudonym_id: int, names: Iterable[str]) -> dict[str, int]:
    """Move the user's balance, operations, invoices, payments, subscriptions and refund-abuse flags to the
    pseudonym, as they are: balance == Σ operations holds for it as it held for them, and Telegram's charge
    ids stay for reconciliation. What names the user or holds what they wrote goes: prompts and result URLs
    of operations, their names in staff's reasons, their id in the trial's key (a new user of the same
    Telegram id gets a trial of their own) and in old invoice payloads. Generation logs are deleted. Rows
    per table."""
    names = list(names)
    operations = Operation.objects.filter(user_id=user_id)
    for operation in operations.exclude(reason="").only("reason"):
        if (reason := redacted(operation.reason, names)) != operation.reason:
            Operation.objects.filter(pk=operation.pk).update(reason=reason)
    operations.filter(idempotency_key=idempotency_hash(operation_key("trial", user_id))).update(
        idempotency_key=idempotency_hash(operation_key("trial", pseudonym_id))
    )
    payments = Payment.objects.filter(user_id=user_id)
    # Invoices sent before invoices were recorded name their user: "pkg:<package>:<user>".
    legacy = payments.filter(invoice_payload__startswith="pkg:", invoice_payload__endswith=f":{user_id}")
    for payment in legacy.only("invoice_payload"):
        payload = payment.invoice_payload.removesuffix(str(user_id)) + str(pseudonym_id)
        Payment.objects.filter(pk=payment.pk).update(invoice_payload=payload)
    generation_logs, _ = GenerationLog.objects.filter(user_id=user_id).delete()
    return {
        Balance._meta.label: Balance.objects.filter(user_id=user_id).update(user_id=pseudonym_id),
        Operation._meta.label: operations.update(user_id=pseudonym_id, prompt="", result_url=""),
        Invoice._meta.label: Invoice.objects.filter(user_id=user_id).update(user_id=pseudonym_id),
        Payment._meta.label: payments.update(user_id=pseudonym_id),
        Subscription._meta.label: Subscription.objects.filter(user_id=user_id).update(user_id=pseudonym_id),
        RefundAbuse._meta.label: RefundAbuse.objects.filter(user_id=user_id).update(user_id=pseudonym_id),
        GenerationLog._meta.label: generation_logs,
    }
