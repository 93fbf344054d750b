"""Refund abuse: a user who consumed most of a package's credits and then had its Stars refunded is flagged
with the figures (credits of that payment consumed before the refund, Stars returned); an honest refund is
not. Flagged users are a filter in the admin, and REFUND_ABUSE_BLOCKS_PURCHASES keeps them from buying.
Real python-telegram-bot client, fake Bot API."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from apps.billing.models import CreditPackage, OperationType, Payment, PaymentStatus, RefundAbuse
from apps.billing.reconcile import stars_reconcile
from apps.billing.services import (
    get_user_balance,
    invoice_payload,
    ledger_apply,
    payment_problem,
    payment_record,
    payment_refund,
    payment_refund_record,
    refunds_settle,
)
from apps.users.models import TelegramUser
from tests.fakes.telegram import Refund

pytestmark = pytest.mark.django_db

ABUSER, HONEST = 1701, 1702


@pytest.fixture
def package(settings, bot_api) -> CreditPackage:
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    return CreditPackage.objects.create(title="Hundred", credits=Decimal("100"), stars=50)


def _buy(bot_api, package: CreditPackage, user_id: int, charge_id: str) -> Payment:
    TelegramUser.objects.get_or_create(id=user_id, defaults={"username": f"user{user_id}"})
    payment, credited = payment_record(
        user_id=user_id,
        payload=invoice_payload(package=package, user_id=user_id),
        currency="XTR",
        total_amount=package.stars,
        charge_id=charge_id,
    )
    assert credited
    bot_api.star_payment(user_id, charge_id, package.stars)
    return payment


def _consume(user_id: int, credits: str, key: str) -> None:
    ledger_apply(user_id=user_id, type=OperationType.GENERATION, amount=-Decimal(credits), idempotency_key=key)


def _abuser(bot_api, package: CreditPackage) -> tuple[Payment, Payment]:
    """Bought a package, consumed 80 of its 100 credits, bought another: the balance covers the refund."""
    first = _buy(bot_api, package, ABUSER, "charge-abuse-1")
    _consume(ABUSER, "80", "answer-abuse")
    second = _buy(bot_api, package, ABUSER, "charge-abuse-2")
    return first, second


def test_a_refund_after_most_credits_were_consumed_flags_the_user_with_the_figures(bot_api, package):
    first, _ = _abuser(bot_api, package)
    assert payment_refund(payment_id=first.pk).status == PaymentStatus.REFUNDED
    assert get_user_balance(ABUSER) == Decimal("20")
    abuse = RefundAbuse.objects.get()
    assert (abuse.user_id, abuse.payment_id) == (ABUSER, first.pk)
    assert abuse.credits_consumed == Decimal("80")
    assert abuse.stars_returned == 50
    assert abuse.share_consumed == Decimal("0.8")


def test_credits_consumed_come_from_the_refunded_payment_first_in_first_out(bot_api, package):
    """Refunding the second package: the 80 consumed were the first one's, so none of the second's."""
    _, second = _abuser(bot_api, package)
    assert payment_refund(payment_id=second.pk).status == PaymentStatus.REFUNDED
    assert not RefundAbuse.objects.exists()


def test_an_honest_refund_is_not_flagged(bot_api, package):
    first = _buy(bot_api, package, HONEST, "charge-honest-1")
    _buy(bot_api, package, HONEST, "charge-honest-2")
    _consume(HONEST, "10", "answer-honest")
    assert payment_refund(payment_id=first.pk).status == PaymentStatus.REFUNDED
    assert get_user_balance(HONEST) == Decimal("90")
    assert not RefundAbuse.objects.exists()


def test_the_share_is_a_setting(settings, bot_api, package):
    settings.REFUND_ABUSE_SHARE = Decimal("0.9")
    first, _ = _abuser(bot_api, package)
    payment_refund(payment_id=first.pk)
    assert not RefundAbuse.objects.exists()


def test_a_pending_refund_is_flagged_once_however_often_it_is_settled(settings, bot_api, package):
    settings.TELEGRAM_REFUND_TIMEOUT = 0.3
    first, _ = _abuser(bot_api, package)
    bot_api.refund_answers(Refund(delay=1.0))  # Telegram refunds; its answer comes too late
    assert payment_refund(payment_id=first.pk).status == PaymentStatus.REFUNDING
    assert not RefundAbuse.objects.exists()  # the Stars may not be back yet
    # Consumption after the credits were taken back is none of the refunded payment's.
    _consume(ABUSER, "15", "answer-after")
    assert refunds_settle().refunded == [first.pk]
    assert refunds_settle().refunded == []
    abuse = RefundAbuse.objects.get()
    assert (abuse.payment_id, abuse.credits_consumed, abuse.stars_returned) == (first.pk, Decimal("80"), 50)


def test_an_undone_refund_is_not_flagged(settings, bot_api, package):
    settings.TELEGRAM_REFUND_TIMEOUT = 0.3
    settings.BILLING_REFUND_GRACE = settings.BILLING_REFUND_GRACE * 0
    first, _ = _abuser(bot_api, package)
    bot_api.refund_answers(Refund(refuse=True, delay=1.0))  # Telegram did not refund; we never heard
    payment_refund(payment_id=first.pk)
    assert refunds_settle().undone == [first.pk]
    assert not RefundAbuse.objects.exists()


@pytest.mark.parametrize("consumed", ["80", "100"], ids=["some-left-to-take-back", "none-left"])
def test_a_refund_telegram_made_after_most_credits_were_consumed_flags_the_user(bot_api, package, consumed):
    """Telegram refunded by itself (a dispute) and reconciliation found it: the same figures as a staff refund,
    whether some credits were left to take back or none."""
    payment = _buy(bot_api, package, ABUSER, "charge-disputed")
    _consume(ABUSER, consumed, "answer-disputed")
    bot_api.star_refund(ABUSER, "charge-disputed", package.stars)
    assert stars_reconcile().unrecorded_refunds == 1
    abuse = RefundAbuse.objects.get()
    assert (abuse.payment_id, abuse.credits_consumed, abuse.stars_returned) == (payment.pk, Decimal(consumed), 50)
    assert abuse.share_consumed == Decimal(consumed) / 100
    assert get_user_balance(ABUSER) == Decimal("0")


def test_an_honest_refund_telegram_made_is_not_flagged(bot_api, package):
    _buy(bot_api, package, HONEST, "charge-honest-1")
    _buy(bot_api, package, HONEST, "charge-honest-2")
    _consume(HONEST, "10", "answer-honest")
    assert payment_refund_record(charge_id="charge-honest-1")[1]
    assert get_user_balance(HONEST) == Decimal("90")
    assert not RefundAbuse.objects.exists()


def _problem(package: CreditPackage, user_id: int) -> str | None:
    return payment_problem(
        user_id=user_id,
        payload=invoice_payload(package=package, user_id=user_id),
        currency="XTR",
        total_amount=package.stars,
    )


def test_purchases_are_blocked_for_flagged_users_only_with_the_setting(settings, bot_api, package):
    first, _ = _abuser(bot_api, package)
    _buy(bot_api, package, HONEST, "charge-honest")
    payment_refund(payment_id=first.pk)
    assert RefundAbuse.objects.filter(user_id=ABUSER).exists()
    assert _problem(package, ABUSER) is None  # off by default
    settings.REFUND_ABUSE_BLOCKS_PURCHASES = True
    assert _problem(package, HONEST) is None
    assert _problem(package, ABUSER) == (
        "Purchases are closed for your account after a refund. Please write to support."
    )
    with translation.override("ru"):
        assert _problem(package, ABUSER) == (
            "После возврата средств покупки для вашего аккаунта закрыты. Пожалуйста, напишите в поддержку."
        )


def test_the_admin_lists_the_flags_with_their_figures(admin_client, bot_api, package):
    first, _ = _abuser(bot_api, package)
    payment_refund(payment_id=first.pk)
    flags = admin_client.get(reverse("admin:billing_refundabuse_changelist"))
    assert flags.status_code == 200
    assert [abuse.payment_id for abuse in flags.context["cl"].result_list] == [first.pk]
    assert "80%" in flags.content.decode()


def test_the_users_list_filters_flagged_users(admin_client, bot_api, package):
    first, _ = _abuser(bot_api, package)
    _buy(bot_api, package, HONEST, "charge-honest")
    payment_refund(payment_id=first.pk)
    users = admin_client.get(reverse("admin:users_telegramuser_changelist"), {"refund_abuse": "yes"})
    assert users.status_code == 200
    assert [user.pk for user in users.context["cl"].result_list] == [ABUSER]
    everyone = admin_client.get(reverse("admin:users_telegramuser_changelist"))
    assert {user.pk for user in everyone.context["cl"].result_list} == {ABUSER, HONEST}
