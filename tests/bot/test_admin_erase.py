"""Erasing a person from their admin page: the button only for staff who may erase, a confirmation that asks
for a reason and erases only on POST, the receipt it leads to (read-only: no add, change or delete), no Delete
button for users, and the pseudonym an erase leaves shown as an erased user."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.billing.models import Invoice, Operation, Subscription
from apps.users.models import ErasureReceipt, TelegramUser
from tests.factories import PaymentFactory, SubscriptionFactory, UserSessionFactory, UserWithBalanceFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHRASE = "a garden on the Oka nobody else knows"


@pytest.fixture
def person() -> TelegramUser:
    person = UserWithBalanceFactory(username="olga_k", first_name="Olga", credits="7.5")
    UserSessionFactory(user=person, conversation_history=[{"role": "user", "content": PHRASE}])
    PaymentFactory(user=person, package__credits=100)
    Invoice.objects.create(user=person, title="Small", credits=Decimal(50), stars=25)  # offered, not paid
    return person


def _staff_client(*codenames: str) -> Client:
    staff = User.objects.create_user(f"staff-{len(codenames)}", password="x", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def clerk() -> Client:
    """Staff who may see and edit users, not erase them."""
    return _staff_client("view_telegramuser", "change_telegramuser")


@pytest.fixture
def eraser() -> Client:
    return _staff_client("view_telegramuser", "change_telegramuser", "erase_telegramuser")


def _page(client: Client, user: TelegramUser) -> str:
    response = client.get(reverse("admin:users_telegramuser_change", args=[user.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _erase_url(user: TelegramUser) -> str:
    return reverse("admin:users_telegramuser_erase", args=[user.pk])


def test_the_erase_button_is_for_staff_who_may_erase(person, clerk, eraser, admin_client):
    assert _erase_url(person) not in _page(clerk, person)
    for client in (eraser, admin_client):
        page = _page(client, person)
        assert f'href="{_erase_url(person)}"' in page and "Erase everywhere…" in page


def test_staff_who_may_not_erase_are_refused(person, clerk):
    assert clerk.get(_erase_url(person)).status_code == 403
    assert clerk.post(_erase_url(person), {"reason": "asked by email"}).status_code == 403
    assert TelegramUser.objects.filter(pk=person.pk).exists() and not ErasureReceipt.objects.exists()


def test_the_confirmation_says_what_goes_and_what_stays_and_erases_nothing(person, eraser):
    response = eraser.get(_erase_url(person))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Removed" in page and "Kept, under a pseudonym" in page and "as accounting requires" in page
    operations = Operation.objects.filter(user=person).count()
    assert f'<td>Operations (Billing)</td><td class="count">{operations}</td>' in page
    assert '<td>User sessions (Conversation sessions)</td><td class="count">1</td>' in page
    assert '<td>Invoices (Billing)</td><td class="count">1</td>' in page, "tables that hide their relation too"
    assert 'name="reason"' in page and "csrfmiddlewaretoken" in page
    assert TelegramUser.objects.filter(pk=person.pk).exists() and not ErasureReceipt.objects.exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(person, eraser, reason):
    response = eraser.post(_erase_url(person), {"reason": reason})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert TelegramUser.objects.filter(pk=person.pk).exists() and not ErasureReceipt.objects.exists()


def test_a_post_without_the_csrf_token_is_refused(person, eraser):
    eraser.handler.enforce_csrf_checks = True
    assert eraser.post(_erase_url(person), {"reason": "asked by email"}).status_code == 403
    assert TelegramUser.objects.filter(pk=person.pk).exists()


def test_erasing_leads_to_the_receipt(person, eraser):
    response = eraser.post(_erase_url(person), {"reason": "asked by email, ticket 42"})

    [receipt] = ErasureReceipt.objects.all()
    assert response.status_code == 302
    assert response.url == reverse("admin:users_erasurereceipt_change", args=[receipt.pk])
    assert (receipt.via, receipt.reason) == (ErasureReceipt.Via.ADMIN, "asked by email, ticket 42")
    assert receipt.erased_by.username == "staff-3"
    assert not TelegramUser.objects.filter(pk=person.pk).exists()

    page = eraser.get(response.url).content.decode()
    assert "Erased everywhere. This receipt is what remains." in page
    assert "asked by email, ticket 42" in page
    assert f'<td>Operations (Billing)</td><td style="text-align: right">{receipt.counts["billing.Operation"]}</td>' in (
        page
    )
    assert "olga_k" not in page and "Olga" not in page
    # Erasing again: the person is no longer there to erase.
    assert eraser.get(_erase_url(person)).status_code == 404


def test_receipts_are_read_and_never_added_changed_or_deleted(person, admin_client):
    admin_client.post(_erase_url(person), {"reason": "asked by email"})
    receipt = ErasureReceipt.objects.get()
    listed = admin_client.get(reverse("admin:users_erasurereceipt_changelist")).content.decode()
    assert "asked by email" in listed and "Admin" in listed
    assert reverse("admin:users_erasurereceipt_add") not in listed

    detail = admin_client.get(reverse("admin:users_erasurereceipt_change", args=[receipt.pk])).content.decode()
    assert 'name="_save"' not in detail and 'class="deletelink"' not in detail
    assert reverse("admin:users_telegramuser_change", args=[receipt.pseudonym_id]) in detail
    assert admin_client.get(reverse("admin:users_erasurereceipt_add")).status_code == 403
    assert admin_client.get(reverse("admin:users_erasurereceipt_delete", args=[receipt.pk])).status_code == 403
    changed = admin_client.post(reverse("admin:users_erasurereceipt_change", args=[receipt.pk]), {"reason": "x"})
    assert changed.status_code == 403
    assert ErasureReceipt.objects.get().reason == "asked by email"


def test_users_have_no_delete_button_or_action(person, admin_client):
    page = _page(admin_client, person)
    assert 'class="deletelink"' not in page
    assert admin_client.get(reverse("admin:users_telegramuser_delete", args=[person.pk])).status_code == 403
    listed = admin_client.get(reverse("admin:users_telegramuser_changelist")).content.decode()
    assert "delete_selected" not in listed


def test_the_pseudonym_is_an_erased_user_listed_only_when_asked_for(person, admin_client):
    other = UserWithBalanceFactory(first_name="Boris")
    admin_client.post(_erase_url(person), {"reason": "asked by email"})
    pseudonym = TelegramUser.objects.get(pk=ErasureReceipt.objects.get().pseudonym_id)
    changelist = reverse("admin:users_telegramuser_changelist")

    def listed(query: str) -> set[int]:
        response = admin_client.get(changelist + query)
        return {user.pk for user in response.context["cl"].result_list}

    assert listed("") == listed("?erased=no") == {other.pk}
    assert listed("?erased=yes") == {pseudonym.pk}
    assert listed("?erased=all") == {other.pk, pseudonym.pk}
    assert "Erased user" in admin_client.get(changelist + "?erased=yes").content.decode()

    page = _page(admin_client, pseudonym)
    assert "the receipt" in page and 'name="_save"' not in page, "read-only"
    assert "Erase everywhere" not in page and "Download data" not in page


def test_the_confirmation_says_a_renewing_subscription_is_cancelled_with_telegram_first(person, eraser):
    SubscriptionFactory(user=person, title="Monthly")
    page = eraser.get(_erase_url(person)).content.decode()
    assert "Their subscription “Monthly” renews on " in page
    assert "Erasing first asks Telegram to cancel it, so that Telegram stops charging them" in page


def test_erasing_cancels_the_subscription_with_telegram_first(person, eraser, bot_api):
    subscription = SubscriptionFactory(user=person)
    response = eraser.post(_erase_url(person), {"reason": "asked by email"})

    assert len(bot_api.calls_to("editUserStarSubscription")) == 1
    assert bot_api.star_subscriptions == {(person.pk, subscription.charge_id): True}, "cancelled"
    receipt = ErasureReceipt.objects.get()
    assert response.url == reverse("admin:users_erasurereceipt_change", args=[receipt.pk])
    subscription.refresh_from_db()
    assert (subscription.user_id, subscription.is_canceled) == (receipt.pseudonym_id, True)


def test_when_telegram_does_not_cancel_the_subscription_nothing_is_erased_and_the_page_says_so(person, eraser, bot_api):
    SubscriptionFactory(user=person)
    bot_api.refuse_subscription_edits(person.pk)
    response = eraser.post(_erase_url(person), {"reason": "asked by email"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Telegram did not cancel the subscription: Subscription_not_found. Nothing was erased. Try again." in page
    assert "asked by email" in page, "the reason stays in the form for the next try"
    assert len(bot_api.calls_to("editUserStarSubscription")) == 1
    assert TelegramUser.objects.filter(pk=person.pk).exists() and not ErasureReceipt.objects.exists()
    assert not Subscription.objects.get(user=person).is_canceled


@pytest.mark.parametrize(
    "subscription",
    [None, {"is_canceled": True}, {"expires_at": timezone.now() - timedelta(days=2)}],
    ids=["none", "canceled", "lapsed"],
)
def test_without_a_renewing_subscription_telegram_is_not_asked(person, eraser, bot_api, subscription):
    if subscription is not None:
        SubscriptionFactory(user=person, **subscription)
    assert "Their subscription" not in eraser.get(_erase_url(person)).content.decode()
    eraser.post(_erase_url(person), {"reason": "asked by email"})

    assert not bot_api.calls_to("editUserStarSubscription")
    assert ErasureReceipt.objects.exists() and not TelegramUser.objects.filter(pk=person.pk).exists()
