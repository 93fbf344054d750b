"""Idempotency keys are built by one function, and their text never changes: the database holds their hashes."""

from decimal import Decimal

import pytest

from apps.billing.models import CreditPackage, Operation, OperationType
from apps.billing.services import idempotency_hash, invoice_payload, operation_key, payment_record
from apps.users.models import TelegramUser


def test_the_key_texts_are_the_ones_stored_before():
    assert [
        operation_key("payment", "charge-1"),
        operation_key("payment", "demo-7000000001"),
        operation_key("refund", 12),
        operation_key("release", 345),
        operation_key("generation", 6789),
        operation_key("trial", 1001),
    ] == ["payment:charge-1", "payment:demo-7000000001", "refund:12", "release:345", "generation:6789", "trial:1001"]


@pytest.mark.django_db
def test_a_payment_is_credited_under_the_key_of_its_charge(settings):
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    user = TelegramUser.objects.create(id=1401, username="keyed")
    package = CreditPackage.objects.create(title="Keyed", credits=Decimal("10"), stars=5)
    payment_record(
        user_id=user.id,
        payload=invoice_payload(package=package, user_id=user.id),
        currency="XTR",
        total_amount=5,
        charge_id="charge-key",
    )
    credit = Operation.objects.get(user_id=user.id)
    assert (credit.type, credit.idempotency_key) == (OperationType.PAYMENT, idempotency_hash("payment:charge-key"))
