from django.contrib import admin

from config.admin import ReadOnlyAdmin

from .models import AnalyticsEvent, DailyUsage, DatabaseSizeSnapshot, EventDailyCount, UserUsageSummary


@admin.register(AnalyticsEvent)
class AnalyticsEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "event_name", "user_id", "platform", "session_id"]
    list_filter = ["event_name", "platform", ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "event_name"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = ["date", "user", "requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost"]
    list_filter = [("date", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "user__username"]
    date_hierarchy = "date"
    list_select_related = ["user"]


@admin.register(UserUsageSummary)
class UserUsageSummaryAdmin(ReadOnlyAdmin):
    list_display = [
        "user",
        "total_requests",
        "total_errors",
        "total_tokens",
        "total_cost",
        "average_latency",
        "success",
        "last_activity",
    ]
    search_fields = ["=user__id", "user__username"]
    ordering = ["-total_cost"]
    list_select_related = ["user"]

    @admin.display(description="avg latency, ms")
    def average_latency(self, obj: UserUsageSummary) -> int:
        return round(obj.average_latency_ms)

    @admin.display(description="success rate")
    def success(self, obj: UserUsageSummary) -> str:
        return f"{obj.success_rate:.0%}"


@admin.register(EventDailyCount)
class EventDailyCountAdmin(ReadOnlyAdmin):
    list_display = ["date", "event_name", "events", "users"]
    list_filter = ["event_name"]
    date_hierarchy = "date"


@admin.register(DatabaseSizeSnapshot)
class DatabaseSizeSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["taken_at", "total_bytes"]
    date_hierarchy = "taken_at"
