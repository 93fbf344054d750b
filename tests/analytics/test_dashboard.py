"""The staff dashboard in a real headless Chromium: logs in, opens it, checks the charts rendered."""

import os
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from apps.billing.revenue import GROUPINGS, revenue_rows
from apps.core.dates import day_start


def test_staff_sees_every_chart_drawn_from_the_api(browser, live_server, reference_data):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    call_command("seed_demo", "--users", "40", stdout=open(os.devnull, "w"))
    User.objects.create_superuser("staff", password="a-long-test-password")

    browser.get(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
    browser.find_element(By.NAME, "username").send_keys("staff")
    browser.find_element(By.NAME, "password").send_keys("a-long-test-password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    # Read through a script, not an element: the login redirect replaces the page meanwhile.
    WebDriverWait(browser, 30).until(
        lambda driver: driver.execute_script("return document.body && document.body.dataset.chartsRendered") == "8"
    )
    points = browser.execute_script(
        "return ['chart-users', 'chart-messages', 'chart-tokens', 'chart-margin', 'chart-funnel', 'chart-latency',"
        " 'chart-top-users', 'chart-stages'].map((id) => Chart.getChart(id).data.datasets[0].data.length)"
    )
    assert all(count > 0 for count in points), points
    assert browser.execute_script("return document.getElementById('dashboard-status').textContent") == ""
    funnel = browser.execute_script("return Chart.getChart('chart-funnel').data.datasets[0].data")
    assert funnel[0] >= funnel[1] >= funnel[2] > 0
    # The period's money, summed in the browser from the API's day rows, is the API's to the cent.
    today = timezone.localdate()
    days = revenue_rows(day_start(today - timedelta(days=29)), day_start(today + timedelta(days=1)), GROUPINGS["day"])
    totals = browser.execute_script("return document.getElementById('money-total').textContent")
    for label, name in [("margin", "margin"), ("earned", "earned_revenue"), ("cash", "cash_revenue")]:
        amount = sum((row[name] for row in days), Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert f"{label} {'-' if amount < 0 else ''}${abs(amount)}" in totals, (label, totals)
