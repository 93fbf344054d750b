from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin

from .models import ProfileRotationRun, UserActivityLog, UserActivityLogArchive


class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["timestamp", "user", "activity_type", "chat_id"]
    list_filter = ["activity_type", ("timestamp", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    show_full_result_count = False


admin.site.register(UserActivityLog, ActivityAdmin)
admin.site.register(UserActivityLogArchive, ActivityAdmin)


@admin.register(ProfileRotationRun)
class ProfileRotationRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "finished_at", "selected", "updated", "failed"]
