from django.db import models
from django.utils import timezone

from apps.users.models import TelegramUser


class AnalyticsEvent(models.Model):
    event_name = models.CharField(max_length=50)
    # No database constraint: an event may name a user the bot has not stored (yet), and raw
    # events outlive nothing but their retention window.
    user = models.ForeignKey(
        TelegramUser, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False
    )
    session_id = models.CharField(max_length=64, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    platform = models.CharField(max_length=20, default="telegram")

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["event_name", "occurred_at"], name="event_name_time"),
            models.Index(fields=["user", "occurred_at"], name="event_user_time"),
            models.Index(fields=["occurred_at"], name="event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} ({self.user_id}) at {self.occurred_at:%Y-%m-%d %H:%M}"
