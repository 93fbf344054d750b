"""The admin's front page: the figures an operator looks at first, each a link to the list behind it, and
marked when it needs attention. It reads users, money, the inbox, broadcasts, jobs, the database budget and
the price table, so it lives in the top ring. Opened often: fourteen queries, however much data there is.

A figure counts with the very filter its link opens (Django's own "Today" and "Past 7 days" where a list has
a date filter), so the list shows what the figure counted, and a staff member sees only the figures whose
list they may open."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.admin import AdminSite
from django.db.models import Count, Model, Q
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.timesince import timesince
from django_celery_beat.models import PeriodicTask

from apps.analytics.database import database_usage
from apps.billing.models import Payment, PricePlan
from apps.billing.price_check import prices_vs_cost
from apps.billing.revenue import GROUPINGS, revenue_rows
from apps.broadcast.models import Broadcast, BroadcastStatus
from apps.broadcast.selectors import broadcasts_without_live_runner
from apps.core.dates import day_start
from apps.core.money import count_text, usd_text
from apps.llm.models import LLMRequest
from apps.users.models import TelegramUser

from .models import InboxStatus, InboxUpdate
from .selectors import inbox_overview

MONEY_DAYS = 30
SPEND_BASELINE_DAYS = 7
DATABASE_ALERT_PERCENT = 80
NBSP = "\N{NO-BREAK SPACE}"  # a number and its unit stay on one line: "60 s", "85 %"


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    url: str | None  # None: a list the staff member may not open, and the figure is left out
    hint: str  # what the link opens
    note: str = ""  # what qualifies the value: "7-day average $1.20"
    alert: str = ""  # why it needs attention now; empty while it does not


@dataclass(frozen=True)
class Section:
    title: str
    figures: list[Figure]


class _Lists:
    """Links to the admin's lists of one staff member: None for a list they may not open."""

    def __init__(self, request: HttpRequest, site: AdminSite) -> None:
        self.request, self.site = request, site

    def can_view(self, model: type[Model]) -> bool:
        return self.site.is_registered(model) and self.site.get_model_admin(model).has_view_permission(self.request)

    def of(self, model: type[Model], params: dict[str, str] | None = None, fragment: str = "") -> str | None:
        if not self.can_view(model):
            return None
        url = reverse(f"{self.site.name}:{model._meta.app_label}_{model._meta.model_name}_changelist")
        return url + (f"?{urlencode(params)}" if params else "") + (f"#{fragment}" if fragment else "")

    def highest_first(self, model: type[Model], column: str) -> str | None:
        """The list sorted by one of its columns, highest first: what clicking its header twice does."""
        if not self.can_view(model):
            return None
        model_admin = self.site.get_model_admin(model)
        columns = list(model_admin.get_list_display(self.request))
        if model_admin.get_actions(self.request):  # the changelist counts the checkbox as a column
            columns.insert(0, "action_checkbox")
        return self.of(model, {"o": f"-{columns.index(column)}"})


def _dates(field: str, since: date, until: date) -> dict[str, str]:
    """[since, until) as a list's date filter writes it: a figure counts with these, its link opens them."""
    return {f"{field}__gte": str(day_start(since)), f"{field}__lt": str(day_start(until))}


def _figures(*figures: Figure) -> list[Figure]:
    return [figure for figure in figures if figure.url is not None]


def _users(lists: _Lists, today: date) -> Section | None:
    if not lists.can_view(TelegramUser):
        return None
    tomorrow = today + timedelta(days=1)
    filters = {
        "new": _dates("registration_date", today, tomorrow),
        "today": _dates("last_seen_date", today, tomorrow),
        "week": _dates("last_seen_date", today - timedelta(days=7), tomorrow),  # Django's "Past 7 days"
    }
    # People, as the list shows them: not the pseudonyms that keep erased users' ledgers.
    counts = TelegramUser.objects.filter(erased_at__isnull=True).aggregate(
        total=Count("pk"),
        reachable=Count("pk", filter=Q(is_active=True)),
        **{name: Count("pk", filter=Q(**lookups)) for name, lookups in filters.items()},
    )
    return Section(
        "Users",
        _figures(
            Figure("Telegram users", count_text(counts["total"]), lists.of(TelegramUser), "Every user"),
            Figure(
                "reachable",
                count_text(counts["reachable"]),
                lists.of(TelegramUser, {"is_active__exact": "1"}),
                "Users who have not blocked the bot",
            ),
            Figure(
                "new today",
                count_text(counts["new"]),
                lists.of(TelegramUser, filters["new"]),
                "Users who registered today",
            ),
            Figure(
                "active today",
                count_text(counts["today"]),
                lists.of(TelegramUser, filters["today"]),
                "Users seen today",
            ),
            Figure(
                "active in 7 days",
                count_text(counts["week"]),
                lists.of(TelegramUser, filters["week"]),
                "Users seen in the past 7 days",
            ),
        ),
    )


