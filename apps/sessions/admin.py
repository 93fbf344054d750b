from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from apps.core.money import count_text

from .models import UserSession


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "session_type", "is_active", "turns", "question_count", "completed_at"]
    list_filter = ["is_active", "session_type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "user__username"]
    list_select_related = ["user"]
    ordering = ["-created_at"]
    raw_id_fields = ["user"]
    readonly_fields = ["conversation", "created_at", "updated_at", "completed_at"]
    exclude = ["conversation_history"]

    @admin.display(description="turns")
    def turns(self, obj: UserSession) -> str:
        return count_text(len(obj.conversation_history or []))

    @admin.display(description="conversation")
    def conversation(self, obj: UserSession) -> SafeString:
        return SafeString(render_to_string("admin/sessions/conversation.html", {"turns": obj.conversation_history}))
