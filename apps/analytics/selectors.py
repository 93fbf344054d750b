"""Seed 000's readers, answered from the rollups (never by scanning raw requests)."""

from datetime import date

from django.db.models import F

from .models import DailyUsage, UserUsageSummary


def _as_date(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(day)


def get_user_daily_usage(user_id: int, day: date | str) -> int:
    tokens = DailyUsage.objects.filter(user_id=user_id, date=_as_date(day)).values_list("total_tokens", flat=True)
    return next(iter(tokens), 0)


def get_user_total_usage(user_id: int) -> int:
    tokens = UserUsageSummary.objects.filter(user_id=user_id).values_list("total_tokens", flat=True)
    return next(iter(tokens), 0)


def get_all_users_usage_by_date(day: date | str) -> list[dict]:
    return list(
        DailyUsage.objects.filter(date=_as_date(day))
        .order_by("-total_tokens", "user_id")
        .values(
            "user_id",
            "requests",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cost",
            username=F("user__username"),
        )
    )
