"""get_users_by_criteria: every criterion, on SQLite and on PostgreSQL alike."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.billing.models import Payment, RefundAbuse
from apps.broadcast.selectors import get_users_by_criteria
from apps.users.models import TelegramUser

pytestmark = pytest.mark.django_db


def _at(day: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(day))


@pytest.fixture
def population() -> None:
    now = timezone.now()
    TelegramUser.objects.create(
        id=1, gender="male", last_journey_stage="ordinary_world", streams=["career", "growth"],
        markers={"tier": "gold", "a__b": "x"}, language_code="en-US", last_seen_date=now - timedelta(days=1),
        registration_date=_at("2026-01-10 23:30"),
    )  # fmt: skip
    TelegramUser.objects.create(
        id=2, gender="female", last_journey_stage="call_to_adventure", streams=["growth"],
        markers={"tier": "silver", "score": 3}, language_code="ru", last_seen_date=now - timedelta(days=10),
        registration_date=_at("2026-03-01 00:00"),
    )  # fmt: skip
    TelegramUser.objects.create(
        id=3, streams=["careers"], language_code="eng", last_seen_date=now - timedelta(days=40),
        registration_date=_at("2025-12-01 12:00"),
    )  # fmt: skip
    TelegramUser.objects.create(id=4, gender="male", streams=["career"], is_active=False)  # blocked the bot
    Payment.objects.create(user_id=1, stars=50, credits=100, telegram_payment_charge_id="c1", invoice_payload="p")
    refunded = Payment.objects.create(
        user_id=2, stars=50, credits=100, telegram_payment_charge_id="c2", invoice_payload="p", status="refunded"
    )
    RefundAbuse.objects.create(
        user_id=2, payment=refunded, credits_consumed=90, stars_returned=50, share_consumed=Decimal("0.9")
    )


def ids(**criteria) -> list[int]:
    return list(get_users_by_criteria(criteria).values_list("id", flat=True))


@pytest.mark.usefixtures("population")
@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({}, [1, 2, 3]),
        ({"gender": "male"}, [1]),
        ({"journey_stages": ["call_to_adventure", "ordeal"]}, [2]),
        ({"journey_stage": "ordinary_world"}, [1]),  # seed 004's key: one stage
        ({"journey_stage": "ordinary_world", "journey_stages": ["call_to_adventure"]}, [1, 2]),
        ({"streams": ["career"]}, [1]),
        ({"streams": ["career", "growth"], "streams_match": "any"}, [1, 2]),
        ({"streams": ["career", "growth"], "streams_match": "all"}, [1]),
        ({"streams": ["growth", "careers"]}, [1, 2, 3]),
        ({"markers": {"tier": "gold"}}, [1]),
        ({"markers": {"tier": "silver", "score": 3}}, [2]),
        ({"markers": {"score": "3"}}, []),
        ({"markers": {"a__b": "x"}}, [1]),
        ({"language": "en"}, [1]),
        ({"language": "RU"}, [2]),
        ({"last_seen_within_days": 7}, [1]),
        ({"last_seen_within_days": 30}, [1, 2]),
        ({"registered_after": date(2026, 1, 10)}, [1, 2]),
        ({"registered_before": date(2026, 1, 10)}, [1, 3]),
        ({"registered_after": "2026-01-11", "registered_before": "2026-03-01"}, [2]),
        ({"has_purchased": True}, [1, 2]),
        ({"has_purchased": False}, [3]),
        ({"gender": "male", "has_purchased": False}, []),
        ({"refund_abuse": True}, [2]),
        ({"refund_abuse": False}, [1, 3]),
        ({"has_purchased": True, "refund_abuse": False}, [1]),
    ],
)
def test_each_criterion_selects_exactly_its_users(criteria, expected):
    assert ids(**criteria) == expected


def test_an_unknown_criterion_is_an_error_not_everyone():
    with pytest.raises(ValueError, match="unknown criteria: age"):
        get_users_by_criteria({"age": 30})
