from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.bot.models import InboxStatus, InboxUpdate
from apps.bot.services import inbox_replay
from apps.core.admin import ReadOnlyAdmin


@admin.register(InboxUpdate)
class InboxUpdateAdmin(ReadOnlyAdmin):
    list_display = ["update_id", "update_type", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "update_type", ("received_at", admin.DateFieldListFilter)]
    search_fields = ["=update_id"]
    readonly_fields = [field.name for field in InboxUpdate._meta.fields]
    actions = ["replay"]
    show_full_result_count = False

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("bot.change_inboxupdate")

    @admin.action(description="Replay the selected failed updates", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[InboxUpdate]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        replayed = inbox_replay(update_ids=selected)
        skipped = len(selected) - replayed
        self.message_user(request, f"{replayed} update(s) sent through the bot again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} skipped: only {InboxStatus.FAILED.label.lower()} updates can be replayed.",
                messages.WARNING,
            )
