from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from apps.core.sending import CAPTION_LIMIT, TEXT_LIMIT
from apps.journey.models import JourneyStage
from apps.users.models import Gender, TelegramUser

from .html import validate_telegram_html


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class StreamsMatch(models.TextChoices):
    ANY = "any", "any of them"
    ALL = "all", "all of them"


class Broadcast(models.Model):
    """A message to a segment of users. The segment is taken when sending starts: one delivery row per
    user, so each user gets it at most once however the run is stopped and resumed."""

    title = models.CharField(max_length=120, help_text="For staff only")
    # No tags in the help text: the admin renders help texts as HTML.
    text = models.TextField(help_text="Telegram HTML: the tags b, i, u, s, a href, code, pre, blockquote, tg-spoiler")
    photo = models.CharField(max_length=512, blank=True, help_text="A photo's URL or Telegram file_id (optional)")
    buttons = models.JSONField(
        default=list, blank=True, help_text='URL buttons, one row each: [{"text": "Open", "url": "https://…"}]'
    )
    paid = models.BooleanField(
        default=False, help_text="Paid broadcast (allow_paid_broadcast): up to 1000 messages/s, charged in Stars"
    )

    # The segment: every criterion left empty matches everyone; only users who have not blocked the bot.
    gender = models.CharField(max_length=8, choices=Gender.choices, blank=True)
    journey_stages = models.JSONField(default=list, blank=True, help_text="Journey stages (any of them)")
    streams = models.JSONField(default=list, blank=True, help_text='Stream tags, e.g. ["career", "growth"]')
    streams_match = models.CharField(max_length=3, choices=StreamsMatch.choices, default=StreamsMatch.ANY)
    markers = models.JSONField(default=dict, blank=True, help_text='Marker values that must match: {"key": "value"}')
    language = models.CharField(max_length=16, blank=True, help_text="Language code, e.g. en (matches en-US too)")
    last_seen_within_days = models.PositiveIntegerField(null=True, blank=True)
    registered_after = models.DateField(null=True, blank=True, help_text="Registered on or after this day")
    registered_before = models.DateField(null=True, blank=True, help_text="Registered on or before this day")
    has_purchased = models.BooleanField(null=True, blank=True, help_text="Has paid with Stars at least once")
    refund_abuse = models.BooleanField(
        "flagged for refund abuse",
        null=True,
        blank=True,
        help_text="Had Stars refunded after consuming most of the payment's credits",
    )

    status = models.CharField(
        max_length=10, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT, db_index=True
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    blocked = models.PositiveIntegerField(default=0)
    unconfirmed = models.PositiveIntegerField(default=0)
    # The process sending it now, and when it last said it was alive: a stalled run is taken over.
    runner = models.CharField(max_length=64, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def criteria(self) -> dict:
        """The segment as `get_users_by_criteria` takes it (empty criteria left out)."""
        criteria = {
            "gender": self.gender,
            "journey_stages": self.journey_stages,
            "streams": self.streams,
            "markers": self.markers,
            "language": self.language,
            "last_seen_within_days": self.last_seen_within_days,
            "registered_after": self.registered_after,
            "registered_before": self.registered_before,
            "has_purchased": self.has_purchased,
            "refund_abuse": self.refund_abuse,
        }
        criteria = {key: value for key, value in criteria.items() if value not in (None, "", [], {})}
        if "streams" in criteria:
            criteria["streams_match"] = self.streams_match
        return criteria

    @property
    def is_editable(self) -> bool:
        return self.status in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        try:
            validate_telegram_html(self.text, limit=CAPTION_LIMIT if self.photo else TEXT_LIMIT)
        except ValidationError as error:
            errors["text"] = error.messages
        try:
            validate_buttons(self.buttons)
        except ValidationError as error:
            errors["buttons"] = error.messages
        unknown = set(self.journey_stages or []) - set(JourneyStage.values)
        if not isinstance(self.journey_stages, list) or unknown:
            errors["journey_stages"] = [f"a list of stages among: {', '.join(JourneyStage.values)}"]
        if not isinstance(self.streams, list) or not all(isinstance(s, str) and s for s in self.streams):
            errors["streams"] = ["a list of stream tags (strings)"]
        if not isinstance(self.markers, dict):
            errors["markers"] = ['an object of marker values: {"key": "value"}']
        if self.registered_after and self.registered_before and self.registered_after > self.registered_before:
            errors["registered_before"] = ["must not be earlier than “registered after”"]
        if self.status == BroadcastStatus.SCHEDULED and not self.scheduled_at:
            errors["scheduled_at"] = ["a scheduled broadcast needs a time"]
        if errors:
            raise ValidationError(errors)


def validate_buttons(buttons: object) -> None:
    if not isinstance(buttons, list):
        raise ValidationError('a list of buttons: [{"text": "Open", "url": "https://…"}]')
    for number, button in enumerate(buttons, 1):
        if not isinstance(button, dict) or set(button) != {"text", "url"}:
            raise ValidationError(f'button {number}: needs exactly "text" and "url"')
        text, url = button["text"], button["url"]
        if not isinstance(text, str) or not text.strip() or len(text) > 64:
            raise ValidationError(f"button {number}: a text of 1 to 64 characters")
        if not isinstance(url, str) or not url.startswith(("https://", "http://", "tg://")):
            raise ValidationError(f"button {number}: the URL must start with https://, http:// or tg://")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    BLOCKED = "blocked", "Blocked"
    # The sender stopped (killed, timed out) after handing the message to Telegram and before hearing
    # back: it may have arrived, so it is never sent again.
    UNCONFIRMED = "unconfirmed", "Unconfirmed"


# Where a delivery ends up; the Broadcast keeps a counter of each.
FINAL_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.BLOCKED, DeliveryStatus.UNCONFIRMED)


class BroadcastDelivery(models.Model):
    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    user = models.ForeignKey(TelegramUser, on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    message_id = models.BigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "broadcast deliveries"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["broadcast", "user"], name="broadcast_delivery_once_per_user")]
        # Claiming the next pending delivery and counting by status.
        indexes = [models.Index(fields=["broadcast", "status", "id"], name="broadcast_delivery_queue")]

    def __str__(self) -> str:
        return f"{self.broadcast_id} → {self.user_id}: {self.status}"


class BroadcastAction(models.Model):
    """The audit: who created, scheduled, started, paused, resumed, cancelled or tested a broadcast."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=20)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.staff or 'the system'} at {self.at:%Y-%m-%d %H:%M:%S}"
