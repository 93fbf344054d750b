from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.core.admin import PermanentRecordAdmin
from apps.journey.models import JourneyStage

from . import services
from .models import FINAL_STATUSES, Broadcast, BroadcastAction, BroadcastDelivery, DeliveryStatus
from .selectors import delivery_counts, get_users_by_criteria

SEGMENT = [
    "gender", "journey_stages", "streams", "streams_match", "markers", "language", "last_seen_within_days",
    "registered_after", "registered_before", "has_purchased", "refund_abuse",
]  # fmt: skip


class AnyYesNo(forms.NullBooleanSelect):
    """A yes/no criterion left empty matches everyone: "Any", not Django's "Unknown"."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs)
        self.choices = [("unknown", "Any"), ("true", "Yes"), ("false", "No")]


class BroadcastForm(forms.ModelForm):
    journey_stages = forms.MultipleChoiceField(
        choices=JourneyStage.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    streams = forms.CharField(required=False, help_text="Stream tags, separated by commas")

    class Meta:
        model = Broadcast
        fields = ["title", "text", "photo", "buttons", "paid", *SEGMENT, "scheduled_at"]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 8, "cols": 80}),
            "has_purchased": AnyYesNo,
            "refund_abuse": AnyYesNo,
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["streams"] = ", ".join(self.instance.streams or [])

    def clean_streams(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data["streams"].split(",") if tag.strip()]


class BroadcastActionInline(admin.TabularInline):
    model = BroadcastAction
    extra = 0
    can_delete = False
    fields = readonly_fields = ["at", "action", "staff", "note"]
    verbose_name_plural = "audit"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    form = BroadcastForm
    list_display = ["title", "status", "recipients", "sent", "failed", "blocked", "created_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "text"]
    inlines = [BroadcastActionInline]
    change_form_template = "admin/broadcast/broadcast/change_form.html"
    fieldsets = [
        ("Message", {"fields": ["title", "text", "photo", "buttons", "paid"]}),
        ("Segment", {"fields": [*SEGMENT, "segment_size"], "description": "Empty criteria match everyone."}),
        ("Sending", {"fields": ["scheduled_at", "status", "progress", "started_at", "finished_at", "created_by"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Broadcast | None = None) -> list[str]:
        fixed = ["segment_size", "status", "progress", "started_at", "finished_at", "created_by"]
        if obj is not None and not obj.is_editable:
            return [*fixed, "title", "text", "photo", "buttons", "paid", *SEGMENT, "scheduled_at"]
        return fixed

    @admin.display(description="Segment")
    def segment_size(self, obj: Broadcast) -> str:
        if obj.pk is None:
            return "shown once saved"
        if not obj.is_editable:
            return f"taken at the start: {obj.recipients} users"
        try:
            return f"reaches {get_users_by_criteria(obj.criteria).count()} users now"
        except ValueError as error:
            return str(error)

    @admin.display(description="Progress")
    def progress(self, obj: Broadcast) -> str:
        if obj.pk is None:
            return "–"
        progress = _progress(obj)
        return format_html(
            '<div id="broadcast-progress" data-url="{}"><progress max="{}" value="{}"></progress> '
            '<span class="counters">{}</span></div>',
            reverse("admin:broadcast_broadcast_progress", args=[obj.pk]),
            max(obj.recipients, 1),
            progress["done"],
            progress["text"],
        )

    def save_model(self, request: HttpRequest, obj: Broadcast, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            BroadcastAction.objects.create(broadcast=obj, action="created", staff=request.user)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", view(self.progress_view), name="broadcast_broadcast_progress"),
            path("<int:pk>/act/", view(self.act_view), name="broadcast_broadcast_act"),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        return JsonResponse(_progress(get_object_or_404(Broadcast, pk=pk)))

    def act_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The buttons of the change page: start, schedule, pause, resume, cancel, send a test to me, send
        the unconfirmed again."""
        broadcast = get_object_or_404(Broadcast, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, broadcast):
            return HttpResponse(status=403 if request.method == "POST" else 405)
        action = request.POST.get("action", "")
        actions = {
            "start": services.broadcast_start,
            "pause": services.broadcast_pause,
            "resume": services.broadcast_resume,
            "cancel": services.broadcast_cancel,
        }
        try:
            if action in actions:
                actions[action](pk, staff=request.user)
                self.message_user(request, f"{broadcast}: {action} done.")
            elif action == "schedule":
                if broadcast.scheduled_at is None or broadcast.scheduled_at <= timezone.now():
                    raise ValidationError("set a future “scheduled at” and save first")
                services.broadcast_schedule(pk, broadcast.scheduled_at, staff=request.user)
                self.message_user(request, f"{broadcast}: scheduled.")
            elif action == "resend_unconfirmed":
                again = services.broadcast_resend_unconfirmed(pk, staff=request.user)
                self.message_user(request, f"{broadcast}: {again} unconfirmed deliveries go out again.")
            elif action == "test":
                account = services.broadcast_send_test(pk, staff=request.user)
                self.message_user(request, f"Test sent to {account}.")
            else:
                return HttpResponse("unknown action", status=400)
        except ValidationError as error:
            self.message_user(request, f"Not done: {'; '.join(error.messages)}", messages.ERROR)
        except Exception as error:  # the Bot API refused the test message: say why, keep the page
            self.message_user(request, f"Not done: {error}", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:broadcast_broadcast_change", args=[pk]))


def _progress(broadcast: Broadcast) -> dict:
    """What the change page shows and polls: the deliveries as they stand, not the counters of the last
    heartbeat."""
    counts = delivery_counts(broadcast.pk)
    parts = [f"{counts[name]} {name}" for name in (*FINAL_STATUSES, DeliveryStatus.PENDING) if counts[name]]
    text = f"{broadcast.get_status_display()}: {broadcast.recipients} recipients"
    return {
        "status": broadcast.status,
        "recipients": broadcast.recipients,
        "done": sum(counts[name] for name in FINAL_STATUSES),
        "counts": counts,
        "text": text + (f" — {', '.join(parts)}" if parts else ""),
    }


@admin.register(BroadcastDelivery)
class BroadcastDeliveryAdmin(PermanentRecordAdmin):
    """The result per user, read-only."""

    list_display = ["broadcast", "user", "status", "attempts", "sent_at", "message_id", "error"]
    list_filter = ["status", "broadcast"]
    search_fields = ["=user__id", "user__username"]
    list_select_related = ["broadcast", "user"]
    show_full_result_count = False
