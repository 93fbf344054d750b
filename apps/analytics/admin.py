from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin

from .models import AnalyticsEvent, DatabaseSizeSnapshot, EventDailyCount


@admin.register(AnalyticsEvent)
class AnalyticsEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "event_name", "user_id", "platform", "session_id"]
    list_filter = ["event_name", "platform", ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "event_name"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(EventDailyCount)
class EventDailyCountAdmin(ReadOnlyAdmin):
    list_display = ["date", "event_name", "events", "users"]
    list_filter = ["event_name"]
    date_hierarchy = "date"


@admin.register(DatabaseSizeSnapshot)
class DatabaseSizeSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["taken_at", "total_bytes"]
    date_hierarchy = "taken_at"
