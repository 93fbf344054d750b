"""The admin's job list: django-celery-beat's "Periodic tasks" page, re-registered to say what each job does
(config/schedule.py), its schedule in words, and how its last run went (apps.bot.models.JobRun). Imported by
config.apps once autodiscover has registered django-celery-beat's own admin, which this one replaces."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django_celery_beat.admin import PeriodicTaskAdmin, PeriodicTaskForm
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from apps.bot.job_runs import job_runs_last
from apps.bot.models import JobRun
from apps.core.admin import ReadOnlyAdmin

from .schedule import SCHEDULE, WEEKDAYS

JOBS_BY_NAME = {job.name: job for job in SCHEDULE}
JOBS_BY_TASK = {job.task: job for job in SCHEDULE}
UNITS = [("day", 24 * 3600), ("hour", 3600), ("minute", 60), ("second", 1)]
# cron's ways of naming a day of the week: 0 to 7 (both Sunday), "sun", "sunday"
DAY_NAMES = {
    **{str(number): day for number, day in enumerate(WEEKDAYS)},
    "7": "sunday",
    **{day[:3]: day for day in WEEKDAYS},
    **{day: day for day in WEEKDAYS},
}


def interval_in_words(interval: IntervalSchedule) -> str:
    """In the largest unit that divides it: "every 30 seconds", "every 5 minutes", "every day"."""
    seconds = timedelta(**{interval.period: interval.every}).total_seconds()
    for unit, length in UNITS:
        if seconds >= length and seconds % length == 0:
            count = int(seconds // length)
            return f"every {unit}" if count == 1 else f"every {count:,} {unit}s"
    return f"every {interval.every:,} {interval.period}"


def crontab_in_words(crontab: CrontabSchedule) -> str:
    """A time of day every day or on one day of the week: "every day at 03:00 (Europe/Moscow)", "Sundays at
    04:00 (UTC)"; any other crontab as cron-descriptor reads it."""
    day = DAY_NAMES.get(crontab.day_of_week.lower()) if crontab.day_of_week != "*" else "every"
    if (
        crontab.hour.isdigit()
        and crontab.minute.isdigit()
        and day
        and crontab.day_of_month == "*" == crontab.month_of_year
    ):
        at = f"{int(crontab.hour):02}:{int(crontab.minute):02} ({crontab.timezone})"
        return f"every day at {at}" if day == "every" else f"{day.capitalize()}s at {at}"
    return crontab.human_readable


def schedule_in_words(task: PeriodicTask) -> str:
    if task.interval:
        return interval_in_words(task.interval)
    if task.crontab:
        return crontab_in_words(task.crontab)
    if task.clocked:
        return f"once, at {timezone.localtime(task.clocked.clocked_time):%Y-%m-%d %H:%M}"
    return str(task.solar or "")


def duration_in_words(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def moment_in_words(moment: datetime, *, now: datetime) -> str:
    """Like "03 Dec 05:32, 2 hours ago", in TIME_ZONE."""
    ago = "just now" if now - moment < timedelta(minutes=1) else f"{timesince(moment, now, depth=1)} ago"
    return f"{timezone.localtime(moment):%d %b %H:%M}, {ago}"


QUIET = "color: var(--body-quiet-color)"
FAILED = "color: var(--error-fg)"


def run_is_going(run: JobRun, *, now: datetime) -> bool:
    """A run with no end recorded is still going until the hard time limit is past: then its worker was killed."""
    return now - run.started_at < timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)


def run_in_words(run: JobRun, *, now: datetime, runs_url: str) -> SafeString:
    """How a run went and for how long, when it started (a link to the job's runs) and, on a line of its own,
    what it did or its error's first line."""
    when = format_html('<a href="{}">{}</a>', runs_url, moment_in_words(run.started_at, now=now))
    if run.finished_at is None:
        if run_is_going(run, now=now):
            return format_html("running, started {}", when)
        return format_html('<span style="{}">no end recorded</span> (its worker stopped) · {}', FAILED, when)
    took = duration_in_words(run.finished_at - run.started_at)
    if run.ok:
        outcome, style, detail = f"ok in {took}", QUIET, run.summary
    else:
        outcome, style, detail = f"failed after {took}", FAILED, (run.error.splitlines() or [""])[0]
    line = '<img src="{}" alt=""> {} · {}<div style="{}">{}</div>'
    return format_html(line, _icon(run), outcome, when, style, detail)


def _icon(run: JobRun) -> str:
    return static(f"admin/img/icon-{'yes' if run.ok else 'no'}.svg")


class JobChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        """Each listed job's last run, in one query for the page."""
        super().get_results(request)
        runs = job_runs_last(task.task for task in self.result_list)
        for task in self.result_list:
            task.last_run = runs.get(task.task)


def is_scheduled_job(task: PeriodicTask | None) -> bool:
    return task is not None and task.pk is not None and task.name in JOBS_BY_NAME


