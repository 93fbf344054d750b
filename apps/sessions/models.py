from django.db import models
from django.db.models import Q
from django.utils import timezone


class SessionType(models.TextChoices):
    CHAT = "chat", "Chat"
    PROVOCATIVE = "provocative", "Provocative"
    DIAGNOSTIC = "diagnostic", "Diagnostic"
    JOURNEY = "journey", "Journey"


class UserSession(models.Model):
    """A conversation that survives restarts (seed 004). At most one is active per user."""

    user = models.ForeignKey("users.TelegramUser", on_delete=models.CASCADE, related_name="sessions")
    session_type = models.CharField(max_length=16, choices=SessionType.choices, default=SessionType.CHAT)
    state = models.CharField(max_length=64, blank=True)
    conversation_history = models.JSONField(default=list, blank=True)
    identified_patterns = models.JSONField(default=list, blank=True)
    core_issue = models.TextField(blank=True)
    question_count = models.PositiveIntegerField(default=0)
    metaphysical_profile = models.JSONField(default=dict, blank=True)
    core_trauma = models.JSONField(default=dict, blank=True)
    session_data = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(is_active=True), name="one_active_session_per_user")
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="session_user_time")]

    def __str__(self) -> str:
        state = "active" if self.is_active else "completed"
        return f"{self.session_type} session of {self.user_id} ({state}, {len(self.conversation_history)} turns)"
