"""The job pages as an operator sees them in a browser, at the admin's two usual widths."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from apps.bot.job_runs import job_run_finish, job_run_start
from tests.helpers import admin_login

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = "Analytics: purge raw events after ANALYTICS_RETENTION_DAYS"
INBOX = "Inbox: enqueue unprocessed updates"


@pytest.mark.parametrize("width", [1024, 1400])
def test_a_job_reads_its_schedule_in_words_and_its_runs_how_they_ended(browser, screenshot, live_server, width):
    from selenium.webdriver.common.by import By

    User.objects.create_superuser("operator", password="a-long-test-password")
    job_run_start(task="apps.analytics.tasks.purge_events", task_id="purged")
    job_run_finish(task="apps.analytics.tasks.purge_events", task_id="purged", ok=True, summary="3 event(s) purged")
    job_run_start(task="apps.bot.tasks.sweep_inbox", task_id="sweeping")
    browser.set_window_size(width, 900)
    admin_login(
        browser,
        live_server.url,
        reverse("admin:bot_jobrun_changelist"),
        username="operator",
        password="a-long-test-password",
    )
    outcomes = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "td.field-outcome")]
    assert sorted(outcomes) == ["ok", "running"]
    screenshot(f"job-runs-{width}")

    def help_under_the_crontab(job: str) -> str:
        pk = PeriodicTask.objects.get(name=job).pk
        browser.get(live_server.url + reverse("admin:django_celery_beat_periodictask_change", args=[pk]))
        return browser.find_element(By.CSS_SELECTOR, ".field-crontab .help").text

    assert "Translation: At 03:30" in help_under_the_crontab(EVENTS)
    inbox = help_under_the_crontab(INBOX)  # on an interval: no crontab
    assert "undefined" not in inbox and "Crontab Schedule to run the task on" in inbox
    assert browser.find_element(By.CSS_SELECTOR, ".field-task .readonly").text == "apps.bot.tasks.sweep_inbox"
    screenshot(f"job-change-{width}")
