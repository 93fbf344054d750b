from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import TelegramUser, UserActivityLog


def users_overview() -> dict[str, int]:
    now = timezone.now()
    return TelegramUser.objects.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(is_active=True)),
        new_today=Count("id", filter=Q(registration_date__gte=now - timedelta(days=1))),
        seen_today=Count("id", filter=Q(last_seen_date__gte=now - timedelta(days=1))),
        seen_week=Count("id", filter=Q(last_seen_date__gte=now - timedelta(days=7))),
    )


def user_latest_activity(*, user_id: int, limit: int = 20) -> QuerySet[UserActivityLog]:
    return UserActivityLog.objects.filter(user_id=user_id).order_by("-timestamp")[:limit]
