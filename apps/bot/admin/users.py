"""The page of a Telegram user: what the bot knows of them across the apps (profile, money, activity). An erased
person's pseudonym (apps.bot.flows.erase) has a page too: the ledger it keeps, read-only, and its receipt."""

from decimal import Decimal

from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DecimalField, Expression, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.db.models.sql.compiler import SQLCompiler
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from apps.billing.models import Balance, RefundAbuse
from apps.billing.revenue import GROUPINGS, revenue_rows
from apps.core.money import amount_text, usd_text
from apps.journey.models import JourneyStage
from apps.users.models import ErasureReceipt, TelegramUser
from apps.users.selectors import user_latest_activity

from .erase import UserErase
from .export import UserDataDownload
from .user_page import UserActions, stage_label, user_header, user_sections

# What Telegram tells us and the first contact set: shown, never edited by staff.
FROM_TELEGRAM = [
    "id",
    "username",
    "first_name",
    "last_name",
    "language_code",
    "is_premium",
    "source",
    "registration_date",
    "last_seen_date",
]
# All a pseudonym keeps: what aggregates group by, and no person is named by.
ERASED_FIELDSETS = [("Erased user", {"fields": ["erasure", "language_code", "source", "registration_date"]})]
# Inferred about the person: read as text; edited, on asking, in the inputs their types need.
PROFILE = ["gender", "psychological_summary", "profile_summary", "metaphysical_profile", "last_journey_stage"]
TAGS = ["streams", "markers"]
AS_TEXT = {"metaphysical_profile": "metaphysical", "last_journey_stage": "stage"}
EDIT_PROFILE = "edit"


def lifetime_figures(figure: str, user_ids: list[int] | None = None) -> dict[int, Decimal]:
    """Each user's `figure` (margin, cash revenue) since their first operation, as their page has it: a few
    queries for all of them."""
    rows = revenue_rows(None, timezone.now(), GROUPINGS["user"], user_ids=user_ids)
    return {row["group"]: row[figure] for row in rows if row["group"] is not None}


class LifetimeOrder(Expression):
    """A lifetime figure of users as a column to sort by (0 for users without any), computed only when a query
    sorts by it: one CASE over the users who have one, written from integers and decimals only (nothing a user
    typed), so no parameter limit applies however many users there are."""

    output_field = DecimalField()

    def __init__(self, figure: str) -> None:
        super().__init__()
        self.figure = figure

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, list]:
        values = lifetime_figures(self.figure)
        if not values:
            return "0", []
        column = f"{compiler.quote_name_unless_alias(TelegramUser._meta.db_table)}.{connection.ops.quote_name('id')}"
        whens = " ".join(f"WHEN {int(user_id)} THEN {Decimal(value):f}" for user_id, value in values.items())
        return f"CASE {column} {whens} ELSE 0 END", []


