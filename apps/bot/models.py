from django.db import models
from django.utils import timezone


class InboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class InboxUpdate(models.Model):
    """An update Telegram delivered to the webhook: stored before it is acknowledged.

    The primary key is Telegram's update_id, so a retried delivery cannot be stored twice.
    The payload (it holds the user's message) is cleared once the update is processed.
    """

    update_id = models.BigIntegerField(primary_key=True)
    update_type = models.CharField(max_length=40, blank=True)
    payload = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=InboxStatus.choices, default=InboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The Celery task id of the current claim: a redelivered message may take its own claim back.
    claim_token = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "inbox update"
        ordering = ["-received_at"]
        indexes = [
            # The sweeper's scan, and the admin's "failed" filter.
            models.Index(fields=["status", "received_at"], name="inbox_status_received"),
            models.Index(fields=["processed_at"], name="inbox_processed"),
        ]

    def __str__(self) -> str:
        return f"update {self.update_id} ({self.update_type or 'unknown'}, {self.status})"
