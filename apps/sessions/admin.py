from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from .models import UserSession


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "session_type", "is_active", "question_count", "created_at", "completed_at"]
    list_filter = ["is_active", "session_type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["conversation", "created_at", "updated_at", "completed_at"]
    exclude = ["conversation_history"]

    @admin.display(description="conversation")
    def conversation(self, obj: UserSession) -> SafeString:
        return SafeString(render_to_string("admin/sessions/conversation.html", {"turns": obj.conversation_history}))