class MarginChangeList(ChangeList):
    """Shows each listed user's lifetime margin and what they paid, computed for the page's users at once (no
    query per row)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        rows = revenue_rows(None, timezone.now(), GROUPINGS["user"], user_ids=[user.pk for user in self.result_list])
        by_user = {row["group"]: row for row in rows}
        for user in self.result_list:
            row = by_user.get(user.pk, {})
            user.lifetime_margin_value = row.get("margin", Decimal(0))
            user.lifetime_paid_value = row.get("cash_revenue", Decimal(0))


class StageFilter(admin.SimpleListFilter):
    """Journey stages by their names, in the journey's order."""

    title = "journey stage"
    parameter_name = "stage"

    def lookups(self, request, model_admin):
        return [*JourneyStage.choices, ("none", "Not analysed yet")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "none":
            return queryset.filter(last_journey_stage__isnull=True)
        return queryset.filter(last_journey_stage=self.value()) if self.value() else queryset


class BalanceFilter(admin.SimpleListFilter):
    title = "balance"
    parameter_name = "balance"

    def lookups(self, request, model_admin):
        return [("positive", "Above zero"), ("zero", "Zero or none"), ("negative", "Below zero")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "positive":
            return queryset.filter(balance_amount__gt=0)
        if self.value() == "zero":
            return queryset.filter(balance_amount=0)
        if self.value() == "negative":
            return queryset.filter(balance_amount__lt=0)
        return queryset


class RefundAbuseFilter(admin.SimpleListFilter):
    title = "refund abuse"
    parameter_name = "refund_abuse"

    def lookups(self, request, model_admin):
        return [("yes", "flagged")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset.filter(pk__in=RefundAbuse.objects.values("user_id")) if self.value() == "yes" else queryset


class ErasedFilter(admin.SimpleListFilter):
    """People unless asked otherwise: the pseudonyms that keep erased people's ledgers are no one to look for."""

    title = "erased"
    parameter_name = "erased"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("all", "All")]

    def choices(self, changelist):
        # Without a value the list shows people, so Django's "All" choice reads "No" here.
        people, *others = super().choices(changelist)
        return [{**people, "display": "No"}, *others]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "all":
            return queryset
        return queryset.filter(erased_at__isnull=self.value() != "yes")


@admin.register(TelegramUser)
class TelegramUserAdmin(UserActions, UserErase, UserDataDownload):
    change_form_template = "admin/users/telegramuser/change_form.html"
    change_list_template = "admin/users/telegramuser/change_list.html"
    # Who, what they are worth, where they stand: the money first, so a laptop shows it without scrolling.
    list_display = [
        "id",
        "name",
        "balance_credits",
        "lifetime_paid",
        "lifetime_margin",
        "last_seen",
        "stage",
        "language",
        "source",
    ]
    list_display_links = ["id", "name"]
    list_filter = [
        ErasedFilter,
        BalanceFilter,
        ("last_seen_date", admin.DateFieldListFilter),
        StageFilter,
        "language_code",
        "source",
        ("registration_date", admin.DateFieldListFilter),
        "is_active",
        "is_admin",
        "gender",
        RefundAbuseFilter,
    ]
    search_fields = ["=id", "username", "first_name", "last_name"]
    date_hierarchy = "registration_date"
    ordering = ["-last_seen_date"]
    readonly_fields = [
        *FROM_TELEGRAM,
        "latest_activity",
        "data_download",
        "erase_link",
        "erasure",
        "tags",
        *AS_TEXT.values(),
    ]
    fieldsets = [
        ("Telegram", {"fields": FROM_TELEGRAM}),
        ("Status", {"fields": ["is_active", "is_admin", "staff_account"]}),
        ("Profile", {"fields": [*PROFILE, *TAGS]}),
        (
            "Conversion",
            {"fields": ["has_started_journey", "has_completed_journey", "has_visited_platform", "has_purchased_flow"]},
        ),
        ("Latest activity", {"fields": ["latest_activity"]}),
        ("Data", {"fields": ["data_download"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return False  # users come from Telegram

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # their payments refuse it; erasing is the way (UserErase)

    def has_change_permission(self, request, obj=None) -> bool:
        return (obj is None or obj.erased_at is None) and super().has_change_permission(request, obj)

    def get_fieldsets(self, request: HttpRequest, obj: TelegramUser | None = None) -> list:
        if obj is not None and obj.erased_at is not None:
            return ERASED_FIELDSETS
        fieldsets = super().get_fieldsets(request, obj)
        if self._editing_profile(request, obj):
            return fieldsets
        edit = format_html('<a href="?{}=1#profile">Edit the profile</a>', EDIT_PROFILE)
        shown = [AS_TEXT.get(name, name) for name in PROFILE]
        profile = {"fields": [*shown, "tags"], "description": edit}
        return [(title, profile if title == "Profile" else options) for title, options in fieldsets]

    def get_readonly_fields(self, request: HttpRequest, obj: TelegramUser | None = None) -> list:
        readonly = super().get_readonly_fields(request, obj)
        return readonly if self._editing_profile(request, obj) else [*readonly, *PROFILE]

    def _editing_profile(self, request: HttpRequest, obj: TelegramUser | None) -> bool:
        """The profile reads as text unless staff who may change it ask to edit it."""
        return EDIT_PROFILE in request.GET and self.has_change_permission(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        balance = Balance.objects.filter(user=OuterRef("pk")).values("amount")
        return super().get_queryset(request).annotate(balance_amount=Coalesce(Subquery(balance), Decimal(0)))

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return MarginChangeList

    def changelist_view(self, request: HttpRequest, extra_context=None):
        """With one-click rankings: the most profitable users and the biggest spenders first."""
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            response.context_data["rankings"] = [
                (label, changelist.get_query_string({ORDER_VAR: f"-{changelist.list_display.index(column)}"}))
                for label, column in [
                    ("Most profitable first", "lifetime_margin"),
                    ("Biggest spenders first", "lifetime_paid"),
                ]
            ]
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        user = TelegramUser.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if user is not None:
            extra_context = {
                "user_header": user_header(user),
                "user_sections": user_sections(self, request, user.pk),
                "user_actions": [] if user.erased_at else self.user_actions(request, user),
                **(extra_context or {}),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="name", ordering="first_name")
    def name(self, obj: TelegramUser) -> str:
        if obj.erased_at is not None:
            return "Erased user"
        username = f" @{obj.username}" if obj.username else ""
        return f"{obj.full_name}{username}" or "-"

    @admin.display(description="last seen", ordering="last_seen_date")
    def last_seen(self, obj: TelegramUser) -> str:
        return date_format(timezone.localtime(obj.last_seen_date), "SHORT_DATETIME_FORMAT")

    @admin.display(description="journey stage", ordering="last_journey_stage")
    def stage(self, obj: TelegramUser) -> str:
        return stage_label(obj.last_journey_stage)

    @admin.display(description="language", ordering="language_code")
    def language(self, obj: TelegramUser) -> str:
        return obj.bot_language or obj.language_code or "-"

    @admin.display(description="balance, credits", ordering="balance_amount")
    def balance_credits(self, obj: TelegramUser) -> str:
        return amount_text(obj.balance_amount, 4)

    @admin.display(description="paid", ordering=LifetimeOrder("cash_revenue"))
    def lifetime_paid(self, obj: TelegramUser) -> str:
        return usd_text(getattr(obj, "lifetime_paid_value", Decimal(0)))

    @admin.display(description="lifetime margin", ordering=LifetimeOrder("margin"))
    def lifetime_margin(self, obj: TelegramUser) -> str:
        return usd_text(getattr(obj, "lifetime_margin_value", Decimal(0)))

    @admin.display(description="metaphysical profile")
    def metaphysical(self, obj: TelegramUser) -> SafeString:
        lines = format_html_join(mark_safe("<br>"), "{}: {}", sorted((obj.metaphysical_profile or {}).items()))
        return lines or SafeString("-")

    @admin.display(description="streams and markers")
    def tags(self, obj: TelegramUser) -> SafeString:
        """Stream tags in a line, markers one a line: as staff read them, not as JSON."""
        streams = ", ".join(map(str, obj.streams or [])) or "none"
        markers = format_html_join("", "<br>{}: {}", sorted((obj.markers or {}).items()))
        return format_html("streams: {}{}", streams, markers)

    @admin.display(description="latest activity")
    def latest_activity(self, obj: TelegramUser) -> SafeString:
        rows = user_latest_activity(user_id=obj.pk)
        return SafeString(render_to_string("admin/users/latest_activity.html", {"rows": rows}))

    @admin.display(description="erased")
    def erasure(self, obj: TelegramUser) -> SafeString:
        """When, and the receipt: this row is the pseudonym an erase left."""
        when = date_format(timezone.localtime(obj.erased_at), "DATETIME_FORMAT")
        receipt = ErasureReceipt.objects.filter(pseudonym_id=obj.pk).first()
        link = (
            format_html(
                ' (<a href="{}">the receipt</a>)',
                reverse(f"{self.admin_site.name}:users_erasurereceipt_change", args=[receipt.pk]),
            )
            if receipt is not None
            else ""
        )
        return format_html(
            "{}{}. This row keeps an erased person's ledger and payments under a pseudonym: nothing here names them.",
            when,
            link,
        )
