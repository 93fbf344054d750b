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
        # PostgreSQL adds covering indexes for the funnel and response times (migration 0003).
        indexes = [
            models.Index(fields=["event_name", "occurred_at"], name="event_name_time"),
            models.Index(fields=["user", "occurred_at"], name="event_user_time"),
            models.Index(fields=["occurred_at"], name="event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} ({self.user_id}) at {self.occurred_at:%Y-%m-%d %H:%M}"


class EventDailyCount(models.Model):
    """Events per name and day (UTC): what outlives the raw events' retention window."""

    date = models.DateField()
    event_name = models.CharField(max_length=50)
    events = models.PositiveIntegerField()
    users = models.PositiveIntegerField(help_text="distinct users")

    class Meta:
        ordering = ["-date", "event_name"]
        constraints = [models.UniqueConstraint(fields=["date", "event_name"], name="event_daily_count_day_name")]

    def __str__(self) -> str:
        return f"{self.event_name} on {self.date}: {self.events}"


class DatabaseSizeSnapshot(models.Model):
    """The database's size, daily: how fast the 1 GB budget fills."""

    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    total_bytes = models.BigIntegerField()
    tables = models.JSONField(default=dict)

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"{self.total_bytes:,} bytes at {self.taken_at:%Y-%m-%d}"
