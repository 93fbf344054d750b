from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.billing.exceptions import InsufficientBalance
from apps.billing.models import Balance, DebugLog, GenerationLog, Operation, OperationType
from apps.billing.services import (
    add_to_balance,
    create_operation,
    get_user_balance,
    get_user_operations,
    ledger_apply,
    log_debug,
    log_kie_operation,
    logs_purge,
    update_user_balance,
)
from apps.users.models import TelegramUser
from tests.helpers import run_concurrently

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> TelegramUser:
    return TelegramUser.objects.create(id=801, username="payer")


def _sum(user_id: int) -> Decimal:
    return sum((op.amount for op in Operation.objects.filter(user_id=user_id)), Decimal(0))


def test_seed_003_functions(user):
    assert get_user_balance(user.id) == Decimal("0")
    assert add_to_balance(user.id, Decimal("50.00")) == Decimal("50")
    operation_id = create_operation(
        user.id,
        "generation",
        Decimal("-5.00"),
        model="flux-2-pro",
        result_url="https://example.com/result.jpg",
        prompt="Create a sunset",
    )
    assert get_user_balance(user.id) == Decimal("45")
    assert update_user_balance(user.id, Decimal("100.50")) == Decimal("100.5")
    operations = get_user_operations(user.id)
    assert [op.type for op in operations] == [
        OperationType.ADJUSTMENT,
        OperationType.GENERATION,
        OperationType.ADJUSTMENT,
    ]
    assert operations[0].amount == Decimal("55.5"), "the difference, not a bare overwrite"
    generation = Operation.objects.get(pk=operation_id)
    assert (generation.model, generation.result_url, generation.balance_after) == (
        "flux-2-pro",
        "https://example.com/result.jpg",
        Decimal("45"),
    )
    assert generation.prompt == "", "no prompt text unless STORE_PROMPTS"
    assert [op.pk for op in get_user_operations(user.id, operation_type="generation")] == [operation_id]
    assert len(get_user_operations(user.id, limit=2)) == 2
    assert get_user_balance(user.id) == _sum(user.id)


def test_an_overdraft_is_refused_and_nothing_changes(user):
    add_to_balance(user.id, Decimal("3"))
    with pytest.raises(InsufficientBalance) as refused:
        create_operation(user.id, "generation", Decimal("-3.01"))
    assert (refused.value.balance, refused.value.needed) == (Decimal("3"), Decimal("3.01"))
    assert get_user_balance(user.id) == Decimal("3")
    assert Operation.objects.filter(user=user).count() == 1


def test_only_an_explicit_decision_takes_a_balance_below_zero_and_a_credit_is_never_refused(user):
    """The balance goes negative only through allow_negative (staff refunding credits already spent); below
    zero, every debit is refused and every credit accepted."""
    add_to_balance(user.id, Decimal("1"))
    with pytest.raises(InsufficientBalance):
        ledger_apply(user_id=user.id, type=OperationType.REFUND, amount=Decimal("-3"))
    below = ledger_apply(user_id=user.id, type=OperationType.REFUND, amount=Decimal("-3"), allow_negative=True)
    assert below.balance_after == Decimal("-2") == get_user_balance(user.id)
    with pytest.raises(InsufficientBalance):
        create_operation(user.id, "generation", Decimal("-0.01"))
    assert create_operation(user.id, "payment", Decimal("1"))
    assert get_user_balance(user.id) == Decimal("-1") == _sum(user.id)


def test_an_idempotency_key_applies_once(user):
    first = ledger_apply(user_id=user.id, type=OperationType.BONUS, amount=5, idempotency_key="promo:1")
    again = ledger_apply(user_id=user.id, type=OperationType.BONUS, amount=5, idempotency_key="promo:1")
    assert first.pk == again.pk
    assert get_user_balance(user.id) == Decimal("5")


def test_add_to_balance_takes_only_positive_amounts(user):
    with pytest.raises(ValueError):
        add_to_balance(user.id, Decimal("-1"))


