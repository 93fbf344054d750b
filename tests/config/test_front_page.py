"""The admin's front page: the figures an operator checks first, each a link to the list that shows what it
counts, red only when something needs attention; no dead ends ("View site", the favicon); and, in a real
browser at laptop widths, labels that read on one line."""

import re
import urllib.request
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from apps.analytics.database import database_budget, database_usage
from apps.billing.models import PricePlan
from apps.billing.revenue import user_revenue
from apps.billing.services import billing_grant_trial
from apps.bot.models import InboxStatus, InboxUpdate
from apps.bot.overview import Figure
from apps.broadcast.models import BroadcastStatus
from apps.users.models import TelegramUser
from tests.billing.test_margin import answer, buy, moment
from tests.factories import BroadcastFactory
from tests.helpers import admin_login

pytestmark = pytest.mark.django_db

NOW = timezone.now()
TODAY = timezone.localdate()


def figures(client: Client) -> dict[str, Figure]:
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return {figure.label: figure for section in response.context["overview"] for figure in section.figures}


def listed(client: Client, figure: Figure) -> list:
    """What the figure's link lists: the changelist's rows, all of them."""
    response = client.get(f"{figure.url}{'&' if '?' in figure.url else '?'}all=")
    assert response.status_code == 200, figure
    return list(response.context["cl"].result_list)


@pytest.fixture
def users() -> None:
    """Registered and seen today, three days ago, and three weeks ago (that one has blocked the bot); and the
    pseudonym of a user erased today, which is no one."""
    for user_id, days_ago, active in [(1, 0, True), (2, 0, True), (3, 3, True), (4, 21, False)]:
        at = NOW - timedelta(days=days_ago)
        TelegramUser.objects.create(id=user_id, registration_date=at, last_seen_date=at, is_active=active)
    TelegramUser.objects.create(id=5, erased_at=NOW)


def test_user_figures_count_what_their_lists_show(admin_client, users):
    shown = figures(admin_client)
    expected = {"Telegram users": 4, "reachable": 3, "new today": 2, "active today": 2, "active in 7 days": 3}
    for label, count in expected.items():
        assert shown[label].value == str(count), label
        assert len(listed(admin_client, shown[label])) == count, label
    assert shown["last received"].value == "never"
    page = admin_client.get(shown["active today"].url).content.decode()
    assert '<li class="selected">\n    <a href="?last_seen_date__gte=' in page.replace("&amp;", "&"), "Django's Today"


def test_counts_are_grouped_in_thousands(admin_client):
    TelegramUser.objects.bulk_create(TelegramUser(id=user_id) for user_id in range(1, 1235))
    assert figures(admin_client)["Telegram users"].value == "1,234"


@pytest.fixture
def money(settings) -> None:
    """A buyer today and a trial user two days ago, at 0.013 USD a Star."""
    settings.STARS_USD_RATE = Decimal("0.013")
    TelegramUser.objects.create(id=21)
    TelegramUser.objects.create(id=22, registration_date=NOW - timedelta(days=2))
    billing_grant_trial(user_id=22)
    buy(21, credits=100, stars=50, when=moment(TODAY, 0.5))  # $0.65
    answer(21, credits="40", cost="0.0100", when=moment(TODAY, 0.6))  # earns 40 × $0.0065 = $0.26
    answer(22, credits="10", cost="0.0200", when=moment(TODAY - timedelta(days=2), 0.5))  # trial: earns nothing


def test_money_figures_on_both_legs(admin_client, money):
    shown = figures(admin_client)
    assert shown["revenue today"].value == shown["revenue, 30 days"].value == "$0.65"
    assert shown["margin today"].value == "$0.25"  # $0.26 earned − $0.01 cost
    assert shown["margin, 30 days"].value == "$0.23"  # and the trial user's $0.02
    assert shown["LLM spend today"].value == "$0.01"
    assert shown["LLM spend today"].note == "7-day average $0.0029"  # $0.02 / 7
    assert len(listed(admin_client, shown["revenue today"])) == 1
    assert len(listed(admin_client, shown["LLM spend today"])) == 1


def test_margin_opens_the_users_most_profitable_first(admin_client, money):
    TelegramUser.objects.create(id=23)
    shown = figures(admin_client)
    assert shown["margin today"].url == shown["margin, 30 days"].url
    order = [user.pk for user in listed(admin_client, shown["margin today"])]
    assert order == [21, 23, 22]
    assert [user_revenue(user_id).margin for user_id in order] == [Decimal("0.25"), 0, Decimal("-0.02")]


@pytest.fixture
def trouble(settings) -> None:
    """Everything the front page marks red: failed updates, a stalled broadcast, the database near its budget,
    a plan below cost. Times are taken now, not at import: the page says how long ago, and a long run
    would make the last update "2 minutes ago"."""
    now = timezone.now()
    for update_id, status in enumerate([InboxStatus.FAILED, InboxStatus.FAILED, InboxStatus.PENDING], start=1):
        InboxUpdate.objects.create(update_id=update_id, status=status, received_at=now - timedelta(minutes=update_id))
    settings.BROADCAST_STALLED_AFTER = 60
    BroadcastFactory(status=BroadcastStatus.RUNNING, runner="worker-1", heartbeat_at=now - timedelta(minutes=5))
    PricePlan.objects.create(model="claude-haiku-4-5", markup=Decimal("0.8"))
    settings.DATABASE_BUDGET_BYTES = database_usage()["used"] * 100 // 85


RED = {"failed", "broadcasts sending", "database", "plans below cost"}


