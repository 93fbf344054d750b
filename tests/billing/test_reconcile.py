"""Reconciliation with Telegram's Stars ledger: the daily job reads getStarTransactions (paged, newest first,
back to STARS_RECONCILE_DAYS) and compares it with our payments. Each kind of discrepancy is planted in the fake
Bot API's ledger and found: a payment we lack (credited with one click, once), a refund we did not record
(applied by the run, once), our payment Telegram does not list (marked checked; money never moves). Telegram
unreachable: the run is stored with its error and nothing changes. Real python-telegram-bot client."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.billing import reconcile
from apps.billing.exceptions import DiscrepancyRefused
from apps.billing.models import (
    CreditPackage,
    Discrepancy,
    DiscrepancyKind,
    OperationType,
    Payment,
    PaymentStatus,
    ReconciliationRun,
)
from apps.billing.reconcile import (
    CREDIT,
    DISMISS,
    MARK_CHECKED,
    TAKE,
    WRITE_OFF,
    discrepancy_resolve,
    resolutions,
    stars_reconcile,
)
from apps.billing.selectors import ledger_mismatches
from apps.billing.services import get_user_balance, invoice_payload, ledger_apply, payment_record
from apps.billing.tasks import reconcile_stars
from apps.bot.flows.erase import user_erase
from apps.core import sending
from apps.users.models import ErasureReceipt, TelegramUser
from config.schedule import SCHEDULE

pytestmark = pytest.mark.django_db

USER, STRANGER = 1901, 1999
DAY = 24 * 3600
DISCREPANCIES = reverse("admin:billing_discrepancy_changelist")


@pytest.fixture
def package(settings, bot_api) -> CreditPackage:
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    TelegramUser.objects.create(id=USER, username="payer")
    return CreditPackage.objects.create(title="Hundred", credits=Decimal("100"), stars=50)


def _buy(bot_api, package: CreditPackage, charge_id: str) -> Payment:
    """A payment both sides know: recorded and credited by us, in Telegram's ledger."""
    payload = invoice_payload(package=package, user_id=USER)
    payment, _ = payment_record(user_id=USER, payload=payload, currency="XTR", total_amount=50, charge_id=charge_id)
    bot_api.star_payment(USER, charge_id, 50, payload=payload)
    return payment


def _consistent() -> bool:
    return ledger_mismatches()[1] == []


def _run() -> ReconciliationRun:
    """The beat job, as beat starts it."""
    return ReconciliationRun.objects.get(pk=reconcile_stars()["run"])


def _resolve(admin_client, discrepancy: Discrepancy, resolution: str):
    url = reverse("admin:billing_discrepancy_resolve", args=[discrepancy.pk])
    return admin_client.post(url, {"resolution": resolution}, follow=True)


def test_the_job_finds_a_planted_missing_payment_and_credit_it_credits_once(admin_client, admin_user, bot_api, package):
    _buy(bot_api, package, "charge-known")
    payload = invoice_payload(package=package, user_id=USER)
    bot_api.star_payment(USER, "charge-lost", 50, payload=payload)  # its successful_payment never reached us

    result = reconcile_stars()
    job = next(job for job in SCHEDULE if job.task == "apps.billing.tasks.reconcile_stars")
    assert job.summarise(result).startswith("1 missing payment(s), 0 unrecorded refund(s) applied, 0 unknown")
    run = ReconciliationRun.objects.get(pk=result["run"])
    assert (run.missing_payments, run.unrecorded_refunds, run.unknown_to_telegram) == (1, 0, 0)
    assert (run.pages, run.transactions, run.payments_compared, run.complete, run.error) == (1, 2, 1, True, "")
    assert run.finished_at is not None
    [discrepancy] = Discrepancy.objects.all()
    assert (discrepancy.kind, discrepancy.charge_id, discrepancy.run) == (
        DiscrepancyKind.MISSING_PAYMENT,
        "charge-lost",
        run,
    )
    assert (discrepancy.telegram_user_id, discrepancy.stars, discrepancy.invoice_payload) == (USER, 50, payload)
    assert abs(discrepancy.telegram_date.timestamp() - time.time()) < 60
    assert resolutions(discrepancy) == [CREDIT, DISMISS]

    listed = admin_client.get(DISCREPANCIES, {"state": "open", "kind": DiscrepancyKind.MISSING_PAYMENT})
    assert [row.pk for row in listed.context["cl"].result_list] == [discrepancy.pk]
    assert 'value="credit">Credit it</button>' in listed.content.decode()
    _resolve(admin_client, discrepancy, "credit")
    _resolve(admin_client, discrepancy, "credit")  # a second click

    payment = Payment.objects.get(telegram_payment_charge_id="charge-lost")
    assert (payment.user_id, payment.credits, payment.stars) == (USER, Decimal("100"), 50)
    assert payment.operations.filter(type=OperationType.PAYMENT).count() == 1
    assert get_user_balance(USER) == Decimal("200") and _consistent()
    discrepancy.refresh_from_db()
    assert (discrepancy.payment, discrepancy.resolved_by) == (payment, admin_user)
    assert discrepancy.resolution == f"credited: payment {payment.pk}"
    # The next run finds nothing missing.
    assert _run().missing_payments == 0 and Discrepancy.objects.count() == 1


