"""What a user's page shows besides the form: a header of who they are and what they are worth, the latest of each
of their records (each with a link to the whole list, filtered to them), and the actions staff take on a person:
adjust the balance, grant credits, send a message as the bot. The queries are the same few whatever the person
has: a count and the latest rows per section."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.analytics.models import AnalyticsEvent
from apps.billing.forms import BalanceAdjustmentForm, ledger_apply_from
from apps.billing.models import Operation, OperationType, Payment
from apps.billing.revenue import user_revenue
from apps.billing.selectors import live_subscription
from apps.billing.services import get_user_balance
from apps.broadcast.models import BroadcastDelivery
from apps.broadcast.services import broadcast_to_user
from apps.core.money import amount_text, count_text, credits_phrase, stars_text, usd_text
from apps.journey.models import JourneyProgress, JourneyStage
from apps.llm.models import LLMRequest
from apps.sessions.models import UserSession
from apps.users.models import TelegramUser

# Rows each section shows; the rest are a link away.
LATEST = 10
LEDGER_PERMISSION = "billing.add_operation"
MESSAGE_PERMISSION = "broadcast.add_broadcast"


def when(moment) -> str:
    return "-" if moment is None else date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


@dataclass
class Section:
    """The latest rows of one kind of record, and the way to all of them."""

    title: str
    headers: list[str]
    rows: list[list]
    count: int
    url: str


@dataclass(frozen=True)
class Records:
    """A kind of record as the user page lists it: which rows are the person's, newest first, and their cells."""

    title: str
    model: type[Model]
    headers: list[str]
    cells: Callable[[Model], list]
    rows: Callable[[int], QuerySet]


def _session_cells(session: UserSession) -> list:
    turns = session.conversation_history or []
    chat = render_to_string("admin/sessions/conversation.html", {"turns": turns})
    state = "active" if session.is_active else "completed"
    if session.completed_at:
        state = f"{state} {when(session.completed_at)}"
    return [
        session.get_session_type_display(),
        state,
        format_html("<details><summary>{} turn(s)</summary>{}</details>", count_text(len(turns)), SafeString(chat)),
    ]


def _operation_cells(operation: Operation) -> list:
    sign = "+" if operation.amount > 0 else ""
    why = operation.reason or operation.model or ""
    if operation.staff_id:
        why = f"{why} ({operation.staff})"
    return [
        operation.get_type_display(),
        f"{sign}{amount_text(operation.amount, 4)}",
        amount_text(operation.balance_after, 4),
        why,
    ]


def _payment_cells(payment: Payment) -> list:
    sold = payment.package or payment.subscription or payment.stream
    return [
        sold.title if sold else "-",
        stars_text(payment.stars),
        credits_phrase(payment.credits, 4),
        payment.get_status_display(),
    ]


def _request_cells(request: LLMRequest) -> list:
    tokens = "unknown" if request.total_tokens is None else count_text(request.total_tokens)
    cost = "-" if request.cost is None else usd_text(request.cost)
    return [
        request.get_request_type_display(),
        request.model,
        tokens,
        cost,
        f"{count_text(request.latency_ms)}\N{NO-BREAK SPACE}ms",
        request.get_status_display(),
    ]


def _event_cells(event: AnalyticsEvent) -> list:
    details = ", ".join(f"{key}: {value}" for key, value in sorted((event.properties or {}).items()))
    return [event.event_name, details]


def _journey_cells(progress: JourneyProgress) -> list:
    done = ", ".join(JourneyStage(stage).label for stage in progress.completed_stages if stage in JourneyStage.values)
    return [progress.get_current_stage_display(), done or "-"]


def _delivery_cells(delivery: BroadcastDelivery) -> list:
    return [delivery.broadcast.title, delivery.get_status_display(), delivery.error or ""]


