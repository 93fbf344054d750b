"""The factories write what the project itself would: a consistent ledger and metered requests."""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.billing.models import Balance, Operation, OperationType, PaymentStatus
from apps.billing.selectors import ledger_mismatches
from apps.billing.services import get_user_balance
from apps.llm.models import DailyUsage, UserUsageSummary
from apps.sessions.models import UserSession
from tests.factories import (
    FIRST_USER_ID,
    BroadcastFactory,
    LLMRequestFactory,
    PaymentFactory,
    TelegramUserFactory,
    UserSessionFactory,
    UserWithBalanceFactory,
)

pytestmark = pytest.mark.django_db


def _types(user_id: int) -> list[str]:
    return [
        OperationType(t).label
        for t in Operation.objects.filter(user_id=user_id).order_by("id").values_list("type", flat=True)
    ]


def test_users_get_ids_of_their_own_range_and_the_models_defaults():
    first, second = TelegramUserFactory(), TelegramUserFactory()
    assert FIRST_USER_ID <= first.id < second.id
    assert (first.username, first.is_active, first.is_admin) == ("", True, False)


def test_a_funded_user_is_credited_through_the_ledger():
    user = UserWithBalanceFactory(credits=Decimal("2.5"))
    assert get_user_balance(user.id) == Decimal("2.5")
    assert _types(user.id) == ["adjustment"]
    assert UserWithBalanceFactory().balance.amount == Decimal(10)
    assert not Balance.objects.filter(pk=UserWithBalanceFactory(credits=0).pk).exists()
    assert ledger_mismatches()[1] == []


def test_a_payment_comes_with_its_credit_and_a_refunded_one_with_the_debit_too():
    paid = PaymentFactory()
    assert (paid.stars, paid.credits, paid.invoice_payload) == (
        50,
        Decimal(100),
        f"pkg:{paid.package_id}:{paid.user_id}",
    )
    assert get_user_balance(paid.user_id) == Decimal(100)
    assert Operation.objects.get(user_id=paid.user_id).payment_id == paid.pk
    refunded = PaymentFactory(status=PaymentStatus.REFUNDED)
    assert refunded.refunded_at is not None
    assert _types(refunded.user_id) == ["payment", "refund"] and get_user_balance(refunded.user_id) == 0
    assert ledger_mismatches()[1] == []


def test_an_llm_request_is_metered_into_the_users_day_and_totals():
    session = UserSessionFactory()
    request = LLMRequestFactory(user=session.user, session=session)
    assert (request.pk, request.session_id, request.total_tokens) == (request.pk, session.pk, 150)
    day = DailyUsage.objects.get(user=session.user, date=timezone.localdate())
    assert (day.requests, day.total_tokens, day.cost) == (1, 150, Decimal("0.000036"))
    assert UserUsageSummary.objects.get(user=session.user).total_requests == 1


def test_a_session_counts_the_user_turns_of_its_history():
    session = UserSessionFactory(conversation_history=[
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "?"},
    ])  # fmt: skip
    assert (session.question_count, session.is_active) == (2, True)
    assert UserSession.objects.get(pk=session.pk).conversation_history[1]["content"] == "hello"


def test_a_broadcast_is_a_draft_to_everyone():
    broadcast = BroadcastFactory()
    assert (broadcast.status, broadcast.criteria) == ("draft", {})
