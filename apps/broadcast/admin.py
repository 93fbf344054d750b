import json
from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from apps.core.admin import PermanentRecordAdmin
from apps.journey.models import JourneyStage

from . import services
from .models import FINAL_STATUSES, Broadcast, BroadcastAction, BroadcastDelivery, DeliveryStatus
from .preview import telegram_html_preview
from .selectors import (
    delivery_counts,
    get_users_by_criteria,
    languages_in_use,
    marker_keys_in_use,
    stream_tags_in_use,
)

MESSAGE = ["title", "text", "photo", "buttons", "paid"]
SEGMENT = [
    "gender", "journey_stages", "streams", "streams_match", "markers", "language", "last_seen_within_days",
    "registered_after", "registered_before", "has_purchased", "refund_abuse",
]  # fmt: skip


class AnyYesNo(forms.NullBooleanSelect):
    """A yes/no criterion left empty matches everyone: "Any", not Django's "Unknown"."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs)
        self.choices = [("unknown", "Any"), ("true", "Yes"), ("false", "No")]


class JsonRows(forms.Textarea):
    """A JSON list or object edited as rows of two inputs by broadcast/form.js. The textarea stays the
    field's value (the script writes the rows back into it), so the server reads and validates the same
    JSON whichever way it was typed, and staff without scripts edit the JSON itself."""

    def __init__(self, *, shape: str, columns: dict[str, str], suggest: Callable[[], list[str]] | None = None):
        # columns: a row's JSON key (for an object: "key" and "value") → the heading staff read above it.
        super().__init__(attrs={"rows": 3, "data-rows": shape, "data-columns": json.dumps(columns)})
        self.suggest = suggest

    def get_context(self, name: str, value, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        if self.suggest is not None:  # asked when the page is drawn, not for every form the endpoints check
            context["widget"]["attrs"]["data-suggest"] = json.dumps(self.suggest())
        return context


class AnyStreamTag(forms.MultipleChoiceField):
    """Offers the tags users have; takes any tag, so a broadcast keeps one that nobody has any more."""

    def valid_value(self, value: str) -> bool:
        return bool(value.strip())


class BroadcastForm(forms.ModelForm):
    journey_stages = forms.MultipleChoiceField(
        choices=JourneyStage.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    streams = AnyStreamTag(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The stream tags users have, with how many have each",
    )
    language = forms.CharField(
        required=False, max_length=16, help_text="Matches the regional variants too: en matches en-US"
    )

    class Meta:
        model = Broadcast
        fields = [*MESSAGE, *SEGMENT, "scheduled_at"]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 8, "cols": 80}),
            "buttons": JsonRows(shape="list", columns={"text": "Button text", "url": "URL"}),
            "markers": JsonRows(
                shape="object",
                columns={"key": "Marker", "value": "Value"},
                suggest=lambda: [key for key, _ in marker_keys_in_use()],
            ),
            "has_purchased": AnyYesNo,
            "refund_abuse": AnyYesNo,
        }
        help_texts = {
            "buttons": "One URL button per row, under the message",
            "markers": "Users whose marker has this value. A whole number (3) matches the number 3; "
            "anything else matches as text",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Callables: the queries run when the page is drawn (once: the widgets read their choices twice), not
        # each time an endpoint checks a segment. A started broadcast's page shows the segment read-only.
        if "streams" in self.fields:
            self.fields["streams"].choices = lambda: self._stream_choices
            self.fields["language"].widget = forms.Select(choices=lambda: self._language_choices)

    @cached_property
    def _stream_choices(self) -> list[tuple[str, str]]:
        in_use = dict(stream_tags_in_use())
        gone = [(tag, f"{tag} (nobody now)") for tag in self.instance.streams or [] if tag not in in_use]
        return [*((tag, f"{tag} ({users:,})") for tag, users in in_use.items()), *gone]

    @cached_property
    def _language_choices(self) -> list[tuple[str, str]]:
        in_use = dict(languages_in_use())
        kept = self.instance.language
        other = [(kept, kept)] if kept and kept not in in_use else []  # en-US, typed before this list
        return [("", "Any"), *((code, f"{code} ({users:,})") for code, users in in_use.items()), *other]

    def clean_markers(self) -> dict:
        markers = self.cleaned_data["markers"]
        if isinstance(markers, dict):
            for key, value in markers.items():
                if not key.strip():
                    raise ValidationError("every marker needs a name")
                if isinstance(value, bool) or not isinstance(value, str | int):
                    raise ValidationError(f"“{key}”: a marker value is a text or a whole number")
        return markers


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

    def get_fieldsets(self, request: HttpRequest, obj: Broadcast | None = None) -> list:
        # Where the segment can be edited, the form's script counts it live beside its heading; a page that
        # only shows it says here how many it reaches, or reached when it started.
        editable = obj is None or (obj.is_editable and self.has_change_permission(request, obj))
        counted = [] if editable else ["segment_size"]
        return [
            ("Message", {"fields": [*MESSAGE, "preview"], "classes": ["broadcast-message"]}),
            (
                "Segment",
                {
                    "fields": [*SEGMENT, *counted],
                    "classes": ["broadcast-segment"],
                    "description": "Empty criteria match everyone.",
                },
            ),
            ("Sending", {"fields": ["scheduled_at", "status", "progress", "started_at", "finished_at", "created_by"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Broadcast | None = None) -> list[str]:
        fixed = ["preview", "segment_size", "status", "progress", "started_at", "finished_at", "created_by"]
        if obj is not None and not obj.is_editable:
            return [*fixed, *MESSAGE, *SEGMENT, "scheduled_at"]
        return fixed

    @admin.display(description="As Telegram shows it")
    def preview(self, obj: Broadcast) -> SafeString:
        return _message_preview(obj.text, obj.photo, obj.buttons or [])

    @admin.display(description="Segment")
    def segment_size(self, obj: Broadcast) -> str:
        if obj.is_editable:
            return f"reaches {get_users_by_criteria(obj.criteria).count()} users now"
        return f"taken at the start: {obj.recipients} users"

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
            path("segment/", self._form_endpoint(self.segment_view), name="broadcast_broadcast_segment"),
            path("preview/", self._form_endpoint(self.preview_view), name="broadcast_broadcast_preview"),
            path("<int:pk>/progress/", view(self.progress_view), name="broadcast_broadcast_progress"),
            path("<int:pk>/act/", view(self.act_view), name="broadcast_broadcast_act"),
            *super().get_urls(),
        ]

    def _form_endpoint(self, view: Callable[[HttpRequest, forms.ModelForm], JsonResponse]) -> Callable:
        """What the form's script asks as staff edit: the fields as the form posts them (GET, or POST with
        the CSRF token), checked by the admin's own form. Anyone but staff who may view broadcasts gets a
        403 in JSON rather than the login page."""

        @wraps(view)
        def endpoint(request: HttpRequest) -> JsonResponse:
            if not (self.admin_site.has_permission(request) and self.has_view_permission(request)):
                return JsonResponse({"error": "staff who may view broadcasts only"}, status=403)
            if request.method not in ("GET", "POST"):
                return JsonResponse({"error": "GET or POST"}, status=405)
            form = self.get_form(request)(request.POST if request.method == "POST" else request.GET)
            form.is_valid()
            return view(request, form)

        return never_cache(csrf_protect(endpoint))

    def segment_view(self, request: HttpRequest, form: forms.ModelForm) -> JsonResponse:
        """How many users the segment reaches now, counted as the send will take them: the form's criteria
        (its validation, the model's `criteria`) through get_users_by_criteria. Only the segment's errors
        count here; the message may be half-written."""
        errors = {name: _messages(form, name) for name in SEGMENT if name in form.errors}
        if errors:
            return JsonResponse({"errors": errors}, status=400)
        return JsonResponse({"count": get_users_by_criteria(form.instance.criteria).count()})

    def preview_view(self, request: HttpRequest, form: forms.ModelForm) -> JsonResponse:
        """The message as Telegram will show it, drawn here with the rules of the change page, and what
        Telegram would refuse in it."""
        errors = {form.fields[name].label: _messages(form, name) for name in MESSAGE if name in form.errors}
        buttons = form.cleaned_data.get("buttons") or []
        html = _message_preview(form.data.get("text", ""), form.data.get("photo", "").strip(), buttons, errors)
        return JsonResponse({"html": html})

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


def _messages(form: forms.Form, name: str) -> list[str]:
    return [error["message"] for error in form.errors[name].get_json_data()]


def _message_preview(text: str, photo: str, buttons: list[dict], errors: dict | None = None) -> SafeString:
    """A Telegram chat bubble: the photo (a URL is shown; a file_id only named), the text with Telegram's
    formatting, the URL buttons under it."""
    context = {
        "text": telegram_html_preview(text),
        "photo_url": photo if photo.startswith(("https://", "http://")) else "",
        "photo": photo,
        "buttons": buttons,
        "errors": errors or {},
    }
    return render_to_string("admin/broadcast/broadcast/preview.html", context)


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
