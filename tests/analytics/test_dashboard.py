"""The staff dashboard: the range it opens on, the users' names it links, and the whole page in a real headless
Chromium at a laptop's 1024 px and a desktop's 1400 px (screenshots go to tests/artefacts/)."""

import math
import os
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from apps.analytics import selectors
from apps.analytics.models import AnalyticsEvent
from apps.billing.revenue import GROUPINGS, revenue_rows
from apps.core.dates import day_start
from apps.users.models import TelegramUser
from tests.factories import TelegramUserFactory

PASSWORD = "a-long-test-password"


def _events_on(*days_ago: int) -> None:
    now = timezone.now()
    AnalyticsEvent.objects.bulk_create(
        AnalyticsEvent(event_name="bot_started", occurred_at=now - timedelta(days=ago)) for ago in days_ago
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("days_ago", "first_shown", "last_shown"),
    [
        ((), 29, 0),  # nothing yet: the last 30 days
        ((0, 3, 60), 29, 0),  # a long history: its last 30 days
        ((3, 10), 10, 3),  # a short one: from its first day
        ((100, 130), 129, 100),  # an old one: where it is, not the empty last 30 days
    ],
)
def test_the_dashboard_opens_on_the_days_that_have_events(admin_client, days_ago, first_shown, last_shown):
    _events_on(*days_ago)
    today = timezone.localdate()

    page = admin_client.get(reverse("admin:dashboard"))

    start, end = today - timedelta(days=first_shown), today - timedelta(days=last_shown)
    assert selectors.recent_event_days() == (start, end)
    assert f'name="start" value="{start:%Y-%m-%d}"' in page.content.decode()
    assert f'name="end" value="{end:%Y-%m-%d}"' in page.content.decode()
    assert f'data-today="{today:%Y-%m-%d}"' in page.content.decode()


@pytest.mark.django_db
def test_staff_who_may_view_users_get_their_names_and_admin_pages(admin_client):
    TelegramUserFactory(id=5, username="anna")
    TelegramUserFactory(id=6, first_name="Boris", last_name="Petrov")
    TelegramUserFactory(id=7)
    url = reverse("admin:dashboard_users")

    # Ids the page never sends (words, huge numbers) are left out, not a 500; an unknown id is absent.
    answer = admin_client.get(url, {"id": ["5", "6", "7", "8", "x", "-", "9" * 40]}).json()

    change = "admin:users_telegramuser_change"
    assert answer == {
        "5": {"name": "@anna", "url": reverse(change, args=[5])},
        "6": {"name": "Boris Petrov (6)", "url": reverse(change, args=[6])},
        "7": {"name": "user (7)", "url": reverse(change, args=[7])},
    }
    assert 'data-user-names="' in admin_client.get(reverse("admin:dashboard")).content.decode()


@pytest.mark.django_db
def test_staff_who_may_not_view_users_see_ids_only(client):
    TelegramUserFactory(id=5, username="anna")
    staff = User.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_llmrequest"))
    client.force_login(staff)

    assert client.get(reverse("admin:dashboard_users"), {"id": "5"}).status_code == 403
    assert "data-user-names" not in client.get(reverse("admin:dashboard")).content.decode()


def _top_by_cost(start: date, end: date) -> list[dict]:
    rows = revenue_rows(day_start(start), day_start(end + timedelta(days=1)), GROUPINGS["user"])
    paid = [row for row in rows if row["group"] is not None and row["llm_cost"] > 0]
    return sorted(paid, key=lambda row: -row["llm_cost"])[:10]


