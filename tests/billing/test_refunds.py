"""What staff read when a refund fails in the admin: Telegram's refusal is reported, a bug of ours is not
dressed up as one (it raises); either way nothing was taken back. No answer is neither: the refund is
pending (tests/billing/test_refund_pending.py)."""

from decimal import Decimal

import pytest
from django.urls import reverse
from telegram.error import BadRequest, TimedOut

from apps.billing.models import CreditPackage, Payment, PaymentStatus
from apps.billing.services import get_user_balance, invoice_payload, payment_record, payment_refund
from apps.bot import gateway
from apps.core import sending
from apps.users.models import TelegramUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment(settings) -> Payment:
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    user = TelegramUser.objects.create(id=1301, username="refunded")
    package = CreditPackage.objects.create(title="Refundable", credits=Decimal("100"), stars=50)
    payment, credited = payment_record(
        user_id=user.id,
        payload=invoice_payload(package=package, user_id=user.id),
        currency="XTR",
        total_amount=50,
        charge_id="charge-refund",
    )
    assert credited
    return payment


def _telegram_answers(monkeypatch, error: Exception) -> None:
    """The bot's own gateway, with Telegram answering refundStarPayment with `error`."""

    def run(make, timeout=None):
        raise error

    monkeypatch.setattr(gateway.runtime, "run", run)


def _refund_in_admin(admin_client, payment: Payment):
    url = reverse("admin:billing_payment_changelist")
    return admin_client.post(url, {"action": "refund", "_selected_action": [payment.pk]}, follow=True)


def _nothing_taken_back(payment: Payment) -> bool:
    payment.refresh_from_db()
    return payment.status == PaymentStatus.PAID and get_user_balance(payment.user_id) == Decimal("100")


def test_the_gateway_reports_telegrams_refusal_as_a_send_failure(monkeypatch, payment):
    error = BadRequest("Charge_id_invalid")
    _telegram_answers(monkeypatch, error)
    with pytest.raises(sending.Rejected, match=str(error)) as raised:
        payment_refund(payment_id=payment.pk)
    assert raised.value.__cause__ is error
    assert _nothing_taken_back(payment)


def test_no_answer_leaves_the_refund_pending_with_the_credits_held_back(monkeypatch, payment):
    _telegram_answers(monkeypatch, TimedOut("Timed out"))
    assert payment_refund(payment_id=payment.pk).status == PaymentStatus.REFUNDING
    assert get_user_balance(payment.user_id) == Decimal("0")


def test_a_refund_telegram_refuses_is_reported_to_staff(monkeypatch, admin_client, payment):
    _telegram_answers(monkeypatch, BadRequest("Charge_id_invalid"))
    page = _refund_in_admin(admin_client, payment).content.decode()
    assert f"Payment {payment.pk} not refunded: Telegram said Charge_id_invalid" in page
    assert _nothing_taken_back(payment)


def test_an_unexpected_error_is_not_reported_as_telegrams_answer(settings, admin_client, payment):
    settings.TELEGRAM_GATEWAY = "tests.billing.broken_gateway"
    with pytest.raises(RuntimeError, match="a bug in the gateway"):
        _refund_in_admin(admin_client, payment)
    assert _nothing_taken_back(payment)
