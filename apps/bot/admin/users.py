"""The page of a Telegram user: what the bot knows of them across the apps (profile, money, activity)."""

from django.conf import settings
from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from apps.billing.revenue import usd_text, user_revenue
from apps.billing.services import credits_text, get_user_balance
from apps.users.models import TelegramUser
from apps.users.selectors import user_latest_activity

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


@admin.register(TelegramUser)
class TelegramUserAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "username",
        "full_name",
        "is_active",
        "is_admin",
        "gender",
        "last_journey_stage",
        "source",
        "registration_date",
        "last_seen_date",
    ]
    list_filter = [
        "is_active",
        "is_admin",
        "gender",
        "last_journey_stage",
        ("registration_date", admin.DateFieldListFilter),
        ("last_seen_date", admin.DateFieldListFilter),
        "source",
    ]
    search_fields = ["=id", "username", "first_name", "last_name"]
    date_hierarchy = "registration_date"
    ordering = ["-last_seen_date"]
    readonly_fields = [*FROM_TELEGRAM, "latest_activity", "economics"]
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
    ]

    def has_add_permission(self, request) -> bool:
        return False  # users come from Telegram

    @admin.display(description="revenue, LLM cost, margin")
    def economics(self, obj: TelegramUser) -> str:
        money = user_revenue(obj.pk)
        unit = settings.BILLING_UNIT
        return (
            f"balance {get_user_balance(obj.pk)} {unit}; "
            f"paid {money.stars} Stars = cash {usd_text(money.cash_revenue)}; "
            f"charged {credits_text(money.credits_charged)} {unit} = earned {usd_text(money.earned_revenue)}; "
            f"LLM cost {usd_text(money.llm_cost)} (background {usd_text(money.background_cost)}); "
            f"margin {usd_text(money.margin)}"
        )

    @admin.display(description="latest activity")
    def latest_activity(self, obj: TelegramUser) -> SafeString:
        rows = user_latest_activity(user_id=obj.pk)
        return SafeString(render_to_string("admin/users/latest_activity.html", {"rows": rows}))