def test_a_lost_payment_of_a_person_erased_since_is_credited_to_their_pseudonym(admin_client, bot_api, package):
    """Their successful_payment was still waiting when they were erased (its stored update emptied with the rest):
    the invoice is their pseudonym's, so is the payment, and crediting it credits the ledger that stays."""
    payload = invoice_payload(package=package, user_id=USER)
    bot_api.star_payment(USER, "charge-before-erase", 50, payload=payload)
    pseudonym_id = user_erase(USER, reason="asked by email", via=ErasureReceipt.Via.COMMAND).pseudonym_id

    assert stars_reconcile().missing_payments == 1
    discrepancy = Discrepancy.objects.get()
    assert discrepancy.telegram_user_id == pseudonym_id and f"User {USER} " not in discrepancy.details
    assert resolutions(discrepancy) == [CREDIT, DISMISS]
    _resolve(admin_client, discrepancy, CREDIT.code)
    payment = Payment.objects.get(telegram_payment_charge_id="charge-before-erase")
    assert (payment.user_id, payment.credits) == (pseudonym_id, Decimal("100"))
    assert get_user_balance(pseudonym_id) == Decimal("100") and _consistent()


@pytest.mark.parametrize(
    ("payer", "payload", "why"),
    [
        (USER, "not-our-payload", "its invoice payload names nothing we sell"),
        (STRANGER, None, "the user is unknown to the bot"),
    ],
    ids=["nothing-we-sell", "unknown-user"],
)
def test_a_missing_payment_that_cannot_be_credited_says_why_and_is_dismissed(
    admin_client, bot_api, package, payer, payload, why
):
    bot_api.star_payment(payer, "charge-odd", 50, payload=payload or invoice_payload(package=package, user_id=USER))
    stars_reconcile()
    discrepancy = Discrepancy.objects.get()
    assert discrepancy.details.endswith(f"It cannot be credited: {why}.")
    assert resolutions(discrepancy) == [DISMISS]
    with pytest.raises(DiscrepancyRefused):
        discrepancy_resolve(discrepancy_id=discrepancy.pk, code=CREDIT.code, staff=None)
    assert "Not resolved" in _resolve(admin_client, discrepancy, "credit").content.decode()

    _resolve(admin_client, discrepancy, "dismiss")
    discrepancy.refresh_from_db()
    assert discrepancy.resolution == "dismissed" and discrepancy.resolved_at is not None
    assert not Payment.objects.exists() and get_user_balance(payer) == Decimal("0")
    # Found again, not raised again.
    assert stars_reconcile().missing_payments == 1 and Discrepancy.objects.count() == 1


def test_a_payment_telegram_refunded_as_well_is_not_missing(bot_api, package):
    bot_api.star_payment(USER, "charge-paid-and-refunded", 50, payload=invoice_payload(package=package, user_id=USER))
    bot_api.star_refund(USER, "charge-paid-and-refunded", 50)
    run = stars_reconcile()
    assert (run.missing_payments, run.unrecorded_refunds) == (0, 0) and not Discrepancy.objects.exists()


