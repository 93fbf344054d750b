"""seed_demo's money is true to life with the default plans and prices: the trial credit runs out for those who
talk most, they buy when it does and go on talking on paid credits, the rest stop; so the demo earns more than
its answers cost, and no balance ever goes below zero."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.billing.models import Balance, Operation, OperationType, Payment
from apps.billing.revenue import GROUPINGS, revenue_rows
from apps.core.money import usd_text
from apps.demo.population import DEMO_ID_START

pytestmark = pytest.mark.django_db


def _operations_by_user() -> dict[int, list[Operation]]:
    by_user: dict[int, list[Operation]] = {}
    for operation in Operation.objects.filter(user_id__gte=DEMO_ID_START).order_by("created_at", "pk"):
        by_user.setdefault(operation.user_id, []).append(operation)
    return by_user


def test_the_demo_earns_more_than_its_answers_cost_over_30_days(reference_data):
    out = StringIO()
    call_command("seed_demo", stdout=out)  # the defaults: what `make run` shows

    now = timezone.now()
    days = revenue_rows(now - timedelta(days=30), now, GROUPINGS["day"])
    earned = sum((row["earned_revenue"] for row in days), Decimal(0))
    cost = sum((row["llm_cost"] for row in days), Decimal(0))
    margin = sum((row["margin"] for row in days), Decimal(0))
    assert earned > 0 and cost > 0
    assert margin == earned - cost > cost / 10, "clearly positive, not a rounding's worth"
    assert f"margin {usd_text(margin)}" in out.getvalue(), "seed_demo says what the dashboard will show"


def test_buyers_buy_when_they_run_low_and_no_balance_goes_below_zero(reference_data, settings):
    call_command("seed_demo", "--users", "150", "--seed", "3", stdout=StringIO())

    by_user = _operations_by_user()
    balances = Balance.objects.filter(user_id__gte=DEMO_ID_START)
    assert balances.count() == 150
    for balance in balances:
        running = Decimal(0)
        for operation in by_user[balance.user_id]:  # summed here: SQLite sums decimals as floats
            running += operation.amount
            assert operation.balance_after == running >= 0, operation
        assert balance.amount == running >= 0

    # What was sold: packages and first subscription periods (a renewal is not a decision).
    sold, subscribed = set(), set()
    credit_payments = Payment.objects.filter(user_id__gte=DEMO_ID_START, credits__gt=0).order_by("created_at", "pk")
    for pk, user_id, period_end in credit_payments.values_list("pk", "user_id", "period_end"):
        if period_end is None or user_id not in subscribed:
            sold.add(pk)
        if period_end is not None:
            subscribed.add(user_id)
    assert len(sold) > 10 and subscribed
    for operations in by_user.values():
        for at, operation in enumerate(operations):
            if operation.payment_id in sold:
                before = operation.balance_after - operation.amount
                answer = next(later for later in operations[at + 1 :] if later.type == OperationType.GENERATION)
                assert before < -answer.amount, "bought because the next answer cost more than was left"

    trial = settings.BILLING_TRIAL_CREDITS
    consumed = {
        user_id: -sum((op.amount for op in operations if op.type == OperationType.GENERATION), Decimal(0))
        for user_id, operations in by_user.items()
    }
    buyers = {payment.user_id for payment in credit_payments}
    assert all(consumed[user_id] > trial for user_id in buyers), "every buyer talked on paid credits"
    assert all(consumed[user_id] <= trial for user_id in by_user.keys() - buyers), "the rest had the trial only"
    ran_out = [user_id for user_id in by_user.keys() - buyers if consumed[user_id] > trial * Decimal("0.9")]
    assert ran_out, "some who did not pay used their trial up and stopped"