def test_red_only_where_something_needs_attention(admin_client, reference_data, settings):
    settings.DATABASE_BUDGET_BYTES = 1024**3
    BroadcastFactory(status=BroadcastStatus.RUNNING, runner="worker-1", heartbeat_at=timezone.now())
    calm = admin_client.get(reverse("admin:index"))
    assert not [figure for section in calm.context["overview"] for figure in section.figures if figure.alert]
    assert "botdesk-alert" not in calm.content.decode()


def test_each_alarm_is_red_and_says_why(admin_client, reference_data, trouble):
    shown = figures(admin_client)
    assert {label for label, figure in shown.items() if figure.alert} == RED
    assert shown["failed"].value == "2" and shown["waiting"].value == "1"
    assert shown["last received"].value == "1\N{NO-BREAK SPACE}minute ago"
    assert [update.pk for update in listed(admin_client, shown["failed"])] == [1, 2]
    assert "1 stalled" in shown["broadcasts sending"].alert
    assert "over 80\N{NO-BREAK SPACE}%" in shown["database"].alert
    assert shown["database"].note.startswith("85\N{NO-BREAK SPACE}% of ")
    assert shown["plans below cost"].value == "1"
    page = admin_client.get(reverse("admin:index")).content.decode()
    tiles = re.findall(
        r'<a class="botdesk-figure botdesk-alert" href="[^"]+"\s+title="Needs attention: ([^"]+)">', page
    )
    assert len(tiles) == len(RED)
    for figure in (shown[label] for label in RED):
        assert f'<span class="botdesk-note botdesk-why">{figure.alert}</span>' in page, "the reason in words too"


def test_every_figure_links_to_a_page_that_opens(admin_client, reference_data, trouble, money):
    for figure in figures(admin_client).values():
        assert admin_client.get(figure.url).status_code == 200, figure


def test_staff_see_only_the_figures_whose_lists_they_may_open(client, users):
    staff = User.objects.create_user("support", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_telegramuser"))
    client.force_login(staff)
    shown = figures(client)
    assert {"Telegram users", "reachable", "margin today"} <= set(shown)
    assert not {"revenue today", "LLM spend today", "failed", "broadcasts sending", "plans below cost"} & set(shown)


def test_the_front_page_takes_a_bounded_number_of_queries(
    admin_client, reference_data, trouble, money, django_assert_max_num_queries
):
    """The session and the user, one query per figure's source (revenue: five, the price table: four), and the
    admin's recent actions: seventeen, whatever the data."""
    admin_client.get(reverse("admin:index"))
    with django_assert_max_num_queries(17):
        admin_client.get(reverse("admin:index"))


def test_database_usage_is_what_the_size_page_counts(settings):
    TelegramUser.objects.bulk_create(TelegramUser(id=user_id) for user_id in range(1, 500))
    usage, budget = database_usage(), database_budget()
    assert usage == {key: budget[key] for key in ("used", "budget", "percent")}


# --- No dead ends -----------------------------------------------------------------------------------------
def test_view_site_opens_the_dashboard(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    site = re.search(r'<a href="([^"]+)">View site</a>', page).group(1)
    assert site == reverse("admin:dashboard")
    assert admin_client.get(site).status_code == 200
    assert admin_client.get("/", follow=True).redirect_chain[-1][0] == reverse("admin:dashboard")


def test_the_favicon_is_linked_and_served(admin_client, live_server):
    page = admin_client.get(reverse("admin:index")).content.decode()
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page).group(1)
    for path in (icon, "/favicon.ico"):
        with urllib.request.urlopen(live_server.url + path) as response:  # noqa: S310 (the test's own server)
            assert response.status == 200 and response.headers["Content-Type"] == "image/svg+xml", path


def test_the_favicon_is_served_in_production(tmp_path):
    """collectstatic with the manifest, served by WhiteNoise: /favicon.ico leads to the hashed file."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    from django.conf import settings

    middleware = [settings.MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *settings.MIDDLEWARE[1:]]
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages, MIDDLEWARE=middleware):
        call_command("collectstatic", interactive=False, verbosity=0, stdout=StringIO())
        response = Client().get("/favicon.ico", follow=True)
        assert response.redirect_chain[-1][0].startswith("/static/bot/favicon.")
        assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"


# --- In a browser -----------------------------------------------------------------------------------------
# Every label's height against its line height, and its right edge against its tile's: one line, not cut off.
LABELS_THAT_DO_NOT_READ = """
return [...document.querySelectorAll("#botdesk-overview .botdesk-label")].filter((label) => {
  const style = getComputedStyle(label);
  const line = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize);
  const box = label.getBoundingClientRect(), tile = label.closest(".botdesk-figure").getBoundingClientRect();
  return box.height > 1.5 * line || box.right > tile.right;
}).map((label) => label.textContent);
"""


def test_the_summary_reads_at_laptop_widths(browser, screenshot, live_server, admin_user, reference_data, trouble):
    from selenium.webdriver.common.by import By

    admin_login(browser, live_server.url, "/admin/", username="admin", password="password")
    for width in (1024, 1400, 1920):
        browser.set_window_size(width, 900)
        browser.get(f"{live_server.url}/admin/")
        labels = browser.find_elements(By.CSS_SELECTOR, "#botdesk-overview .botdesk-label")
        assert len(labels) == 18, width
        assert browser.execute_script(LABELS_THAT_DO_NOT_READ) == [], width
        for label in labels:
            tile = label.find_element(By.XPATH, "./ancestor::a[1]")
            assert tile.get_attribute("href").startswith(live_server.url + "/admin/"), label.text
        red = browser.find_elements(By.CSS_SELECTOR, "#botdesk-overview .botdesk-alert .botdesk-label")
        assert {label.text for label in red} == RED, width
        screenshot(f"front-page-{width}")