def test_prompts_are_kept_only_when_asked_and_truncated(user, settings):
    settings.STORE_PROMPTS = True
    operation_id = create_operation(user.id, "bonus", Decimal("1"), prompt="p" * 5000)
    assert len(Operation.objects.get(pk=operation_id).prompt) == 1000
    log = log_kie_operation(user.id, "flux-2-pro", prompt="p" * 5000, error_message="e" * 900)
    assert (len(log.prompt), len(log.error)) == (1000, 500)
    assert len(log_debug("INFO", "m" * 3000, {"k": 1}).message) == 1000


def test_logs_are_purged_after_the_retention_window(settings):
    settings.LOG_RETENTION_DAYS = 30
    now = timezone.now()
    old = log_kie_operation(None, "m", result_url="https://x/1")
    GenerationLog.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=30, minutes=1))
    kept = log_kie_operation(None, "m", result_url="https://x/2")
    GenerationLog.objects.filter(pk=kept.pk).update(created_at=now - timedelta(days=29, hours=23))
    debug_old = log_debug("INFO", "old")
    DebugLog.objects.filter(pk=debug_old.pk).update(created_at=now - timedelta(days=31))
    assert logs_purge() == 2
    assert list(GenerationLog.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not DebugLog.objects.exists()


def test_verify_ledger_reports_consistency_and_finds_a_tampered_balance(user):
    add_to_balance(user.id, Decimal("10"))
    create_operation(user.id, "generation", Decimal("-2.5"))
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "1 users consistent" in out.getvalue()
    Balance.objects.filter(pk=user.id).update(amount=Decimal("9"))
    with pytest.raises(CommandError, match="1 of 1 users inconsistent"):
        call_command("verify_ledger", stdout=StringIO())


def test_verify_ledger_adds_amounts_exactly_where_the_database_sums_them_as_floats(user):
    # A demo user's ledger: SQLite's SUM of it is 9.48769999999998.
    add_to_balance(user.id, Decimal("120"))
    for amount in (
        "4.8263 3.0060 5.5733 5.5710 6.3908 4.7220 4.3253 3.5378 5.7728 6.3510 6.6255 2.8800 5.7578 3.9030 "
        "5.2365 3.8933 3.3225 3.1643 2.7720 5.4000 5.0273 3.1860 2.6835 2.8515 3.7328"
    ).split():
        create_operation(user.id, "generation", -Decimal(amount))
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "1 users consistent" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_fifty_threads_charging_one_user_never_overdraw(require_postgres):
    TelegramUser.objects.create(id=802)
    add_to_balance(802, Decimal("30"))

    def charge(n: int) -> str:
        try:
            create_operation(802, "generation", Decimal("-1"))
        except InsufficientBalance:
            return "refused"
        return "charged"

    outcomes = run_concurrently(charge, 50)
    assert outcomes.count("charged") == 30 and outcomes.count("refused") == 20
    assert get_user_balance(802) == Decimal("0") == _sum(802)
    balances_after = list(Operation.objects.filter(user_id=802).order_by("id").values_list("balance_after", flat=True))
    assert balances_after == [Decimal(30 - n) for n in range(31)], "each operation saw the one before it"


@pytest.mark.parametrize(
    ("value", "text"),
    [("100", "100"), ("100.0000", "100"), ("12.50", "12.5"), ("0.1600", "0.16"), ("-3", "-3"), ("0", "0")],
)
def test_credits_read_like_numbers(value, text):
    from apps.billing.services import credits_text

    assert credits_text(Decimal(value)) == text


@pytest.mark.django_db(transaction=True)
def test_one_key_applied_by_ten_threads_at_once_applies_once(require_postgres):
    TelegramUser.objects.create(id=803)
    results = run_concurrently(
        lambda n: ledger_apply(user_id=803, type=OperationType.PAYMENT, amount=7, idempotency_key="pay:1").pk, 10
    )
    assert len(results) == 10 and len(set(results)) == 1
    assert get_user_balance(803) == Decimal("7") == _sum(803)
