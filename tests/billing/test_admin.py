from decimal import Decimal

import pytest
from django.urls import reverse

from apps.billing.models import Operation, OperationType
from apps.billing.services import add_to_balance, create_operation, get_user_balance
from apps.users.models import TelegramUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> TelegramUser:
    user = TelegramUser.objects.create(id=1101, username="client")
    add_to_balance(user.id, Decimal("10"))
    return user


def test_a_manual_adjustment_needs_a_reason_and_records_the_staff_member(admin_client, user):
    url = reverse("admin:billing_balance_adjust", args=[user.id])
    refused = admin_client.post(url, {"amount": "5"})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    assert get_user_balance(user.id) == Decimal("10")

    admin_client.post(url, {"amount": "-4.5", "reason": "goodwill correction"})
    operation = Operation.objects.filter(type=OperationType.ADJUSTMENT, staff__isnull=False).get()
    assert (operation.amount, operation.reason, operation.staff.username) == (
        Decimal("-4.5"),
        "goodwill correction",
        "admin",
    )
    assert get_user_balance(user.id) == Decimal("5.5")


def test_an_adjustment_below_zero_is_refused_with_the_reason(admin_client, user):
    page = admin_client.post(
        reverse("admin:billing_balance_adjust", args=[user.id]), {"amount": "-11", "reason": "too much"}
    )
    assert "has 10 credits, needs 11" in page.content.decode()
    assert get_user_balance(user.id) == Decimal("10")


def test_operations_export_as_csv(admin_client, user):
    create_operation(user.id, "generation", Decimal("-1.25"), model="gpt-4o-mini")
    response = admin_client.post(
        reverse("admin:billing_operation_changelist"),
        {"action": "export_csv", "_selected_action": list(Operation.objects.values_list("pk", flat=True))},
    )
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,created_at,user_id,type,amount")
    assert len(lines) == 3 and "generation,-1.2500" in lines[2]


def test_database_size_page_shows_tables_against_the_budget(admin_client, user):
    page = admin_client.get(reverse("admin:database_size")).content.decode()
    assert "billing_operation" in page and "budget" in page


def test_user_page_shows_revenue_cost_and_margin(admin_client, user):
    page = admin_client.get(reverse("admin:users_telegramuser_change", args=[user.id])).content.decode()
    assert '<span class="label">balance</span><span class="value">10 credits</span>' in page
    assert '<span class="label">margin</span><span class="value">$0.00</span>' in page


@pytest.mark.parametrize(
    "name",
    [
        "admin:billing_balance_changelist",
        "admin:billing_payment_changelist",
        "admin:billing_priceplan_changelist",
        "admin:billing_creditpackage_changelist",
        "admin:billing_generationlog_changelist",
        "admin:billing_debuglog_changelist",
    ],
)
def test_billing_pages_render(admin_client, user, name):
    assert admin_client.get(reverse(name)).status_code == 200