def test_an_unrecorded_refund_is_applied_once_across_two_runs(bot_api, package):
    payment = _buy(bot_api, package, "charge-disputed")
    bot_api.star_refund(USER, "charge-disputed", 50)

    first = _run()
    assert first.unrecorded_refunds == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and get_user_balance(USER) == Decimal("0")
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.payment) == (DiscrepancyKind.UNRECORDED_REFUND, payment)
    assert discrepancy.resolved_at is not None and discrepancy.resolved_by is None
    assert discrepancy.resolution == "refund recorded and applied by the run"

    assert _run().unrecorded_refunds == 0
    assert payment.operations.filter(type=OperationType.REFUND).count() == 1
    assert Discrepancy.objects.count() == 1 and get_user_balance(USER) == Decimal("0") and _consistent()


def test_an_unrecorded_refund_of_spent_credits_stays_open_until_staff_decide(
    admin_client, admin_user, bot_api, package
):
    payment = _buy(bot_api, package, "charge-spent")
    ledger_apply(user_id=USER, type=OperationType.GENERATION, amount=Decimal("-70"))
    bot_api.star_refund(USER, "charge-spent", 50)

    stars_reconcile()
    discrepancy = Discrepancy.objects.get()
    assert discrepancy.resolved_at is None and "spent 70 credits" in discrepancy.details
    assert resolutions(discrepancy) == [TAKE, WRITE_OFF]
    assert get_user_balance(USER) == Decimal("0") and _consistent()  # never below zero by itself
    stars_reconcile()
    assert Discrepancy.objects.count() == 1 and get_user_balance(USER) == Decimal("0")

    _resolve(admin_client, discrepancy, "take")
    _resolve(admin_client, discrepancy, "take")
    assert get_user_balance(USER) == Decimal("-70") and _consistent()
    assert payment.operations.filter(type=OperationType.REFUND, staff=admin_user).count() == 1
    discrepancy.refresh_from_db()
    assert discrepancy.resolved_by == admin_user and discrepancy.resolution.startswith("unrecovered credits: taken")


def test_an_unrecorded_refund_of_an_erased_persons_payment_names_the_pseudonym(bot_api, package):
    """Telegram's ledger names the person it refunded; since their erase the payment, and what is found about it,
    are their pseudonym's: the run does not write the person's id back beside it."""
    payment = _buy(bot_api, package, "charge-of-erased")
    pseudonym_id = user_erase(USER, reason="asked by email", via=ErasureReceipt.Via.COMMAND).pseudonym_id
    bot_api.star_refund(USER, "charge-of-erased", 50)

    assert stars_reconcile().unrecorded_refunds == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and get_user_balance(pseudonym_id) == Decimal("0")
    discrepancy = Discrepancy.objects.get()
    assert discrepancy.telegram_user_id == pseudonym_id
    assert f"user {USER}" not in discrepancy.details and f"user {pseudonym_id}" in discrepancy.details


def test_our_payment_telegram_does_not_list_is_raised_and_marked_checked(admin_client, bot_api, package):
    _buy(bot_api, package, "charge-both")
    ghost = _buy(bot_api, package, "charge-ghost")
    bot_api.star_transactions[:] = [e for e in bot_api.star_transactions if e["id"] != "charge-ghost"]
    old = _buy(bot_api, package, "charge-old")  # outside the window: not compared
    Payment.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    bot_api.star_transactions[:] = [e for e in bot_api.star_transactions if e["id"] != "charge-old"]

    run = _run()
    assert (run.unknown_to_telegram, run.payments_compared) == (1, 2)
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.payment, discrepancy.telegram_user_id) == (
        DiscrepancyKind.UNKNOWN_TO_TELEGRAM,
        ghost,
        None,
    )
    assert resolutions(discrepancy) == [MARK_CHECKED]
    assert 'value="checked">Mark checked</button>' in admin_client.get(DISCREPANCIES).content.decode()
    _resolve(admin_client, discrepancy, "checked")
    discrepancy.refresh_from_db()
    assert discrepancy.resolution == "checked" and discrepancy.resolved_at is not None
    ghost.refresh_from_db()
    assert ghost.status == PaymentStatus.PAID and get_user_balance(USER) == Decimal("300") and _consistent()
    assert _run().unknown_to_telegram == 1 and Discrepancy.objects.count() == 1
    resolved = admin_client.get(DISCREPANCIES, {"state": "resolved"}).context["cl"].result_list
    assert [row.pk for row in resolved] == [discrepancy.pk]
    assert not admin_client.get(DISCREPANCIES, {"state": "open"}).context["cl"].result_list


