"""The admin's job list ("Periodic tasks"): what each job does, its schedule in words, and how its last run went."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from apps.analytics.models import AnalyticsEvent
from apps.analytics.tasks import purge_events
from apps.bot.job_runs import job_run_finish, job_run_start
from apps.bot.models import JobRun
from apps.bot.tasks import rotate_profiles
from config.jobs_admin import crontab_in_words, duration_in_words, interval_in_words, run_in_words
from config.schedule import SCHEDULE

pytestmark = pytest.mark.django_db

JOBS = reverse("admin:django_celery_beat_periodictask_changelist")
ROTATION = "Users: rotate psychological profiles (daily)"
EVENTS = "Analytics: purge raw events after ANALYTICS_RETENTION_DAYS"


def _row(page: str, name: str) -> str:
    """The text of the list's row of the job named `name`, tags dropped."""
    rows = [row for row in re.findall(r"<tr.*?</tr>", page, re.S) if f">{escape(name)}<div" in row]
    assert len(rows) == 1, name
    return " ".join(re.sub(r"<[^>]+>", " ", rows[0]).split())


def test_the_job_list_says_what_each_job_does_when_and_how_it_last_went(admin_client, monkeypatch):
    AnalyticsEvent.objects.create(event_name="bot_started", occurred_at=timezone.now() - timedelta(days=400))
    purge_events.delay()

    def llm_down() -> None:
        raise ConnectionError("the LLM provider refused the connection\nTraceback (most recent call last): ...")

    monkeypatch.setattr("apps.bot.tasks.profiles.rotate_profiles", llm_down)
    rotate_profiles.apply()
    sent_by_beat = timezone.now() - timedelta(minutes=2, seconds=5)
    PeriodicTask.objects.filter(task="apps.billing.tasks.release_stale_reserves").update(last_run_at=sent_by_beat)

    page = admin_client.get(JOBS).content.decode()
    descriptions = {job.name: job.description for job in SCHEDULE}
    rotation = _row(page, ROTATION)
    assert escape(descriptions[ROTATION]) in rotation
    assert "every day at 03:00 (UTC)" in rotation
    assert "failed" in rotation and "ConnectionError: the LLM provider refused the connection" in rotation
    assert "Traceback" not in rotation, "the error's first line only"

    events = _row(page, EVENTS)
    assert "every day at 03:30 (UTC)" in events and "ok" in events and "1 event(s) purged" in events
    assert "Sundays at 04:00 (UTC)" in _row(page, "Users: archive old activity of busy users (weekly)")
    broadcasts = _row(page, "Broadcasts: start scheduled, resume stalled (every 30 s)")
    assert "every 30 seconds" in broadcasts and "not run yet" in broadcasts
    sent = _row(page, "Billing: release holds of answers that never settled")
    assert "every 5 minutes" in sent and "no run recorded; beat last sent it" in sent and "2 minutes ago" in sent
    assert "every minute" in _row(page, "Inbox: enqueue unprocessed updates")


def test_the_job_list_reads_each_jobs_last_run_in_one_query(admin_client):
    for n, job in enumerate(SCHEDULE):
        job_run_start(task=job.task, task_id=f"run-{n}")
        job_run_finish(task=job.task, task_id=f"run-{n}", ok=True, summary="done and recorded")
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(JOBS).content.decode()
    assert page.count("done and recorded") == len(SCHEDULE)
    assert sum(JobRun._meta.db_table in query["sql"] for query in queries.captured_queries) == 1


def test_staffs_own_description_shows_as_a_note_under_the_jobs(admin_client):
    PeriodicTask.objects.filter(name=ROTATION).update(description="paused while the new model is tried")
    rotation = _row(admin_client.get(JOBS).content.decode(), ROTATION)
    assert "Note: paused while the new model is tried" in rotation


def test_a_jobs_page_and_its_runs(admin_client):
    AnalyticsEvent.objects.create(event_name="bot_started", occurred_at=timezone.now() - timedelta(days=400))
    purge_events.delay()
    job = PeriodicTask.objects.get(name=EVENTS)
    page = admin_client.get(reverse("admin:django_celery_beat_periodictask_change", args=[job.pk])).content.decode()
    assert "Counts finished days into daily totals" in page and "1 event(s) purged" in page

    runs_url = re.search(r'href="([^"]*jobrun/\?task=[^"]*)"', page)[1].replace("&amp;", "&")
    runs = admin_client.get(runs_url).content.decode()
    assert "1 event(s) purged" in runs and EVENTS in runs


