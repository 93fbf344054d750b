"""A user's admin page as one page per person: the header of who they are and what they are worth, the latest of
each of their records with a link to all of them (a list of exactly theirs), the actions staff take on them
(adjust, grant, send a message as the bot), in a bounded number of queries however much they have."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.analytics.models import AnalyticsEvent
from apps.billing.models import Operation, OperationType, Payment
from apps.broadcast.models import BroadcastAction, BroadcastDelivery, DeliveryStatus
from apps.journey.models import JourneyProgress
from apps.llm.models import LLMRequest
from apps.sessions.models import UserSession
from apps.users.models import TelegramUser
from tests.factories import (
    BroadcastFactory,
    LLMRequestFactory,
    PaymentFactory,
    UserSessionFactory,
    UserWithBalanceFactory,
)
from tests.helpers import admin_login

pytestmark = pytest.mark.django_db(transaction=True)

SAID = "Where do I start with the garden?"
ANSWERED = "With the soil: what grows there now?"
# Each section's model, its title on the page, and how many of the person's rows the planting makes.
SECTIONS = [
    (UserSession, "Sessions", 2),
    (Payment, "Payments", 1),
    (Operation, "Operations", 2),  # the trial credit and the payment
    (LLMRequest, "LLM requests", 2),
    (AnalyticsEvent, "Events", 1),
    (JourneyProgress, "Journey progress", 1),
    (BroadcastDelivery, "Broadcasts received", 1),
]


def plant(user: TelegramUser, *, sessions: int = 2) -> None:
    """A person who talked, paid, was answered, tracked, moved along the journey and got a broadcast."""
    for _ in range(sessions - 1):
        UserSessionFactory(user=user, is_active=False)
    UserSessionFactory(
        user=user, conversation_history=[{"role": "user", "content": SAID}, {"role": "assistant", "content": ANSWERED}]
    )
    PaymentFactory(user=user, package__title="Starter", package__credits=100, package__stars=50)
    LLMRequestFactory(user=user)
    LLMRequestFactory(user=user, model="a-provider/a-very-long-model-name-with-a-date-2026-01-01", latency_ms=12345)
    AnalyticsEvent.objects.create(user=user, event_name="message_sent", properties={"length": 33})
    JourneyProgress.objects.create(user=user, current_stage="call_to_adventure", completed_stages=["ordinary_world"])
    broadcast = BroadcastFactory(title="Spring news")
    BroadcastDelivery.objects.create(broadcast=broadcast, user=user, status=DeliveryStatus.SENT)


@pytest.fixture
def person() -> TelegramUser:
    person = UserWithBalanceFactory(
        first_name="Olga",
        username="olga_k",
        language_code="ru",
        source="ads",
        last_journey_stage="call_to_adventure",
        metaphysical_profile={"element": "earth", "path": "gardener"},
        streams=["growth"],
        markers={"tier": "gold"},
        credits=5,
    )
    plant(person)
    plant(UserWithBalanceFactory(first_name="Someone else"))  # whose rows must not show
    return person


def _page(client: Client, user: TelegramUser, query: str = "") -> str:
    response = client.get(reverse("admin:users_telegramuser_change", args=[user.pk]) + query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_shows_each_section_and_links_to_exactly_the_persons_rows(admin_client, person):
    page = _page(admin_client, person)
    for model, title, count in SECTIONS:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + f"?user__id__exact={person.pk}"
        assert f'<a href="{url}">all {count} →</a>' in page.replace("&amp;", "&"), title
        listed = admin_client.get(url)
        assert listed.status_code == 200, title
        mine = set(model.objects.filter(user=person).values_list("pk", flat=True))
        assert len(mine) == count and {row.pk for row in listed.context["cl"].result_list} == mine, title
    # The conversation reads as a chat; the money as labelled figures.
    assert SAID in page and ANSWERED in page
    for label, value in [("balance", "105 credits"), ("paid", "50 ⭐"), ("stage", "The call to adventure")]:
        assert f'<span class="label">{label}</span><span class="value">{value}' in page
    assert "Starter" in page and "12,345\N{NO-BREAK SPACE}ms" in page and "Spring news" in page


def test_the_page_takes_the_same_queries_however_much_the_person_has(
    admin_client, person, django_assert_max_num_queries
):
    """A count and the latest rows per section, never a query per row."""
    some, many = UserWithBalanceFactory(), UserWithBalanceFactory()
    plant(some, sessions=12)
    plant(many, sessions=40)
    _page(admin_client, some)  # the session, permissions and content types are read once per client
    counted = []
    for user in (some, many):
        with CaptureQueriesContext(connection) as queries:
            _page(admin_client, user)
        counted.append(len(queries))
    assert counted[0] == counted[1]
    with django_assert_max_num_queries(30):
        _page(admin_client, many)


def test_the_profile_reads_as_text_until_staff_ask_to_edit_it(admin_client, person):
    page = _page(admin_client, person)
    assert "element: earth<br>path: gardener" in page and "streams: growth<br>tier: gold" in page
    assert 'name="metaphysical_profile"' not in page and 'name="markers"' not in page
    assert '?edit=1#profile">Edit the profile</a>' in page
    editing = _page(admin_client, person, "?edit=1")
    assert 'name="metaphysical_profile"' in editing and 'name="markers"' in editing
    # Saving the page as it reads leaves the profile alone.
    form = {"is_active": "on", "staff_account": ""}
    response = admin_client.post(reverse("admin:users_telegramuser_change", args=[person.pk]), form)
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.metaphysical_profile == {"element": "earth", "path": "gardener"} and person.markers == {
        "tier": "gold"
    }


@pytest.mark.parametrize(
    ("action", "amount", "type_"), [("adjust", "-2.5", OperationType.ADJUSTMENT), ("grant", "20", OperationType.BONUS)]
)
def test_a_ledger_action_needs_a_reason_and_writes_one_operation_with_the_staff_member(
    admin_client, admin_user, person, action, amount, type_
):
    url = reverse("admin:users_telegramuser_ledger", args=[person.pk, action])
    assert f'href="{url}"' in _page(admin_client, person)
    before = Operation.objects.count()
    refused = admin_client.post(url, {"amount": amount, "reason": ""})
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    assert Operation.objects.count() == before

    done = admin_client.post(url, {"amount": amount, "reason": "ticket 42"})
    assert done.status_code == 302 and done["Location"] == reverse("admin:users_telegramuser_change", args=[person.pk])
    operation = Operation.objects.get(pk__gt=Operation.objects.order_by("-pk")[1].pk)
    assert Operation.objects.count() == before + 1
    assert (operation.user_id, operation.type, operation.amount) == (person.pk, type_, Decimal(amount))
    assert (operation.reason, operation.staff) == ("ticket 42", admin_user)


def test_credits_are_granted_not_taken(admin_client, person):
    url = reverse("admin:users_telegramuser_ledger", args=[person.pk, "grant"])
    before = Operation.objects.count()
    assert admin_client.post(url, {"amount": "-5", "reason": "oops"}).status_code == 200
    assert Operation.objects.count() == before


def test_a_message_goes_through_the_broadcast_sender_and_is_audited(admin_client, admin_user, person, bot_api):
    url = reverse("admin:users_telegramuser_message", args=[person.pk])
    assert f'href="{url}"' in _page(admin_client, person)
    assert admin_client.post(url, {"text": "<b>Hello</b>, Olga"}).status_code == 302

    [call] = bot_api.calls_to("sendMessage")
    assert (int(call.params["chat_id"]), call.params["text"]) == (person.pk, "<b>Hello</b>, Olga")
    delivery = BroadcastDelivery.objects.get(user=person, broadcast__title="Message to one user")
    assert delivery.status == DeliveryStatus.SENT and delivery.broadcast.created_by == admin_user
    started = BroadcastAction.objects.get(broadcast=delivery.broadcast, action="started")
    assert started.staff == admin_user
    assert "Message to one user" in _page(admin_client, person)  # among the broadcasts received


def test_invalid_html_is_refused_and_nothing_is_sent(admin_client, person, bot_api):
    url = reverse("admin:users_telegramuser_message", args=[person.pk])
    assert admin_client.post(url, {"text": "<script>x</script>"}).status_code == 200
    assert not bot_api.calls_to("sendMessage") and not BroadcastDelivery.objects.filter(user=person).exclude(
        broadcast__title="Spring news"
    )


def test_staff_without_the_permissions_see_no_actions_and_are_refused(person):
    staff = User.objects.create_user("viewer", password="x", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_telegramuser", "view_payment"]))
    client = Client()
    client.force_login(staff)
    page = _page(client, person)
    assert "Adjust balance…" not in page and "Send a message…" not in page
    assert '<div class="module user-records" id="payments">' in page and 'id="operations"' not in page
    assert client.post(reverse("admin:users_telegramuser_ledger", args=[person.pk, "grant"])).status_code == 403
    assert client.post(reverse("admin:users_telegramuser_message", args=[person.pk])).status_code == 403


def test_a_pseudonym_has_no_actions(admin_client, person):
    person.erased_at = person.registration_date
    person.save(update_fields=["erased_at"])
    page = _page(admin_client, person)
    assert "Adjust balance…" not in page and "Send a message…" not in page and 'name="_save"' not in page
    assert admin_client.post(reverse("admin:users_telegramuser_message", args=[person.pk])).status_code == 404


@pytest.mark.parametrize("width", [1024, 1400])
def test_the_page_in_a_browser_shows_the_records_without_scrolling_sideways(
    browser, screenshot, live_server, person, width
):
    from selenium.webdriver.common.by import By

    User.objects.create_superuser("operator", password="a-long-test-password")
    browser.set_window_size(width, 1000)
    page = reverse("admin:users_telegramuser_change", args=[person.pk])
    admin_login(browser, live_server.url, page, username="operator", password="a-long-test-password")

    header = browser.find_element(By.ID, "user-header").text
    assert "Olga" in header and "105 credits" in header and "MARGIN" in header.upper()
    for section in ["sessions", "payments", "operations", "llm-requests"]:
        assert browser.find_element(By.ID, section).is_displayed()
    browser.find_element(By.CSS_SELECTOR, "#sessions details summary").click()
    assert SAID in browser.find_element(By.ID, "sessions").text
    assert browser.execute_script("return document.scrollingElement.scrollWidth <= window.innerWidth")
    screenshot(f"user-page-{width}")
