from django.contrib import admin

from .models import JourneyProgress


@admin.register(JourneyProgress)
class JourneyProgressAdmin(admin.ModelAdmin):
    list_display = ["stage_start_time", "user", "current_stage"]
    list_filter = ["current_stage", ("stage_start_time", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["user", "current_stage", "completed_stages", "stage_start_time"]

    def has_add_permission(self, request) -> bool:
        return False
