from django.contrib import admin

from .models import AnalyticsEvent


@admin.register(AnalyticsEvent)
class AnalyticsEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "event_name", "user_id", "platform", "session_id"]
    list_filter = ["event_name", "platform", ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "event_name"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