def _money(lists: _Lists, today: date) -> Section | None:
    """Revenue and margin as billing defines them (apps.billing.revenue), from one pass over the last 30 days."""
    tomorrow, first = today + timedelta(days=1), today - timedelta(days=MONEY_DAYS - 1)
    paid_today = lists.of(Payment, _dates("created_at", today, tomorrow))
    paid_in_month = lists.of(Payment, _dates("created_at", first, tomorrow))
    by_margin = lists.highest_first(TelegramUser, "lifetime_margin")
    requests_today = lists.of(LLMRequest, _dates("created_at", today, tomorrow))
    if not any([paid_today, paid_in_month, by_margin, requests_today]):
        return None
    days = {row["group"]: row for row in revenue_rows(day_start(first), day_start(tomorrow), GROUPINGS["day"])}

    def total(name: str, since: date, until: date) -> Decimal:
        return sum((row[name] for day, row in days.items() if since <= day < until), Decimal(0))

    baseline = total("llm_cost", today - timedelta(days=SPEND_BASELINE_DAYS), today) / SPEND_BASELINE_DAYS
    margin_hint = "Earned revenue minus LLM cost. Opens the users, most profitable (lifetime margin) first"
    return Section(
        "Money",
        _figures(
            Figure(
                "revenue today",
                usd_text(total("cash_revenue", today, tomorrow)),
                paid_today,
                "What users paid today, net of refunds: the payments",
            ),
            Figure(
                f"revenue, {MONEY_DAYS} days",
                usd_text(total("cash_revenue", first, tomorrow)),
                paid_in_month,
                f"What users paid in the last {MONEY_DAYS} days, net of refunds: the payments",
            ),
            Figure("margin today", usd_text(total("margin", today, tomorrow)), by_margin, margin_hint),
            Figure(f"margin, {MONEY_DAYS} days", usd_text(total("margin", first, tomorrow)), by_margin, margin_hint),
            Figure(
                "LLM spend today",
                usd_text(total("llm_cost", today, tomorrow)),
                requests_today,
                "What providers charged for today's requests: the requests",
                note=f"{SPEND_BASELINE_DAYS}-day average {usd_text(baseline)}",
            ),
        ),
    )


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return "just now" if now - moment < timedelta(minutes=1) else f"{timesince(moment, now, depth=1)} ago"


def _updates(lists: _Lists, now: datetime) -> Section | None:
    if not lists.can_view(InboxUpdate):
        return None
    inbox = inbox_overview()
    waiting, last = inbox["pending"] + inbox["processing"], inbox["last_received"]
    statuses = ",".join([InboxStatus.PENDING, InboxStatus.PROCESSING])
    return Section(
        "Telegram updates",
        _figures(
            Figure(
                "waiting",
                count_text(waiting),
                lists.of(InboxUpdate, {"status__in": statuses}),
                "Updates stored and not processed yet",
                note=f"{count_text(inbox['processing'])} in progress" if inbox["processing"] else "",
            ),
            Figure(
                "failed",
                count_text(inbox["failed"]),
                lists.of(InboxUpdate, {"status__exact": InboxStatus.FAILED}),
                "Updates the bot could not process: replay them from the list",
                alert="read why, then replay them" if inbox["failed"] else "",
            ),
            Figure(
                "last received",
                _age(last, now),
                lists.of(InboxUpdate),
                "Every update, the latest first",
            ),
        ),
    )


def _broadcasts_and_jobs(lists: _Lists) -> Section | None:
    if not (lists.can_view(Broadcast) or lists.can_view(PeriodicTask)):
        return None
    # Stalled as the dispatcher sees it: running, and no sender has said it is alive for a while.
    stalled = broadcasts_without_live_runner().filter(status=BroadcastStatus.RUNNING)
    broadcasts = Broadcast.objects.aggregate(
        sending=Count("pk", filter=Q(status=BroadcastStatus.RUNNING)),
        stalled=Count("pk", filter=Q(pk__in=stalled.values("pk"))),
        waiting=Count("pk", filter=Q(status__in=[BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED])),
    )
    silent = f"{settings.BROADCAST_STALLED_AFTER}{NBSP}s"
    stall = f"{count_text(broadcasts['stalled'])} stalled: no sender for {silent}"
    return Section(
        "Broadcasts and jobs",
        _figures(
            Figure(
                "broadcasts sending",
                count_text(broadcasts["sending"]),
                lists.of(Broadcast, {"status__exact": BroadcastStatus.RUNNING}),
                "Broadcasts being sent now",
                alert=stall if broadcasts["stalled"] else "",
            ),
            Figure(
                "drafts and scheduled",
                count_text(broadcasts["waiting"]),
                lists.of(Broadcast, {"status__in": f"{BroadcastStatus.DRAFT},{BroadcastStatus.SCHEDULED}"}),
                "Broadcasts not sent yet: each one's page says how many users its segment reaches",
            ),
            Figure(
                "jobs scheduled",
                count_text(PeriodicTask.objects.filter(enabled=True).count()),
                lists.of(PeriodicTask, {"enabled__exact": "1"}),
                "The periodic jobs: what each does, when it runs and how its last run went",
            ),
        ),
    )


def _budget(lists: _Lists) -> Section:
    usage = database_usage()
    losing = {row.plan.pk for row in prices_vs_cost().losing()} if lists.can_view(PricePlan) else set()
    over = usage["percent"] > DATABASE_ALERT_PERCENT
    return Section(
        "Database and prices",
        _figures(
            Figure(
                "database",
                filesizeformat(usage["used"]),
                reverse(f"{lists.site.name}:database_size"),
                "What each table takes of the budget",
                note=f"{usage['percent']:.0f}{NBSP}% of {filesizeformat(usage['budget'])}",
                alert=f"over {DATABASE_ALERT_PERCENT}{NBSP}%: purge or archive" if over else "",
            ),
            Figure(
                "plans below cost",
                count_text(len(losing)),
                lists.of(PricePlan, fragment="prices-vs-cost"),
                "Prices vs cost: every model against what its plan charges",
                alert="answers may cost more than they bring in" if losing else "",
            ),
        ),
    )


def front_page(request: HttpRequest, site: AdminSite) -> list[Section]:
    """The sections of figures the staff member may open, in the order they are read."""
    lists, now = _Lists(request, site), timezone.now()
    today = timezone.localdate(now)
    sections = [
        _users(lists, today),
        _money(lists, today),
        _updates(lists, now),
        _broadcasts_and_jobs(lists),
        _budget(lists),
    ]
    return [section for section in sections if section is not None and section.figures]