# In the order an operator reads a person: what they said, what they paid and spent, what the bot did.
RECORDS = [
    Records("Sessions", UserSession, ["started", "type", "state", "conversation"], _session_cells,
            lambda user_id: UserSession.objects.filter(user_id=user_id).order_by("-created_at")),
    Records("Payments", Payment, ["paid", "bought", "Stars", "credits", "status"], _payment_cells,
            lambda user_id: Payment.objects.filter(user_id=user_id).select_related("package", "subscription", "stream")
            .order_by("-created_at")),
    Records("Operations", Operation, ["when", "type", "credits", "balance after", "reason"], _operation_cells,
            lambda user_id: Operation.objects.filter(user_id=user_id).select_related("staff").order_by("-id")),
    Records("LLM requests", LLMRequest, ["when", "type", "model", "tokens", "cost", "latency", "status"],
            _request_cells, lambda user_id: LLMRequest.objects.filter(user_id=user_id).order_by("-created_at")),
    Records("Events", AnalyticsEvent, ["when", "event", "properties"], _event_cells,
            lambda user_id: AnalyticsEvent.objects.filter(user_id=user_id).order_by("-occurred_at")),
    Records("Journey progress", JourneyProgress, ["entered", "stage", "stages completed"], _journey_cells,
            lambda user_id: JourneyProgress.objects.filter(user_id=user_id).order_by("-stage_start_time")),
    Records("Broadcasts received", BroadcastDelivery, ["sent", "broadcast", "status", "error"], _delivery_cells,
            lambda user_id: BroadcastDelivery.objects.filter(user_id=user_id).select_related("broadcast")
            .order_by("-id")),
]  # fmt: skip
# The moment each kind of record is listed by: the first column.
MOMENTS = {
    UserSession: "created_at",
    Payment: "created_at",
    Operation: "created_at",
    LLMRequest: "created_at",
    AnalyticsEvent: "occurred_at",
    JourneyProgress: "stage_start_time",
    BroadcastDelivery: "sent_at",
}


def user_sections(model_admin: admin.ModelAdmin, request: HttpRequest, user_id: int) -> list[Section]:
    """The sections of the records the staff member may list: two queries each."""
    site = model_admin.admin_site
    sections = []
    for records in RECORDS:
        listed = site._registry.get(records.model)
        if listed is None or not listed.has_view_permission(request):
            continue
        opts = records.model._meta
        changelist = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_changelist")
        rows = []
        for row in records.rows(user_id)[:LATEST]:
            moment = when(getattr(row, MOMENTS[records.model]))
            link = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
            rows.append([format_html('<a href="{}">{}</a>', link, moment), *records.cells(row)])
        count = len(rows) if len(rows) < LATEST else records.rows(user_id).count()
        url = f"{changelist}?user__id__exact={user_id}"
        sections.append(Section(records.title, records.headers, rows, count, url))
    return sections


def stage_label(stage: str | None) -> str:
    """A journey stage by its name; "-" before the journey is analysed."""
    return JourneyStage(stage).label if stage in JourneyStage.values else "-"


def user_header(user: TelegramUser) -> list[tuple[str, str]]:
    """Who the person is and what they are worth, label and value, from the figures every page uses."""
    money = user_revenue(user.pk)
    subscription = live_subscription(user.pk)
    if subscription is None:
        subscribed = "none"
    else:
        renews = "cancelled, ends" if subscription.is_canceled else "renews"
        subscribed = f"{subscription.title}, {renews} {when(subscription.expires_at)}"
    if user.erased_at is not None:
        name = f"Erased user {user.pk}"
    else:
        name = " ".join(part for part in (user.full_name, f"@{user.username}" if user.username else "") if part)
    return [
        ("name", f"{name or '-'} (id {user.pk})" if user.erased_at is None else name),
        ("language", user.bot_language or user.language_code or "-"),
        ("stage", stage_label(user.last_journey_stage)),
        ("source", user.source or "-"),
        ("balance", credits_phrase(get_user_balance(user.pk), 4)),
        ("subscription", subscribed),
        ("paid", f"{stars_text(money.stars)} = {usd_text(money.cash_revenue)}"),
        ("earned", f"{usd_text(money.earned_revenue)} for {credits_phrase(money.credits_charged)}"),
        ("LLM cost", f"{usd_text(money.llm_cost)} (background {usd_text(money.background_cost)})"),
        ("margin", usd_text(money.margin)),
    ]


