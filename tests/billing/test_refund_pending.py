"""A refund whose refundStarPayment gets no answer in time: Telegram may have refunded. The credits are taken
back first and the refund stays pending until Telegram's own ledger (getStarTransactions) says, so the
user never keeps both their Stars and their credits. Real python-telegram-bot client, fake Bot API."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.billing.exceptions import RefundRefused
from apps.billing.models import CreditPackage, Operation, OperationType, Payment, PaymentStatus
from apps.billing.services import get_user_balance, invoice_payload, payment_record, payment_refund, refunds_settle
from apps.billing.tasks import settle_pending_refunds
from apps.bot.flows.erase import user_erase
from apps.core import sending
from apps.users.models import ErasureReceipt, TelegramUser
from tests.fakes.telegram import Refund

pytestmark = pytest.mark.django_db

USER = 1501
SLOW = 1.0  # seconds the fake takes to answer a slow refund: longer than the client waits (below)


@pytest.fixture
def payment(settings, bot_api) -> Payment:
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    settings.TELEGRAM_REFUND_TIMEOUT = 0.3
    settings.BILLING_REFUND_GRACE = timedelta(0)
    TelegramUser.objects.create(id=USER, username="refunded")
    package = CreditPackage.objects.create(title="Refundable", credits=Decimal("100"), stars=50)
    payment, _ = payment_record(
        user_id=USER,
        payload=invoice_payload(package=package, user_id=USER),
        currency="XTR",
        total_amount=50,
        charge_id="charge-pending",
    )
    bot_api.star_payment(USER, "charge-pending", 50)
    return payment


def _state(payment: Payment) -> tuple[str, Decimal]:
    payment.refresh_from_db()
    return payment.status, get_user_balance(payment.user_id)


def _ledger_consistent() -> bool:
    out = StringIO()
    call_command("verify_ledger", stdout=out)  # raises CommandError on a mismatch
    return "consistent" in out.getvalue()


def _refunded_in_telegram(bot_api, charge_id: str) -> bool:
    return any(entry["id"] == charge_id and "receiver" in entry for entry in bot_api.star_transactions)


def test_a_refund_telegram_makes_takes_the_credits_back(bot_api, payment):
    assert payment_refund(payment_id=payment.pk).status == PaymentStatus.REFUNDED
    assert _state(payment) == (PaymentStatus.REFUNDED, Decimal("0"))
    assert _refunded_in_telegram(bot_api, "charge-pending") and _ledger_consistent()


def test_a_refusal_changes_nothing(bot_api, payment):
    bot_api.refund_answers(Refund(refuse=True))
    with pytest.raises(sending.Rejected, match="(?i)charge_not_found"):
        payment_refund(payment_id=payment.pk)
    assert _state(payment) == (PaymentStatus.PAID, Decimal("100"))
    assert not _refunded_in_telegram(bot_api, "charge-pending") and _ledger_consistent()
    # The payment can be refunded again later, and is.
    assert payment_refund(payment_id=payment.pk).status == PaymentStatus.REFUNDED
    assert _state(payment) == (PaymentStatus.REFUNDED, Decimal("0")) and _ledger_consistent()


def test_a_payment_telegram_refunded_by_other_means_is_refunded(bot_api, payment):
    """Telegram answers CHARGE_ALREADY_REFUNDED: the Stars are back with the user, so the credits go too."""
    refund = {"type": "user", "transaction_type": "invoice_payment", "user": {"id": USER, "is_bot": False}}
    bot_api.star_transactions.insert(0, {"id": "charge-pending", "amount": 50, "date": 1, "receiver": refund})
    assert payment_refund(payment_id=payment.pk).status == PaymentStatus.REFUNDED
    assert _state(payment) == (PaymentStatus.REFUNDED, Decimal("0")) and _ledger_consistent()


def test_no_answer_then_found_in_telegrams_ledger_is_refunded(bot_api, payment):
    bot_api.refund_answers(Refund(delay=SLOW))  # Telegram refunds; its answer comes too late
    assert payment_refund(payment_id=payment.pk).status == PaymentStatus.REFUNDING
    # Pending: the credits are already taken back, so the user cannot spend them meanwhile.
    assert _state(payment) == (PaymentStatus.REFUNDING, Decimal("0")) and _ledger_consistent()
    with pytest.raises(RefundRefused, match="pending"):
        payment_refund(payment_id=payment.pk)

    assert settle_pending_refunds() == {"refunded": 1, "undone": 0, "pending": 0}
    assert _state(payment) == (PaymentStatus.REFUNDED, Decimal("0")) and _ledger_consistent()
    assert bot_api.calls_to("getStarTransactions")
    # A duplicate confirmation does nothing more.
    assert refunds_settle().refunded == [] and refunds_settle(payment_ids=[payment.pk]).refunded == []
    assert _state(payment) == (PaymentStatus.REFUNDED, Decimal("0")) and _ledger_consistent()
    assert Operation.objects.filter(payment=payment, type=OperationType.REFUND).count() == 1


def test_no_answer_and_not_in_telegrams_ledger_is_undone(bot_api, payment):
    bot_api.refund_answers(Refund(refuse=True, delay=SLOW))  # Telegram did not refund; we never heard
    assert payment_refund(payment_id=payment.pk).status == PaymentStatus.REFUNDING
    assert _state(payment) == (PaymentStatus.REFUNDING, Decimal("0"))

    assert settle_pending_refunds() == {"refunded": 0, "undone": 1, "pending": 0}
    assert _state(payment) == (PaymentStatus.PAID, Decimal("100")) and _ledger_consistent()
    assert refunds_settle().undone == []  # a duplicate confirmation does nothing more
    assert _state(payment) == (PaymentStatus.PAID, Decimal("100")) and _ledger_consistent()
    # The staff may refund it again; this time Telegram answers.
    assert payment_refund(payment_id=payment.pk).status == PaymentStatus.REFUNDED
    assert _state(payment) == (PaymentStatus.REFUNDED, Decimal("0")) and _ledger_consistent()


def test_a_pending_refund_of_a_person_erased_meanwhile_is_found_refunded(bot_api, payment):
    """Telegram's ledger names the person it refunded; since their erase the payment is their pseudonym's."""
    bot_api.refund_answers(Refund(delay=SLOW))  # Telegram refunds; its answer comes too late
    payment_refund(payment_id=payment.pk)
    user_erase(USER, reason="asked by email", via=ErasureReceipt.Via.COMMAND)

    assert refunds_settle().refunded == [payment.pk]
    assert _state(payment) == (PaymentStatus.REFUNDED, Decimal("0")) and _ledger_consistent()


def test_a_refund_not_in_telegrams_ledger_yet_waits_out_the_grace(bot_api, payment, settings):
    settings.BILLING_REFUND_GRACE = timedelta(minutes=10)
    bot_api.refund_answers(Refund(refuse=True, delay=SLOW))
    payment_refund(payment_id=payment.pk)
    assert refunds_settle().pending == [payment.pk]
    assert _state(payment) == (PaymentStatus.REFUNDING, Decimal("0"))


def test_the_ledger_is_read_page_by_page(bot_api, payment):
    """The refund sits behind more than a page of newer transactions."""
    bot_api.refund_answers(Refund(delay=SLOW))
    payment_refund(payment_id=payment.pk)
    for n in range(250):
        bot_api.star_payment(9000 + n, f"later-{n}", 1)
    assert refunds_settle().refunded == [payment.pk]
    assert [call.params.get("offset", 0) for call in bot_api.calls_to("getStarTransactions")] == [0, 100, 200]


def test_staff_refund_and_settle_from_the_admin(bot_api, payment, admin_client):
    url = reverse("admin:billing_payment_changelist")
    bot_api.refund_answers(Refund(delay=SLOW))
    page = admin_client.post(url, {"action": "refund", "_selected_action": [payment.pk]}, follow=True)
    assert "the refund is pending" in page.content.decode()
    assert _state(payment) == (PaymentStatus.REFUNDING, Decimal("0"))

    page = admin_client.post(url, {"action": "settle_refunds", "_selected_action": [payment.pk]}, follow=True)
    assert f"Payment {payment.pk}: Telegram refunded it; refunded." in page.content.decode()
    assert _state(payment) == (PaymentStatus.REFUNDED, Decimal("0")) and _ledger_consistent()
    page = admin_client.post(url, {"action": "settle_refunds", "_selected_action": [payment.pk]}, follow=True)
    assert "None of the selected payments has a refund pending." in page.content.decode()


def test_a_payment_of_an_erased_person_is_not_refunded_and_telegram_is_not_asked(bot_api, payment, admin_client):
    """refundStarPayment needs the payer's Telegram id, which the erase removed: staff are told why, and the
    ledger is as it was (before, the credits were taken back, Telegram refused, and they were given back)."""
    user_erase(USER, reason="asked by email", via=ErasureReceipt.Via.COMMAND)
    payment.refresh_from_db()
    operations = Operation.objects.filter(user_id=payment.user_id).count()

    with pytest.raises(RefundRefused, match="erased"):
        payment_refund(payment_id=payment.pk)
    url = reverse("admin:billing_payment_changelist")
    page = admin_client.post(url, {"action": "refund", "_selected_action": [payment.pk]}, follow=True)
    assert "the person who paid was erased" in page.content.decode()

    assert bot_api.calls_to("refundStarPayment") == []
    assert _state(payment) == (PaymentStatus.PAID, Decimal("100"))
    assert Operation.objects.filter(user_id=payment.user_id).count() == operations and _ledger_consistent()
