"""Refunds Telegram made without our asking (a dispute) or whose answer we lost: recorded once, from Telegram's
refunded_payment update, its credits taken back as far as the balance goes. What the user had already spent is
never taken below zero silently: it waits on the payment for staff, who take it (the balance goes negative by
exactly that, in one ledger operation with their name) or write it off. Staff may also refund a payment whose
credits are spent, after a page that shows the balance going negative. Real python-telegram-bot client, fake
Bot API."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.billing.exceptions import InsufficientBalance
from apps.billing.models import (
    CreditPackage,
    Operation,
    OperationType,
    Payment,
    PaymentStatus,
    RefundAbuse,
    Shortfall,
    Subscription,
    SubscriptionPlan,
)
from apps.billing.revenue import user_revenue
from apps.billing.selectors import ledger_mismatches
from apps.billing.services import (
    get_user_balance,
    invoice_payload,
    ledger_apply,
    payment_record,
    payment_refund,
    payment_refund_record,
    payment_shortfall_take,
    payment_shortfall_write_off,
    subscriptions_lapse,
)
from apps.bot.models import InboxStatus, InboxUpdate
from apps.core import sending
from apps.users.models import TelegramUser
from tests.fakes.telegram import Refund
from tests.helpers import captured_update

pytestmark = pytest.mark.django_db

USER, OTHER = 1801, 1802
PAYMENTS = reverse("admin:billing_payment_changelist")


@pytest.fixture
def package(settings, bot_api) -> CreditPackage:
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    return CreditPackage.objects.create(title="Hundred", credits=Decimal("100"), stars=50)


def _buy(package: CreditPackage, charge_id: str, user_id: int = USER) -> Payment:
    TelegramUser.objects.get_or_create(id=user_id, defaults={"username": f"user{user_id}"})
    payment, credited = payment_record(
        user_id=user_id,
        payload=invoice_payload(package=package, user_id=user_id),
        currency="XTR",
        total_amount=package.stars,
        charge_id=charge_id,
    )
    assert credited
    return payment


def _spend(user_id: int, credits: str) -> None:
    ledger_apply(user_id=user_id, type=OperationType.GENERATION, amount=-Decimal(credits))


def _refund_operations(payment: Payment) -> list[Decimal]:
    return list(payment.operations.filter(type=OperationType.REFUND).order_by("pk").values_list("amount", flat=True))


def _consistent() -> bool:
    """Every balance equals the sum of its operations."""
    return ledger_mismatches()[1] == []


def _refunded_update(update_id: int, charge_id: str, user_id: int = USER) -> dict:
    """The captured shape of Telegram's refunded_payment message, for this user and charge."""
    update = captured_update("message_with_refunded_payment.json")
    message = update["message"]
    message["from"]["id"] = message["chat"]["id"] = user_id
    message["date"] = int(time.time())
    message["refunded_payment"]["telegram_payment_charge_id"] = charge_id
    return {**update, "update_id": update_id}


@pytest.mark.django_db(transaction=True)
def test_telegrams_refunded_payment_update_takes_the_credits_back_once(post_update, package):
    payment = _buy(package, "charge-disputed")
    assert post_update(_refunded_update(9_100_001, "charge-disputed")).status_code == 200

    assert InboxUpdate.objects.get(pk=9_100_001).status == InboxStatus.DONE
    payment.refresh_from_db()
    assert (payment.status, payment.credits_unrecovered) == (PaymentStatus.REFUNDED, None)
    assert payment.refunded_at is not None and payment.refunded_by is None
    assert get_user_balance(USER) == Decimal("0") and _consistent()
    # Telegram tells again (a new update): nothing more happens.
    post_update(_refunded_update(9_100_002, "charge-disputed"))
    assert _refund_operations(payment) == [Decimal("-100")]
    assert get_user_balance(USER) == Decimal("0") and _consistent()


def test_spent_credits_are_left_to_staff_and_the_balance_never_goes_negative_by_itself(package):
    payment = _buy(package, "charge-spent")
    _spend(USER, "70")
    assert payment_refund_record(charge_id="charge-spent") == (payment, True)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.credits_unrecovered == Decimal("70") and payment.unrecovered_resolution == ""
    assert get_user_balance(USER) == Decimal("0") and _consistent()
    assert _refund_operations(payment) == [Decimal("-30")]
    # A second report of the same refund changes nothing.
    assert payment_refund_record(charge_id="charge-spent") == (payment, False)
    assert get_user_balance(USER) == Decimal("0") and _refund_operations(payment) == [Decimal("-30")]


def test_nothing_left_to_take_back_records_the_whole_payment_as_unrecovered(package):
    payment = _buy(package, "charge-all-spent")
    _spend(USER, "100")
    payment_refund_record(charge_id="charge-all-spent")
    payment.refresh_from_db()
    assert payment.credits_unrecovered == Decimal("100") and _refund_operations(payment) == []
    assert get_user_balance(USER) == Decimal("0") and _consistent()