@pytest.mark.parametrize(
    ("every", "period", "words"),
    [
        (30, "seconds", "every 30 seconds"),
        (60, "seconds", "every minute"),
        (90, "seconds", "every 90 seconds"),
        (300, "seconds", "every 5 minutes"),
        (3600, "seconds", "every hour"),
        (12, "hours", "every 12 hours"),
        (86400, "seconds", "every day"),
        (604800, "seconds", "every 7 days"),
        (1, "days", "every day"),
    ],
)
def test_an_interval_in_words(every, period, words):
    assert interval_in_words(IntervalSchedule(every=every, period=period)) == words


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"hour": "3", "minute": "0"}, "every day at 03:00 (Europe/Moscow)"),
        ({"hour": "4", "minute": "0", "day_of_week": "0"}, "Sundays at 04:00 (Europe/Moscow)"),
        ({"hour": "23", "minute": "5", "day_of_week": "fri"}, "Fridays at 23:05 (Europe/Moscow)"),
        ({"hour": "9-17", "minute": "0", "day_of_week": "1-5"}, None),  # anything else: cron-descriptor's words
    ],
)
def test_a_crontab_in_words(fields, words):
    crontab = CrontabSchedule(**fields, timezone="Europe/Moscow")
    assert crontab_in_words(crontab) == (words or crontab.human_readable)


def test_a_run_without_an_end_is_running_until_its_time_limit_is_past(settings):
    now = timezone.now()
    run = JobRun(task="apps.analytics.tasks.purge_events", started_at=now - timedelta(seconds=10))
    assert "running, started" in run_in_words(run, now=now, runs_url="/runs")
    run.started_at = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    assert "no end recorded" in run_in_words(run, now=now, runs_url="/runs")


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0.021, "21 ms"), (3.25, "3.2 s"), (12.4, "12 s"), (200, "3 min 20 s"), (3900, "1 h 5 min")],
)
def test_a_runs_length_in_words(seconds, words):
    assert duration_in_words(timedelta(seconds=seconds)) == words


def test_the_job_list_filters_the_enabled_jobs(admin_client):
    """The admin's front page links to the enabled jobs; the filter says so and clears."""
    PeriodicTask.objects.filter(name=ROTATION).update(enabled=False)
    page = admin_client.get(JOBS, {"enabled__exact": "1"}).content.decode()
    assert escape(ROTATION) not in page and escape(EVENTS) in page
    assert "Clear all filters" in page


def test_the_runs_list_says_how_each_run_ended_and_filters_by_it(admin_client, settings):
    """Ok, failed, still running, and no end recorded past the time limit (a killed worker): each in words,
    and a filter for each way a run ended; a run with no end is not "Unknown"."""
    task = "apps.analytics.tasks.purge_events"
    for task_id, ok in [("ended-well", True), ("ended-badly", False)]:
        job_run_start(task=task, task_id=task_id)
        job_run_finish(task=task, task_id=task_id, ok=ok, summary=task_id)
    job_run_start(task=task, task_id="still-going")
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    JobRun.objects.create(task=task, task_id="killed", started_at=long_ago)
    runs = reverse("admin:bot_jobrun_changelist")

    def outcomes(**query: str) -> list[str]:
        page = admin_client.get(runs, query).content.decode()
        cells = re.findall(r'<td class="field-outcome">(.*?)</td>', page, re.S)
        return sorted(" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells)

    assert outcomes() == ["failed", "no end recorded", "ok", "running"]
    assert outcomes(outcome="ok") == ["ok"]
    assert outcomes(outcome="failed") == ["failed"]
    assert outcomes(outcome="unfinished") == ["no end recorded", "running"]
    assert "Unknown" not in admin_client.get(runs).content.decode()


def test_a_jobs_name_and_task_show_read_only_and_saving_the_job_keeps_them(admin_client):
    """The schedule finds a job by name and sets its task after every migrate: the change page shows both and
    saves around them."""
    job = PeriodicTask.objects.get(name=EVENTS)
    url = reverse("admin:django_celery_beat_periodictask_change", args=[job.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="regtask"' not in page and 'name="task"' not in page
    assert 'name="name"' not in page, "the name is the schedule's key: renamed, the job would be made again"
    assert job.task in page

    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    data.update(enabled="", interval=job.interval_id or "", crontab=job.crontab_id or "", kwargs="{}", args="[]")
    data.update({"headers": "{}", "description": "paused for the migration"})
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    job.refresh_from_db()
    assert (job.name, job.task, job.enabled, job.description) == (
        EVENTS,
        "apps.analytics.tasks.purge_events",
        False,
        "paused for the migration",
    )


def test_a_new_job_picks_its_task_from_the_registered_ones(admin_client):
    page = admin_client.get(reverse("admin:django_celery_beat_periodictask_add")).content.decode()
    select = re.search(r'<select name="regtask".*?</select>', page, re.S)[0]
    assert all(f'value="{job.task}"' in select for job in SCHEDULE)
