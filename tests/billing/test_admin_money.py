"""Money in the admin's lists and records reads as people read it (no '100.0000' or '0.00058400'), and a money
column still sorts by the amount stored."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.billing.models import Operation, OperationType, PaidStream, SubscriptionPlan
from apps.billing.services import add_to_balance, billing_grant_trial
from apps.llm.models import LLMRequest
from apps.users.models import TelegramUser
from tests.billing.test_margin import D1, D2, answer, buy, moment, on

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(settings) -> TelegramUser:
    settings.BILLING_TRIAL_CREDITS = Decimal("20")
    user = TelegramUser.objects.create(id=1201, username="reader")
    with on(moment(D1, 0.1)):
        billing_grant_trial(user_id=user.id)
    buy(user.id, credits=1500, stars=500, when=moment(D1, 0.2))
    answer(user.id, credits="0.1752", cost="0.000584", when=moment(D2, 0.3))
    answer(user.id, credits="2.5", cost="0.0123", when=moment(D2, 0.4))
    return user


def cells(page: str, column: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(rf'class="field-{column}">(.*?)</t[dh]>', page)]


def column_index(admin_client, url: str, column: str) -> int:
    return admin_client.get(url).context["cl"].list_display.index(column)


def test_operations_read_as_credits_and_sort_by_the_amount(admin_client, ledger):
    url = reverse("admin:billing_operation_changelist")
    page = admin_client.get(url).content.decode()
    assert "Amount, credits" in page and "Balance after, credits" in page
    # Newest first: each answer held, released and charged, the payment, the trial.
    assert cells(page, "amount_shown") == ["-2.5", "+2.5", "-2.5", "-0.1752", "+0.1752", "-0.1752", "+1,500", "+20"]
    assert cells(page, "balance_after_shown")[::3] == ["1,517.3248", "1,519.8248", "1,520"]
    assert "0000" not in "".join(cells(page, "amount_shown") + cells(page, "balance_after_shown"))
    index = column_index(admin_client, url, "amount_shown")
    for descending in (False, True):
        shown = admin_client.get(url, {"o": f"{'-' if descending else ''}{index}"}).context["cl"].result_list
        amounts = [operation.amount for operation in shown]
        assert amounts == sorted(amounts, reverse=descending) and len(amounts) == 8

    record = Operation.objects.get(amount=Decimal("-0.1752"), type=OperationType.GENERATION)
    page = admin_client.get(reverse("admin:billing_operation_change", args=[record.pk])).content.decode()
    assert re.search(r"-0\.1752</div>", page) and "1,519.8248" in page and "0.17520" not in page


def test_payments_name_what_was_bought_and_its_stars(admin_client, ledger):
    page = admin_client.get(reverse("admin:billing_payment_changelist")).content.decode()
    assert cells(page, "bought") == ["1500 for 500"]
    assert cells(page, "stars_shown") == ["500\N{NO-BREAK SPACE}⭐"] and cells(page, "credits_shown") == ["1,500"]
    assert cells(page, "refund_state") == ["-"]
    balance = admin_client.get(reverse("admin:billing_balance_changelist")).content.decode()
    assert cells(balance, "amount_shown") == ["1,517.3248"]


def test_llm_costs_read_as_dollars_and_sort_by_cost(admin_client, ledger):
    url = reverse("admin:llm_llmrequest_changelist")
    page = admin_client.get(url).content.decode()
    assert cells(page, "cost_shown") == ["$0.01", "$0.00058"]
    assert "cost <strong>$0.01</strong>" in page  # the totals above the list
    index = column_index(admin_client, url, "cost_shown")
    shown = admin_client.get(url, {"o": str(index)}).context["cl"].result_list
    assert [request.cost for request in shown] == sorted(LLMRequest.objects.values_list("cost", flat=True))
    prices = admin_client.get(reverse("admin:llm_modelprice_changelist"), {"q": "gpt-4o-mini"}).content.decode()
    assert "0.15" in cells(prices, "input_per_1m_shown") and "0.150000" not in prices


def test_an_adjustment_says_the_balance_in_credits(admin_client):
    user = TelegramUser.objects.create(id=1202, username="adjusted")
    add_to_balance(user.id, Decimal("10"))
    url = reverse("admin:billing_balance_adjust", args=[user.id])
    assert "Current balance: <strong>10 credits</strong>" in admin_client.get(url).content.decode()
    done = admin_client.post(url, {"amount": "2.25", "reason": "goodwill"}, follow=True).content.decode()
    assert "is now 12.25 credits" in done


def test_plans_and_streams_read_as_credits_and_stars(admin_client):
    SubscriptionPlan.objects.create(title="Monthly", stars=1250, credits=Decimal("6000.5000"))
    PaidStream.objects.create(title="Course", stars=2500, stream_tag="course")
    plans = admin_client.get(reverse("admin:billing_subscriptionplan_changelist")).content.decode()
    assert cells(plans, "credits_shown") == ["6,000.5"] and cells(plans, "stars_shown") == ["1,250\N{NO-BREAK SPACE}⭐"]
    streams = admin_client.get(reverse("admin:billing_paidstream_changelist")).content.decode()
    assert cells(streams, "stars_shown") == ["2,500\N{NO-BREAK SPACE}⭐"]
