"""The page of a Telegram user: what the bot knows of them across the apps (profile, money, activity). An erased
person's pseudonym (apps.bot.flows.erase) has a page too: the ledger it keeps, read-only, and its receipt."""

from decimal import Decimal

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DecimalField, Expression, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.billing.models import RefundAbuse
from apps.billing.revenue import GROUPINGS, revenue_rows, user_revenue
from apps.billing.services import get_user_balance
from apps.core.money import credits_phrase, stars_text, usd_text
from apps.users.models import ErasureReceipt, TelegramUser
from apps.users.selectors import user_latest_activity

from .erase import UserErase
from .export import UserDataDownload

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
ERASED_FIELDSETS = [
    ("Erased user", {"fields": ["erasure", "language_code", "source", "registration_date"]}),
    ("Money", {"fields": ["economics"]}),
]


def lifetime_margins(user_ids: list[int] | None = None) -> dict[int, Decimal]:
    """Each user's margin since their first operation, as their page has it: a few queries for all of them."""
    rows = revenue_rows(None, timezone.now(), GROUPINGS["user"], user_ids=user_ids)
    return {row["group"]: row["margin"] for row in rows if row["group"] is not None}


class LifetimeMarginOrder(Expression):
    """Users' lifetime margins as a column to sort by (0 for users without any), computed only when a query
    sorts by it: one CASE over the users who have one, written from integers and decimals only (nothing a user
    typed), so no parameter limit applies however many users there are."""

    output_field = DecimalField()

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, list]:
        margins = lifetime_margins()
        if not margins:
            return "0", []
        column = f"{compiler.quote_name_unless_alias(TelegramUser._meta.db_table)}.{connection.ops.quote_name('id')}"
        whens = " ".join(f"WHEN {int(user_id)} THEN {Decimal(margin):f}" for user_id, margin in margins.items())
        return f"CASE {column} {whens} ELSE 0 END", []


class MarginChangeList(ChangeList):
    """Shows each listed user's lifetime margin, computed for the page's users at once (no query per row)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        margins = lifetime_margins([user.pk for user in self.result_list])
        for user in self.result_list:
            user.lifetime_margin_value = margins.get(user.pk, Decimal(0))


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
class TelegramUserAdmin(UserErase, UserDataDownload):
    list_display = [
        "id",
        "username",
        "name",
        "is_active",
        "is_admin",
        "gender",
        "last_journey_stage",
        "source",
        "registration_date",
        "last_seen_date",
        "lifetime_margin",
    ]
    list_filter = [
        ErasedFilter,
        "is_active",
        "is_admin",
        "gender",
        "last_journey_stage",
        ("registration_date", admin.DateFieldListFilter),
        ("last_seen_date", admin.DateFieldListFilter),
        "source",
        RefundAbuseFilter,
    ]
    search_fields = ["=id", "username", "first_name", "last_name"]
    date_hierarchy = "registration_date"
    ordering = ["-last_seen_date"]
    readonly_fields = [*FROM_TELEGRAM, "latest_activity", "economics", "data_download", "erase_link", "erasure"]
    fieldsets = [
        ("Telegram", {"fields": FROM_TELEGRAM}),
        ("Status", {"fields": ["is_active", "is_admin", "staff_account"]}),
        (
            "Profile",
            {
                "fields": [
                    "gender",
                    "psychological_summary",
                    "profile_summary",
                    "metaphysical_profile",
                    "last_journey_stage",
                    "streams",
                    "markers",
                ]
            },
        ),
        (
            "Conversion",
            {"fields": ["has_started_journey", "has_completed_journey", "has_visited_platform", "has_purchased_flow"]},
        ),
        ("Money", {"fields": ["economics"]}),
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
        return super().get_fieldsets(request, obj)

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return MarginChangeList

    @admin.display(description="name", ordering="first_name")
    def name(self, obj: TelegramUser) -> str:
        return "Erased user" if obj.erased_at is not None else obj.full_name

    @admin.display(description="lifetime margin", ordering=LifetimeMarginOrder())
    def lifetime_margin(self, obj: TelegramUser) -> str:
        return usd_text(getattr(obj, "lifetime_margin_value", Decimal(0)))

    @admin.display(description="revenue, LLM cost, margin")
    def economics(self, obj: TelegramUser) -> str:
        money = user_revenue(obj.pk)
        return (
            f"balance {credits_phrase(get_user_balance(obj.pk))}; "
            f"paid {stars_text(money.stars)} = cash {usd_text(money.cash_revenue)}; "
            f"charged {credits_phrase(money.credits_charged)} = earned {usd_text(money.earned_revenue)}; "
            f"LLM cost {usd_text(money.llm_cost)} (background {usd_text(money.background_cost)}); "
            f"margin {usd_text(money.margin)}"
        )

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
