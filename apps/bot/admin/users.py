"""The page of a Telegram user: what the bot knows of them across the apps (profile, money, activity)."""

from django.conf import settings
from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from apps.billing.selectors import user_economics
from apps.billing.services import get_user_balance
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
        money = user_economics(obj.pk)
        unit = settings.BILLING_UNIT
        return (
            f"balance {get_user_balance(obj.pk)} {unit}; paid {money['stars']} Stars ≈ ${money['revenue_usd']}; "
            f"LLM cost ${money['llm_cost_usd']}; margin ${money['margin_usd']}; "
            f"charged for answers {money['credits_charged']} {unit}"
        )

    @admin.display(description="latest activity")
    def latest_activity(self, obj: TelegramUser) -> SafeString:
        rows = user_latest_activity(user_id=obj.pk)
        return SafeString(render_to_string("admin/users/latest_activity.html", {"rows": rows}))
