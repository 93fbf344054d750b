"""seed_demo's subscription plan, paid stream and tracked link, with demo purchases of each: deterministic,
idempotent, and every figure they feed is non-empty."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.analytics.selectors import funnel
from apps.billing.models import CreditPackage, PaidStream, Payment, Subscription, SubscriptionPlan, TrackedLink
from apps.billing.revenue import GROUPINGS, revenue_rows
from apps.demo.population import DEMO_ID_START
from apps.users.models import TelegramUser

pytestmark = pytest.mark.django_db(transaction=True)


def _seed() -> None:
    # Over 75 days some subscriptions have renewed.
    call_command("seed_demo", "--users", "150", "--days", "75", "--seed", "7", stdout=StringIO())


def _figures() -> dict:
    payments = Payment.objects.filter(user_id__gte=DEMO_ID_START)
    return {
        "subscriptions": sorted(Subscription.objects.values_list("user_id", "renewals", "is_canceled")),
        "payments": sorted(payments.values_list("telegram_payment_charge_id", "stars", "credits")),
        "buyers": sorted(TelegramUser.objects.filter(has_purchased_flow=True).values_list("pk", flat=True)),
        "visitors": TelegramUser.objects.filter(has_visited_platform=True).count(),
    }


def test_the_demo_sells_a_plan_a_stream_and_packages(reference_data):
    CreditPackage.objects.update(is_active=False)  # none on sale: the demo offers one
    _seed()
    first = _figures()
    _seed()

    assert _figures() == first  # the same seed, the same purchases; nothing piles up
    # Opaque charge ids, as Telegram's are: one that held the user's id would outlive their erasure.
    charges = [*Payment.objects.values_list("telegram_payment_charge_id", "user_id")]
    charges += [*Subscription.objects.values_list("charge_id", "user_id")]
    assert charges and not [charge for charge, user_id in charges if str(user_id) in charge]
    assert SubscriptionPlan.objects.count() == PaidStream.objects.count() == TrackedLink.objects.count() == 1
    assert CreditPackage.objects.filter(is_active=True).count() == 1
    stream = PaidStream.objects.get()
    assert stream.about_link.slug == "hero-course"

    subscriptions = Subscription.objects.all()
    assert subscriptions.filter(is_canceled=True).exists() and subscriptions.filter(renewals__gt=0).exists()
    assert all(s.payments.count() == s.renewals + 1 for s in subscriptions)
    buyers = TelegramUser.objects.filter(has_purchased_flow=True)
    assert buyers.exists() and all("hero_course" in user.streams and user.has_visited_platform for user in buyers)
    assert Payment.objects.filter(stream=stream).count() == buyers.count()
    assert Payment.objects.filter(package__isnull=False).exists()
    for subscription in subscriptions:  # balance == Σ operations (summed here: SQLite sums decimals as floats)
        user = subscription.user
        assert user.balance.amount == sum(user.operations.values_list("amount", flat=True))

    now = timezone.now()
    steps = ["bot_started", "ai_dialog_started", "platform_visited", "flow_purchased"]
    assert all(row["users"] > 0 for row in funnel(steps, now - timedelta(days=60), now + timedelta(minutes=1)))
    rows = revenue_rows(None, now + timedelta(seconds=1), GROUPINGS["user"])
    stars = sum(Payment.objects.filter(user_id__gte=DEMO_ID_START).values_list("stars", flat=True))
    assert sum(row["stars"] for row in rows) == stars  # packages, subscription periods and the stream: cash
    assert sum(row["earned_revenue"] for row in rows) > 0
