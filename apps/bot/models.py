from django.conf import settings
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


class ReplyKind(models.TextChoices):
    MESSAGE = "message", "Messages"
    EDIT = "edit", "Edit of the pressed message"
    INVOICE = "invoice", "Invoice"
    DOCUMENT = "document", "Document"


class Reply(models.Model):
    """What the bot answers one update, produced once. Processing is at least once (a killed worker's
    update is delivered again): the redelivery sends what is stored here instead of doing the work
    again (asking the LLM, charging, writing), and nothing once Telegram confirmed all of it.

    `parts` holds the texts (or the invoice's or the document's fields), what the model wrote included: it is
    cleared once everything is sent, and the row goes with the inbox's processed updates."""

    update_id = models.BigIntegerField(primary_key=True)
    chat_id = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=ReplyKind.choices, default=ReplyKind.MESSAGE)
    parts = models.JSONField(default=list, blank=True)
    # The inline keyboard of the last part, as the Bot API's JSON.
    markup = models.JSONField(null=True, blank=True)
    sent = models.PositiveSmallIntegerField(default=0, help_text="parts Telegram confirmed")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="all of it confirmed")

    class Meta:
        verbose_name_plural = "replies"
        indexes = [models.Index(fields=["created_at"], name="reply_created")]

    def __str__(self) -> str:
        return f"reply to update {self.update_id} ({self.sent}/{len(self.parts) or self.sent} sent)"


class VoiceTranscript(models.Model):
    """What a voice note said, kept by its update from the transcription's charge until the answer to it is
    stored (apps.bot.flows.voice): a redelivered update is answered from it, never transcribed or charged
    again. Deleted once the answer is stored; what a crash left behind goes with the replies."""

    update_id = models.BigIntegerField(primary_key=True)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"transcript of update {self.update_id}"


class BotText(models.Model):
    """What staff wrote for one of the bot's texts (apps.bot.static_text, by its key) in one language, used
    instead of the code's text; empty: the code's text. The admin lists a row for every key and language."""

    key = models.CharField(max_length=100)
    language = models.CharField(max_length=10)
    text = models.TextField("override", blank=True)
    updated_at = models.DateTimeField("edited", null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="edited by",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "bot text"
        ordering = ["key", "language"]
        constraints = [models.UniqueConstraint(fields=["key", "language"], name="bottext_key_language")]

    def __str__(self) -> str:
        return f"{self.key} ({self.language})"


class JobRun(models.Model):
    """One run of a scheduled job (config/schedule.py), written by the process that ran it (a worker, an
    eager call, `run_job`): beat's own last_run_at only says when a job was sent, not whether it worked.
    A row is written when the run starts and completed when it ends; one left unfinished is a run that is
    still going or a worker that died under it. Only the last few runs of each job are kept."""

    task = models.CharField(max_length=200)  # the Celery task's registered name, as in PeriodicTask.task
    # Celery's id of this run: its end is recorded from any process (a hard time limit is seen by the parent).
    task_id = models.CharField(max_length=64)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)  # None while running
    summary = models.CharField(max_length=200, blank=True)  # what the run did, as staff read it
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "job run"
        ordering = ["-started_at", "-pk"]
        indexes = [
            models.Index(fields=["task", "started_at"], name="jobrun_task_started"),
            models.Index(fields=["task_id"], name="jobrun_task_id"),
        ]

    def __str__(self) -> str:
        return f"{self.task} at {self.started_at:%Y-%m-%d %H:%M:%S}"