def test_staff_take_the_shortfall_negative_by_exactly_it_in_one_operation(package, admin_user):
    payment = _buy(package, "charge-take")
    _spend(USER, "70")
    payment_refund_record(charge_id="charge-take")

    operation = payment_shortfall_take(payment_id=payment.pk, staff=admin_user)
    assert (operation.type, operation.amount, operation.staff) == (OperationType.REFUND, Decimal("-70"), admin_user)
    assert get_user_balance(USER) == Decimal("-70") and _consistent()
    payment.refresh_from_db()
    assert payment.unrecovered_resolution == Shortfall.TAKEN and payment.unrecovered_resolved_by == admin_user
    # Decided once: a second click takes nothing more.
    assert payment_shortfall_take(payment_id=payment.pk, staff=admin_user) is None
    assert payment_shortfall_write_off(payment_id=payment.pk, staff=admin_user) is False
    assert _refund_operations(payment) == [Decimal("-30"), Decimal("-70")]

    # Below zero, nothing can be charged; a payment is still credited, whatever the balance.
    with pytest.raises(InsufficientBalance):
        _spend(USER, "1")
    _buy(package, "charge-after")
    assert get_user_balance(USER) == Decimal("30") and _consistent()


def test_staff_write_off_the_shortfall(package, admin_user):
    payment = _buy(package, "charge-write-off")
    _spend(USER, "70")
    payment_refund_record(charge_id="charge-write-off")

    assert payment_shortfall_write_off(payment_id=payment.pk, staff=admin_user) is True
    payment.refresh_from_db()
    assert payment.unrecovered_resolution == Shortfall.WRITTEN_OFF
    assert payment.unrecovered_resolved_by == admin_user and payment.unrecovered_resolved_at is not None
    assert payment.credits_unrecovered == Decimal("70")  # the figure stays on record
    assert payment_shortfall_take(payment_id=payment.pk, staff=admin_user) is None
    assert get_user_balance(USER) == Decimal("0") and _consistent()


def test_a_refund_we_asked_for_and_still_wait_on_is_settled(settings, bot_api, package):
    settings.TELEGRAM_REFUND_TIMEOUT = 0.3
    payment = _buy(package, "charge-pending")
    bot_api.refund_answers(Refund(delay=1.0))  # Telegram refunds; its answer comes too late
    assert payment_refund(payment_id=payment.pk).status == PaymentStatus.REFUNDING

    refunded, recorded = payment_refund_record(charge_id="charge-pending")
    assert recorded and refunded.status == PaymentStatus.REFUNDED
    assert _refund_operations(payment) == [Decimal("-100")]
    assert get_user_balance(USER) == Decimal("0") and _consistent()


def test_a_refunded_subscription_period_ends_the_subscription(settings, bot_api):
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    TelegramUser.objects.create(id=USER, username="subscriber")
    plan = SubscriptionPlan.objects.create(title="Monthly", stars=250, credits=Decimal("600"))
    period_end = timezone.now() + timedelta(days=30)
    payment, _ = payment_record(
        user_id=USER,
        payload=invoice_payload(plan=plan, user_id=USER),
        currency="XTR",
        total_amount=250,
        charge_id="charge-period",
        period_end=period_end,
    )
    payment_refund_record(charge_id="charge-period")
    subscription = Subscription.objects.get()
    assert subscription.is_canceled and subscription.expires_at < period_end
    assert get_user_balance(USER) == Decimal("0") and _consistent()


@pytest.mark.parametrize("decision", [None, payment_shortfall_write_off, payment_shortfall_take])
def test_the_stars_telegram_gave_back_leave_cash_revenue_whatever_staff_decide(package, admin_user, decision):
    """Telegram gives all the Stars back, spent credits or not: the payment's cash is gone with them, before staff
    decide and after, taken back or written off."""
    payment = _buy(package, "charge-cash")
    _spend(USER, "70")
    payment_refund_record(charge_id="charge-cash")
    if decision is not None:
        decision(payment_id=payment.pk, staff=admin_user)

    figures = user_revenue(USER)
    assert (figures.stars, figures.cash_revenue) == (0, Decimal(0))


def _lapsed_period_then_a_package(settings, package) -> Payment:
    """A subscription period whose unused credits the lapse expired (all 600), then 100 credits bought."""
    settings.SUBSCRIPTION_CREDITS_EXPIRE = True
    TelegramUser.objects.create(id=USER, username="subscriber")
    plan = SubscriptionPlan.objects.create(title="Monthly", stars=250, credits=Decimal("600"))
    payment, _ = payment_record(
        user_id=USER,
        payload=invoice_payload(plan=plan, user_id=USER),
        currency="XTR",
        total_amount=250,
        charge_id="charge-lapsed-period",
        period_end=timezone.now() - timedelta(days=1),
    )
    subscriptions_lapse()
    assert get_user_balance(USER) == Decimal("0")
    _buy(package, "charge-bought-since")
    return payment