def _plant(bot_api, count: int, *, days_ago: float = 0, prefix: str = "charge") -> None:
    """`count` payments of other users in Telegram's ledger, a minute apart, ending `days_ago` days back."""
    end = int(time.time() - days_ago * DAY)
    for n in range(count):
        bot_api.star_payment(5000 + n, f"{prefix}-{n}", 1, date=end - 60 * n)


def test_resolving_a_discrepancy_there_is_not_is_refused_with_a_message(admin_client, bot_api):
    url = reverse("admin:billing_discrepancy_resolve", args=[404_404])
    page = admin_client.post(url, {"resolution": DISMISS.code}, follow=True)
    assert page.status_code == 200 and "Not resolved: no discrepancy 404404" in page.content.decode()


def test_the_ledger_is_read_page_by_page_back_to_the_window(bot_api, package):
    _plant(bot_api, 230)  # newest first: pages of 100, 100 and 30
    payload = invoice_payload(package=package, user_id=USER)
    bot_api.star_payment(USER, "charge-oldest", 50, payload=payload, date=int(time.time()) - 2 * DAY)

    run = stars_reconcile()
    assert (run.pages, run.transactions, run.complete) == (3, 231, True)
    assert [call.params.get("offset", 0) for call in bot_api.calls_to("getStarTransactions")] == [0, 100, 200]
    missing = Discrepancy.objects.filter(kind=DiscrepancyKind.MISSING_PAYMENT)
    assert missing.count() == 231  # none of them is ours
    assert missing.filter(charge_id="charge-oldest", telegram_user_id=USER).exists()


def test_reading_stops_at_the_window(settings, bot_api, package):
    settings.STARS_RECONCILE_DAYS = 30
    _plant(bot_api, 120, prefix="recent")
    _plant(bot_api, 250, days_ago=40, prefix="old")  # older than the window: never read past its first page

    run = stars_reconcile()
    assert (run.pages, run.transactions, run.complete) == (2, 200, True)
    assert run.missing_payments == 120
    assert not Discrepancy.objects.filter(charge_id__startswith="old").exists()


def test_a_read_that_does_not_reach_the_window_looks_for_no_payment_telegram_lacks(monkeypatch, bot_api, package):
    monkeypatch.setattr(reconcile, "MAX_PAGES", 1)
    payment = _buy(bot_api, package, "charge-mine")
    _plant(bot_api, 150)  # newer than our payment: it is on the page not read

    run = stars_reconcile()
    assert (run.pages, run.complete, run.unknown_to_telegram) == (1, False, 0)
    assert not Discrepancy.objects.filter(payment=payment).exists()


def test_telegram_unreachable_stores_the_run_with_its_error_and_changes_nothing(bot_api, package):
    payment = _buy(bot_api, package, "charge-kept")
    bot_api.star_refund(USER, "charge-kept", 50)
    bot_api.star_payment(USER, "charge-lost", 50, payload=invoice_payload(package=package, user_id=USER))
    bot_api.fail_method("getStarTransactions", 502)

    with pytest.raises(sending.SendFailed, match="could not be read"):
        reconcile_stars()  # the job fails, and says why
    run = ReconciliationRun.objects.get()
    assert "could not be read" in run.error and run.finished_at is not None
    assert (run.complete, run.transactions, run.missing_payments, run.unrecorded_refunds) == (False, 0, 0, 0)
    assert not Discrepancy.objects.exists()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and get_user_balance(USER) == Decimal("100") and _consistent()
