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


class DailyUsage(models.Model):
    """One user's LLM usage on one day, kept current by the same transaction as each request."""

    user = models.ForeignKey(TelegramUser, on_delete=models.CASCADE, related_name="daily_usage", db_index=False)
    date = models.DateField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)
    providers = models.JSONField(default=dict, blank=True, help_text="requests per provider")
    # Last: from here on, `models` in this class body is this field, not django.db.models.
    models = models.JSONField(default=dict, blank=True, help_text="requests per model")

    class Meta:
        verbose_name_plural = "daily usage"
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["user", "date"], name="daily_usage_user_date")]
        indexes = [models.Index(fields=["date"], name="daily_usage_date")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.date}: {self.total_tokens} tokens"


class UserUsageSummary(models.Model):
    user = models.OneToOneField(TelegramUser, on_delete=models.CASCADE, primary_key=True, related_name="usage")
    total_requests = models.PositiveIntegerField(default=0)
    total_errors = models.PositiveIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    total_cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)
    total_latency_ms = models.BigIntegerField(default=0)
    last_activity = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "user usage summaries"

    def __str__(self) -> str:
        return f"usage of {self.user_id}: {self.total_tokens} tokens"

    @property
    def average_latency_ms(self) -> float:
        return self.total_latency_ms / self.total_requests if self.total_requests else 0.0

    @property
    def success_rate(self) -> float:
        return (self.total_requests - self.total_errors) / self.total_requests if self.total_requests else 0.0


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