class JobForm(PeriodicTaskForm):
    """A job of config/schedule.py keeps its name and task: sync_schedule finds it by name and sets its task
    after every migrate (and django-celery-beat's "Task (registered)" list showed blank on every job, the task
    being in "Task (custom)"). Both show read-only; a row staff add still names itself and picks or types one."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if is_scheduled_job(self.instance):
            del self.fields["regtask"]  # "task" the admin leaves out itself: it is read-only

    def clean(self) -> dict:
        if is_scheduled_job(self.instance):
            self.cleaned_data["task"] = self.instance.task
        return super().clean()


class JobAdmin(PeriodicTaskAdmin):
    list_display = ["job", "when", "enabled", "last_run"]
    list_display_links = ["job"]
    list_filter = ["enabled"]
    ordering = ["name"]
    date_hierarchy = None
    fieldsets = [
        (
            None,
            {
                **PeriodicTaskAdmin.fieldsets[0][1],
                "fields": ["name", "what_it_does", "last_run", "regtask", "task", "enabled", "description"],
            },
        ),
        *PeriodicTaskAdmin.fieldsets[1:],
    ]
    readonly_fields = [*PeriodicTaskAdmin.readonly_fields, "what_it_does", "last_run"]
    form = JobForm
    change_form_template = "admin/django_celery_beat/periodictask/change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj: PeriodicTask | None = None) -> list:
        if not is_scheduled_job(obj):
            return self.fieldsets
        (title, options), *rest = self.fieldsets
        fields = [field for field in options["fields"] if field != "regtask"]
        return [(title, {**options, "fields": fields}), *rest]

    def get_readonly_fields(self, request: HttpRequest, obj: PeriodicTask | None = None) -> list[str]:
        # The name is the schedule's key: a job renamed here would be made again, and run twice.
        return [*self.readonly_fields, "name", "task"] if is_scheduled_job(obj) else self.readonly_fields

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return JobChangeList

    @admin.display(description="job", ordering="name")
    def job(self, task: PeriodicTask) -> str:
        return format_html('{}<div style="{}">{}</div>', task.name, QUIET, self.what_it_does(task))

    @admin.display(description="what it does")
    def what_it_does(self, task: PeriodicTask) -> str:
        """The job's line in config/schedule.py; what staff wrote in the task's description, below it."""
        job = JOBS_BY_NAME.get(task.name)
        if job and task.description:
            return format_html("{}<br>Note: {}", job.description, task.description)
        return job.description if job else task.description or "-"

    @admin.display(description="schedule")
    def when(self, task: PeriodicTask) -> str:
        return schedule_in_words(task)

    @admin.display(description="last run")
    def last_run(self, task: PeriodicTask) -> str:
        run = task.last_run if hasattr(task, "last_run") else job_runs_last([task.task]).get(task.task)
        if run is None and task.last_run_at:  # beat sent it, and no worker ran it (or not since runs are recorded)
            return f"no run recorded; beat last sent it {moment_in_words(task.last_run_at, now=timezone.now())}"
        if run is None:
            return "not run yet"
        runs_url = reverse("admin:bot_jobrun_changelist") + "?" + urlencode({"task": task.task})
        return run_in_words(run, now=timezone.now(), runs_url=runs_url)


class JobFilter(admin.SimpleListFilter):
    """Runs of one job, chosen by its name; "?task=<the task's name>" is the link from the job list."""

    title, parameter_name = "job", "task"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return sorted(((job.task, job.name) for job in SCHEDULE), key=lambda choice: choice[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[JobRun]) -> QuerySet[JobRun]:
        return queryset.filter(task=self.value()) if self.value() else queryset


class OutcomeFilter(admin.SimpleListFilter):
    """How runs ended, in the words of the job list; a run with no end is one filter, going or stopped
    (a yes/no filter on `ok` called it "Unknown")."""

    title, parameter_name = "outcome", "outcome"
    OUTCOMES = {
        "ok": Q(ok=True),
        "failed": Q(ok=False),
        "unfinished": Q(finished_at=None),
    }

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("ok", "ok"), ("failed", "failed"), ("unfinished", "no end recorded (running or stopped)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[JobRun]) -> QuerySet[JobRun]:
        return queryset.filter(self.OUTCOMES[self.value()]) if self.value() in self.OUTCOMES else queryset


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "job", "outcome", "took", "summary", "first_line_of_error"]
    list_filter = [OutcomeFilter, JobFilter]  # the short list first: the jobs' list is long
    show_full_result_count = False

    @admin.display(description="job", ordering="task")
    def job(self, run: JobRun) -> str:
        return JOBS_BY_TASK[run.task].name if run.task in JOBS_BY_TASK else run.task

    @admin.display(description="outcome", ordering="ok")
    def outcome(self, run: JobRun) -> str:
        if run.finished_at is None:
            going = run_is_going(run, now=timezone.now())
            words, style = ("running", "") if going else ("no end recorded", FAILED)
            return format_html('<span style="white-space: nowrap; {}">{}</span>', style, words)
        return format_html('<img src="{}" alt=""> {}', _icon(run), "ok" if run.ok else "failed")

    @admin.display(description="took")
    def took(self, run: JobRun) -> str:
        return duration_in_words(run.finished_at - run.started_at) if run.finished_at else "-"

    @admin.display(description="error")
    def first_line_of_error(self, run: JobRun) -> str:
        return (run.error.splitlines() or [""])[0]


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, JobAdmin)
