"""Seed 003's kie_logs and debug_logs, and their purge."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.core.privacy import stored_error, stored_prompt

from ..models import DebugLog, GenerationLog


def log_kie_operation(
    user_id: int | None,
    model: str,
    prompt: str | None = None,
    result_url: str | None = None,
    error_message: str | None = None,
) -> GenerationLog:
    return GenerationLog.objects.create(
        user_id=user_id,
        model=model[:64],
        prompt=stored_prompt(prompt),
        result_url=(result_url or "")[:500],
        error=stored_error(error_message),
    )


def log_debug(level: str, message: str, context: dict | None = None) -> DebugLog:
    return DebugLog.objects.create(level=level[:10], message=message[:1000], context=context or {})


def logs_purge(*, retention_days: int | None = None) -> int:
    cutoff = timezone.now() - timedelta(days=retention_days or settings.LOG_RETENTION_DAYS)
    generation, _ = GenerationLog.objects.filter(created_at__lt=cutoff).delete()
    debug, _ = DebugLog.objects.filter(created_at__lt=cutoff).delete()
    return generation + debug