class CreditsForm(BalanceAdjustmentForm):
    """Credits given, not corrected: a bonus, positive only."""

    amount = forms.DecimalField(
        max_digits=14, decimal_places=4, min_value=Decimal("0.0001"), help_text="Credits to add"
    )


class MessageForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text="Telegram HTML: the tags b, i, u, s, a href, code, pre, blockquote, tg-spoiler. Sent as the bot, "
        "through the broadcast sender; the broadcast it makes is the record of it.",
    )


# The ledger actions: the operation each writes, its form, and how the page names it.
LEDGER_ACTIONS = {
    "adjust": (OperationType.ADJUSTMENT, BalanceAdjustmentForm, "Adjust the balance of {}", "Adjust"),
    "grant": (OperationType.BONUS, CreditsForm, "Grant credits to {}", "Grant"),
}


class UserActions(admin.ModelAdmin):
    """Mixed into the user admin: the actions on the person's page and the views behind them."""

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:user_id>/ledger/<str:action>/", view(self.ledger_view), name="users_telegramuser_ledger"),
            path("<int:user_id>/message/", view(self.message_view), name="users_telegramuser_message"),
            *super().get_urls(),
        ]

    def user_actions(self, request: HttpRequest, user: TelegramUser) -> list[tuple[str, str]]:
        """(label, url) of the actions the staff member may take on this person."""
        actions = []
        if request.user.has_perm(LEDGER_PERMISSION):
            for action, label in [("adjust", "Adjust balance…"), ("grant", "Grant credits…")]:
                actions.append(
                    (label, reverse(f"{self.admin_site.name}:users_telegramuser_ledger", args=[user.pk, action]))
                )
        if request.user.has_perm(MESSAGE_PERMISSION):
            actions.append(
                ("Send a message…", reverse(f"{self.admin_site.name}:users_telegramuser_message", args=[user.pk]))
            )
        return actions

    def _person(self, request: HttpRequest, user_id: int, permission: str) -> TelegramUser:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        person = TelegramUser.objects.filter(pk=user_id, erased_at__isnull=True).first()
        if person is None:
            raise Http404("no such person")
        return person

    def _back(self, person: TelegramUser) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:users_telegramuser_change", args=[person.pk]))

    def ledger_view(self, request: HttpRequest, user_id: int, action: str) -> HttpResponse:
        """Adjust (signed) or grant (a bonus): one ledger operation with the reason and the staff member."""
        if action not in LEDGER_ACTIONS:
            raise Http404("no such action")
        person = self._person(request, user_id, LEDGER_PERMISSION)
        type_, form_class, title, button = LEDGER_ACTIONS[action]
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            operation = ledger_apply_from(form, user_id=person.pk, type=type_, staff=request.user)
            if operation is not None:
                balance = credits_phrase(operation.balance_after, 4)
                self.message_user(request, f"The balance is now {balance}.", messages.SUCCESS)
                return self._back(person)
        return self._action_page(request, person, "admin/billing/adjust_balance.html", title, form, button, {
            "balance": credits_phrase(get_user_balance(person.pk), 4)
        })  # fmt: skip

    def message_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        person = self._person(request, user_id, MESSAGE_PERMISSION)
        form = MessageForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                broadcast = broadcast_to_user(person.pk, form.cleaned_data["text"], staff=request.user)
            except ValidationError as error:
                form.add_error("text", error.messages)
            else:
                url = reverse(f"{self.admin_site.name}:broadcast_broadcast_change", args=[broadcast.pk])
                self.message_user(
                    request, format_html('Message handed to the sender: <a href="{}">its broadcast</a>.', url)
                )
                return self._back(person)
        template = "admin/users/telegramuser/send_message.html"
        return self._action_page(request, person, template, "Send a message to {} as the bot", form, "Send", {})

    def _action_page(self, request, person, template, title, form, button, extra) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title.format(person),
            "opts": self.model._meta,
            "original": person,
            "form": form,
            "button": button,
            **extra,
        }
        return TemplateResponse(request, template, context)