def test_a_refunded_period_whose_unused_credits_expired_takes_none_of_the_credits_bought_since(settings, package):
    """The lapse took the period's unused credits back already: the refund takes what is left of them (none), not
    the credits of another purchase, and nothing is owed."""
    payment = _lapsed_period_then_a_package(settings, package)
    assert payment_refund_record(charge_id="charge-lapsed-period") == (payment, True)
    payment.refresh_from_db()
    assert (payment.status, payment.credits_unrecovered) == (PaymentStatus.REFUNDED, None)
    assert get_user_balance(USER) == Decimal("100") and _consistent()


@pytest.mark.parametrize("allow_negative", [False, True])
def test_staff_refund_a_lapsed_period_whose_credits_expired_without_taking_others(settings, package, allow_negative):
    payment = _lapsed_period_then_a_package(settings, package)
    assert payment_refund(payment_id=payment.pk, allow_negative=allow_negative).status == PaymentStatus.REFUNDED
    assert get_user_balance(USER) == Decimal("100") and _consistent()


def test_an_undone_staff_refund_of_a_lapsed_period_gives_back_what_it_took(settings, package, bot_api):
    payment = _lapsed_period_then_a_package(settings, package)
    bot_api.refund_answers(Refund(refuse=True))
    with pytest.raises(sending.Rejected, match="(?i)charge_not_found"):
        payment_refund(payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and get_user_balance(USER) == Decimal("100") and _consistent()


def test_a_refund_of_a_payment_we_never_recorded_changes_nothing(package):
    assert payment_refund_record(charge_id="charge-never-seen") == (None, False)
    assert not Operation.objects.exists()


# --- The staff decisions in the admin ----------------------------------------------------------------------
def _act(admin_client, action: str, payment: Payment, *, confirm: bool = False, follow: bool = False):
    data = {"action": action, "_selected_action": [payment.pk], **({"confirm": "yes"} if confirm else {})}
    return admin_client.post(PAYMENTS, data, follow=follow)


def test_the_plain_refund_still_refuses_spent_credits(admin_client, package):
    payment = _buy(package, "charge-plain")
    _spend(USER, "70")
    page = _act(admin_client, "refund", payment, follow=True).content.decode()
    assert f"Payment {payment.pk} not refunded: the user has already spent the credits" in page
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and get_user_balance(USER) == Decimal("30")


def test_refund_below_zero_shows_the_balances_first_then_refunds_in_one_operation(admin_client, admin_user, package):
    payment = _buy(package, "charge-below-zero")
    _spend(USER, "70")

    page = _act(admin_client, "refund_below_zero", payment)
    assert page.status_code == 200
    assert [row["after"] for row in page.context["rows"]] == ["-70 credits"]
    assert [row["before"] for row in page.context["rows"]] == ["30 credits"]
    # Only asked: nothing changed, and a GET of the action does nothing either.
    admin_client.get(PAYMENTS, {"action": "refund_below_zero", "_selected_action": payment.pk, "confirm": "yes"})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and get_user_balance(USER) == Decimal("30")

    done = _act(admin_client, "refund_below_zero", payment, confirm=True, follow=True).content.decode()
    assert f"Payment {payment.pk} refunded." in done
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_by == admin_user
    [operation] = payment.operations.filter(type=OperationType.REFUND)
    assert (operation.amount, operation.staff, operation.balance_after) == (Decimal("-100"), admin_user, Decimal("-70"))
    assert get_user_balance(USER) == Decimal("-70") and _consistent()
    abuse = RefundAbuse.objects.get(payment=payment)
    assert (abuse.credits_consumed, abuse.stars_returned) == (Decimal("70"), 50)


def test_the_shortfall_actions_take_after_confirming_or_write_off(admin_client, admin_user, package):
    taken, written_off = _buy(package, "charge-a"), _buy(package, "charge-b", user_id=OTHER)
    _spend(USER, "70")
    _spend(OTHER, "40")
    payment_refund_record(charge_id="charge-a")
    payment_refund_record(charge_id="charge-b")
    listed = admin_client.get(PAYMENTS, {"unrecovered": "open"})
    assert {payment.pk for payment in listed.context["cl"].result_list} == {taken.pk, written_off.pk}

    page = _act(admin_client, "take_unrecovered", taken)
    assert [(row["taken"], row["after"]) for row in page.context["rows"]] == [("70 credits", "-70 credits")]
    assert get_user_balance(USER) == Decimal("0")
    _act(admin_client, "take_unrecovered", taken, confirm=True)
    _act(admin_client, "write_off_unrecovered", written_off)

    assert (get_user_balance(USER), get_user_balance(OTHER)) == (Decimal("-70"), Decimal("0")) and _consistent()
    taken.refresh_from_db()
    written_off.refresh_from_db()
    assert (taken.unrecovered_resolution, written_off.unrecovered_resolution) == (
        Shortfall.TAKEN,
        Shortfall.WRITTEN_OFF,
    )
    assert taken.unrecovered_resolved_by == written_off.unrecovered_resolved_by == admin_user
    assert not admin_client.get(PAYMENTS, {"unrecovered": "open"}).context["cl"].result_list
    # Again: nothing more is taken.
    _act(admin_client, "take_unrecovered", taken, confirm=True)
    assert get_user_balance(USER) == Decimal("-70")
