from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone


class ModelPrice(models.Model):
    """A provider's list price for a model, from `valid_from` on. A change is a new row, so the cost
    stored on past requests never moves."""

    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=64)
    input_per_1m = models.DecimalField("input per 1M tokens", max_digits=12, decimal_places=6)
    cached_input_per_1m = models.DecimalField(
        "cached input per 1M tokens",
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Empty: cached input costs the same as input",
    )
    output_per_1m = models.DecimalField("output per 1M tokens", max_digits=12, decimal_places=6)
    per_audio_minute = models.DecimalField(
        "per audio minute",
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Transcription models: the price of a minute of audio (billed by the second)",
    )
    currency = models.CharField(max_length=3, default="USD")
    valid_from = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "model", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model", "valid_from"], name="model_price_unique_from")
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} from {self.valid_from:%Y-%m-%d}"

    def cost(self, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> Decimal:
        cached_price = self.cached_input_per_1m if self.cached_input_per_1m is not None else self.input_per_1m
        total = (
            (prompt_tokens - cached_tokens) * self.input_per_1m
            + cached_tokens * cached_price
            + completion_tokens * self.output_per_1m
        )
        return (total / 1_000_000).quantize(Decimal("0.00000001"))

    def audio_cost(self, seconds: int) -> Decimal | None:
        """What `seconds` of audio cost to transcribe; None: this model has no price per minute."""
        if self.per_audio_minute is None:
            return None
        return (self.per_audio_minute * seconds / 60).quantize(Decimal("0.00000001"))


class BotPersona(models.Model):
    """Who the bot is in chat: the system prompt and the model settings. One is active."""

    name = models.CharField(max_length=100)
    system_prompt = models.TextField()
    model = models.CharField(max_length=64, blank=True, help_text="Empty: OPENAI_MODEL")
    temperature = models.FloatField(default=0.7)
    max_tokens = models.PositiveIntegerField(default=800, help_text="Longest answer, in tokens")
    is_active = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_persona")
        ]

    def __str__(self) -> str:
        return f"{self.name}{' (active)' if self.is_active else ''}"


class RequestType(models.TextChoices):
    CHAT = "chat", "Chat reply"
    JOURNEY_ANALYSIS = "journey_analysis", "Journey analysis"
    PROFILE_SUMMARY = "profile_summary", "Profile summary"
    TRANSCRIPTION = "transcription", "Voice transcription"


class RequestStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"
    TIMEOUT = "timeout", "Timeout"
    RATE_LIMITED = "rate_limited", "Rate limited"


class LLMRequest(models.Model):
    """One LLM call, metered. Token counts are null when the provider did not report them."""

    user = models.ForeignKey(
        "users.TelegramUser", null=True, blank=True, on_delete=models.SET_NULL, related_name="llm_requests"
    )
    session = models.ForeignKey(
        "bot_sessions.UserSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="llm_requests"
    )
    # Who answered a chat turn (margin by persona); empty for background requests.
    persona = models.ForeignKey(
        BotPersona, null=True, blank=True, on_delete=models.SET_NULL, related_name="llm_requests", db_index=False
    )
    request_type = models.CharField(max_length=24, choices=RequestType.choices, default=RequestType.CHAT)
    provider = models.CharField(max_length=32)
    model = models.TextField(help_text="the provider's model id, whatever its length")
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    cached_tokens = models.PositiveIntegerField(null=True, blank=True)
    audio_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="transcriptions: audio transcribed")
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=RequestStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=1)
    error_message = models.CharField(max_length=500, blank=True)
    # Only with STORE_PROMPTS, and then at most 1000 characters each.
    prompt_text = models.TextField(blank=True)
    response_text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "LLM request"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="llm_request_time"),
            models.Index(fields=["user", "created_at"], name="llm_request_user_time"),
        ]

    def __str__(self) -> str:
        return f"{self.request_type} {self.provider}/{self.model} {self.status} at {self.created_at:%Y-%m-%d %H:%M}"


class DailyUsage(models.Model):
    """One user's LLM usage on one day, kept current by the same transaction as each request."""

    user = models.ForeignKey("users.TelegramUser", on_delete=models.CASCADE, related_name="daily_usage", db_index=False)
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
        db_table = "analytics_dailyusage"  # kept when the model moved here from analytics
        verbose_name_plural = "daily usage"
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["user", "date"], name="daily_usage_user_date")]
        indexes = [models.Index(fields=["date"], name="daily_usage_date")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.date}: {self.total_tokens} tokens"


class UserUsageSummary(models.Model):
    user = models.OneToOneField("users.TelegramUser", on_delete=models.CASCADE, primary_key=True, related_name="usage")
    total_requests = models.PositiveIntegerField(default=0)
    total_errors = models.PositiveIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    total_cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)
    total_latency_ms = models.BigIntegerField(default=0)
    last_activity = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "analytics_userusagesummary"  # kept when the model moved here from analytics
        verbose_name_plural = "user usage summaries"

    def __str__(self) -> str:
        return f"usage of {self.user_id}: {self.total_tokens} tokens"

    @property
    def average_latency_ms(self) -> float:
        return self.total_latency_ms / self.total_requests if self.total_requests else 0.0

    @property
    def success_rate(self) -> float:
        return (self.total_requests - self.total_errors) / self.total_requests if self.total_requests else 0.0