@pytest.mark.parametrize("width", [1024, 1400])
def test_staff_see_the_demo_on_first_open_today_marked_users_named_and_retention(
    browser, screenshot, live_server, reference_data, width
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    call_command("seed_demo", "--users", "40", stdout=open(os.devnull, "w"))
    User.objects.create_superuser("staff", password=PASSWORD)
    browser.set_window_size(width, 1000)
    browser.get(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
    browser.find_element(By.NAME, "username").send_keys("staff")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    def rendered(what: str, script: str) -> None:
        # Read through a script, not an element: the login redirect replaces the page meanwhile.
        WebDriverWait(browser, 30).until(lambda driver: driver.execute_script(script), message=f"{what} never shown")

    rendered("the dashboard", "return document.body && document.body.dataset.dashboard === 'rendered'")
    assert browser.execute_script("return document.getElementById('dashboard-status').textContent") == ""

    # The demo's days, today the last of them and marked as not over.
    today = timezone.localdate()
    start, end = selectors.recent_event_days()
    assert end == today and (today - start).days <= 29
    assert browser.find_element(By.NAME, "start").get_attribute("value") == start.isoformat()
    points = browser.execute_script(
        "return ['chart-users', 'chart-messages', 'chart-tokens', 'chart-margin', 'chart-funnel', 'chart-latency',"
        " 'chart-stages'].map((id) => Chart.getChart(id).data.datasets[0].data.length)"
    )
    assert all(count > 0 for count in points), points
    for chart in ["chart-users", "chart-messages", "chart-tokens", "chart-margin"]:
        labels = browser.execute_script(f"return Chart.getChart('{chart}').data.labels")
        assert labels[-1] == "today (so far)" and labels[0] == start.isoformat(), (chart, labels)
    assert browser.find_element(By.ID, "partial-note").is_displayed()
    funnel = browser.execute_script("return Chart.getChart('chart-funnel').data.datasets[0].data")
    assert funnel[0] >= funnel[1] >= funnel[2] > 0

    # The period's money, summed in the browser from the API's day rows, is the API's to the cent.
    days = revenue_rows(day_start(start), day_start(today + timedelta(days=1)), GROUPINGS["day"])
    totals = browser.find_element(By.ID, "money-total").text
    assert totals.startswith("In this period (today so far): ")
    for label, name in [("margin", "margin"), ("earned", "earned_revenue"), ("cash", "cash_revenue")]:
        amount = sum((row[name] for row in days), Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert f"{label} {'-' if amount < 0 else ''}${abs(amount)}" in totals, (label, totals)

    # Top by cost: users by name, each a link to their admin page.
    top = _top_by_cost(start, end)
    links = browser.find_elements(By.CSS_SELECTOR, "#top-users-table tbody td:first-child a")
    assert [link.text for link in links] == [str(TelegramUser.objects.get(pk=row["group"])) for row in top]
    assert links[0].get_attribute("href").endswith(reverse("admin:users_telegramuser_change", args=[top[0]["group"]]))

    # Retention: a row per cohort, a cell per day since, the share in it and the count in words; today's hatched.
    cohorts = selectors.retention(start, end, "day")
    shown = browser.execute_script(
        "return [...document.querySelectorAll('#retention-table tbody tr')].map((row) =>"
        " [...row.querySelectorAll('td.share')].map((td) => [td.textContent, td.className,"
        " getComputedStyle(td).backgroundImage, getComputedStyle(td).backgroundColor]))"
    )
    assert len(shown) == len(cohorts) > 0
    for cohort, cells in zip(cohorts, shown, strict=True):
        assert len(cells) == len(cohort["rates"])
        for index, (text, classes, image, colour) in enumerate(cells):
            partial = index == len(cells) - 1
            so_far = " so far" if partial else ""
            share = math.floor(cohort["rates"][index] * 100 + 0.5)
            assert text == f"{share}%, {cohort['returned'][index]} of {cohort['size']}{so_far}"
            assert ("partial" in classes.split()) is partial and ("gradient" in image) is partial
            assert colour not in ("rgba(0, 0, 0, 0)", "transparent")
    colours = {colour for cells in shown for *_, colour in cells}
    assert len(colours) > 2, "the colour follows the share"

    # The margin table renders, and by user it names them too.
    rendered("the margin table", "return document.querySelector('#margin-by-table tbody tr') !== null")
    assert browser.find_element(By.CSS_SELECTOR, "#margin-by-table tfoot td").text == "Whole period"
    screenshot(f"dashboard-{width}")
    Select(browser.find_element(By.ID, "margin-by-select")).select_by_value("user")
    rendered("margin by user", "return document.getElementById('margin-by-table').dataset.groupBy === 'user'")
    assert browser.find_elements(By.CSS_SELECTOR, "#margin-by-table tbody td:first-child a")
    losses = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#margin-by-table td.loss")]
    assert "$0.00" not in losses, "red only where the loss shows"
    Select(browser.find_element(By.ID, "retention-select")).select_by_value("week")
    rendered("retention by week", "return /week/.test(document.querySelector('#retention-table tbody th').textContent)")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#retention-table tbody tr")) == len(
        selectors.retention(start, end, "week")
    )
    screenshot(f"dashboard-by-week-{width}")

    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
