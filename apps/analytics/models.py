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


class UserFirstEvent(models.Model):
    """Each user's first time at each event (kept at ingest, rebuilt by rebuild_analytics_rollups): a funnel
    over any window is a join over at most one row per user and step, never a scan of the raw events.
    Outlives the raw events' retention, as EventDailyCount does."""

    user_id = models.BigIntegerField()
    event_name = models.CharField(max_length=50)
    first_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "event_name"], name="user_first_event_user_name")]
        # A funnel's first step: who first did it within the window, read from the index alone.
        indexes = [models.Index(fields=["event_name", "first_at", "user_id"], name="user_first_event_name_time")]

    def __str__(self) -> str:
        return f"{self.user_id} first {self.event_name} at {self.first_at:%Y-%m-%d %H:%M}"


class ResponseTimeBucket(models.Model):
    """Per UTC hour, a histogram of ai_response_time's duration_ms and ttft_ms in fixed log-scale buckets
    (kept at ingest, rebuilt by rebuild_analytics_rollups).

    Bucket 0 holds values below 1 ms; bucket b ≥ 1 holds [RATIO**(b-1), RATIO**b) ms with RATIO = 1.1. A
    value read back from a bucket is its geometric middle, RATIO**(b-0.5): within sqrt(1.1) - 1 ≈ 4.9% of any
    value in it (0.5 ms below 1 ms). Percentiles interpolate between the ranks' values as percentile_cont does,
    so they carry the same bound; the average is exact (total_ms / count)."""

    class Metric(models.IntegerChoices):
        DURATION = 1, "duration_ms"
        TTFT = 2, "ttft_ms"

    hour = models.DateTimeField()
    metric = models.PositiveSmallIntegerField(choices=Metric.choices)
    bucket = models.SmallIntegerField()
    count = models.PositiveIntegerField()
    total_ms = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "metric", "bucket"], name="response_time_bucket_hour_metric")
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} bucket {self.bucket} at {self.hour:%Y-%m-%d %H}: {self.count}"
