from django.conf import settings
from django.db import models
from django.utils import timezone


class Gender(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"


class TelegramUser(models.Model):
    """A person who talks to the bot. Staff are Django's own `auth.User`, not these."""

    id = models.BigIntegerField(primary_key=True, help_text="Telegram user id")
    username = models.CharField(max_length=64, blank=True)
    first_name = models.CharField(max_length=128, blank=True)
    last_name = models.CharField(max_length=128, blank=True)
    language_code = models.CharField(max_length=16, blank=True)
    bot_language = models.CharField(
        max_length=8, blank=True, help_text="Chosen with /language (settings.LANGUAGES); empty: by language_code"
    )
    is_premium = models.BooleanField(default=False)
    registration_date = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen_date = models.DateTimeField(default=timezone.now, db_index=True)

    gender = models.CharField(max_length=8, choices=Gender.choices, blank=True)
    psychological_summary = models.TextField(blank=True)
    profile_summary = models.TextField(blank=True)
    metaphysical_profile = models.JSONField(default=dict, blank=True)
    # apps.journey.models.JourneyStage values; null = not analysed yet, apart from any stage.
    last_journey_stage = models.CharField(max_length=32, null=True, blank=True, db_index=True)  # noqa: DJ001
    streams = models.JSONField(default=list, blank=True, help_text="List of stream tags")
    markers = models.JSONField(default=dict, blank=True)

    has_started_journey = models.BooleanField(default=False)
    has_completed_journey = models.BooleanField(default=False)
    has_visited_platform = models.BooleanField(default=False)
    has_purchased_flow = models.BooleanField(default=False)

    is_admin = models.BooleanField(default=False, help_text="May use the bot's admin commands")
    is_active = models.BooleanField(default=True, db_index=True, help_text="False once the user blocks the bot")
    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="Set on the pseudonym row that keeps an erased user's ledger and payments: not a person",
    )
    source = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Deep-link payload of the first /start"
    )
    staff_account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="telegram_account",
        help_text="The staff member who uses this Telegram account (broadcast tests go here)",
    )

    class Meta:
        verbose_name = "Telegram user"
        permissions = [("erase_telegramuser", "Can erase a Telegram user everywhere")]

    def __str__(self) -> str:
        if self.erased_at is not None:  # the pseudonym that keeps an erased user's ledger
            return f"erased user ({self.id})"
        return f"@{self.username}" if self.username else f"{self.full_name or 'user'} ({self.id})"

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class ErasureReceipt(models.Model):
    """What one erase did (apps.bot.flows.erase): when, by whom, why, and how many rows of each table were
    deleted or moved to the pseudonym. It names no one: the pseudonym row it points at is random, and
    keeps only what aggregates group by."""

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        COMMAND = "command", "manage.py erase_user"
        USER = "user", "The user (/forget)"

    erased_at = models.DateTimeField(default=timezone.now, db_index=True)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=8, choices=Via.choices)
    reason = models.TextField()
    pseudonym_id = models.BigIntegerField(help_text="The TelegramUser row that keeps the ledger and payments")
    counts = models.JSONField(default=dict, blank=True, help_text="Rows deleted or pseudonymised, per table")

    class Meta:
        ordering = ["-erased_at"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(reason=""), name="erasure_receipt_has_reason"),
        ]

    def __str__(self) -> str:
        return f"erasure of {self.erased_at:%Y-%m-%d %H:%M} ({self.get_via_display()})"


class ActivityRecord(models.Model):
    """The shape shared by the activity log and its archive."""

    user = models.ForeignKey(TelegramUser, on_delete=models.CASCADE, db_index=False)
    chat_id = models.BigIntegerField(null=True, blank=True)
    activity_type = models.CharField(max_length=32)
    timestamp = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
        ordering = ["-timestamp"]

    def __str__(self) -> str:
        return f"{self.activity_type} by {self.user_id} at {self.timestamp:%Y-%m-%d %H:%M}"


class UserActivityLog(ActivityRecord):
    class Meta(ActivityRecord.Meta):
        verbose_name = "activity"
        verbose_name_plural = "activity log"
        # Serves "a user's latest N" and "rows per user" (the archiving job's count).
        indexes = [models.Index(fields=["user", "-timestamp"], name="activity_user_time")]


class UserActivityLogArchive(ActivityRecord):
    archived_at = models.DateTimeField(default=timezone.now)

    class Meta(ActivityRecord.Meta):
        verbose_name = "archived activity"
        verbose_name_plural = "activity archive"
        indexes = [models.Index(fields=["user", "-timestamp"], name="activity_archive_user_time")]


class ActiveUserDay(models.Model):
    """One row per user and day (settings.TIME_ZONE) with any contact, and how many of them were messages or
    commands: daily, weekly and monthly active users and retention without scanning the activity log. Written
    with the contact, in its transaction; outlives the log's archiving."""

    date = models.DateField()
    # No database constraint: the row stays, moved to the pseudonym, when the user is erased.
    user = models.ForeignKey(
        TelegramUser, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    messages = models.PositiveIntegerField(default=0, help_text="messages and commands")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["date", "user"], name="active_user_day_date_user")]
        indexes = [models.Index(fields=["user", "date"], name="active_user_day_user_date")]

    def __str__(self) -> str:
        return f"{self.user_id} active on {self.date}"


class ProfileRotationRun(models.Model):
    """One run of the profile rotation: what it found and what it did."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    selected = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"rotation at {self.started_at:%Y-%m-%d %H:%M}: {self.updated}/{self.selected} updated"
