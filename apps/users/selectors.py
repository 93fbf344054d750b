from datetime import timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .models import TelegramUser, UserActivityLog


def user_journey_stage(user_id: int) -> str | None:
    """The hero's-journey stage last read for the user ("" or None: not read yet)."""
    return TelegramUser.objects.filter(pk=user_id).values_list("last_journey_stage", flat=True).first()


def user_latest_activity(*, user_id: int, limit: int = 20) -> QuerySet[UserActivityLog]:
    return UserActivityLog.objects.filter(user_id=user_id).order_by("-timestamp")[:limit]


# Seed 004's profile rotation: who is due (the LLM work is the bot's flow).
ACTIVE_WINDOW = timedelta(days=30)
PROFILE_MAX_AGE = timedelta(days=7)


def profile_is_stale(user: TelegramUser, now=None) -> bool:
    updated = (user.markers or {}).get("profile_updated_at")
    return not updated or updated < ((now or timezone.now()) - PROFILE_MAX_AGE).isoformat()


def _has_written() -> Exists:
    """A profile is written from what the user did and said: until they have sent a message (commands
    alone say nothing about a person), there is nothing to write it from."""
    return Exists(UserActivityLog.objects.filter(user_id=OuterRef("pk"), activity_type="message"))


def users_due_for_rotation(now=None) -> QuerySet[TelegramUser]:
    """Seen in the last 30 days, with something written and no profile or one older than 7 days; never an
    erased user's pseudonym (its activity stays, it is nobody to write a profile of)."""
    now = now or timezone.now()
    stale = Q(markers__profile_updated_at__isnull=True) | Q(
        markers__profile_updated_at__lt=(now - PROFILE_MAX_AGE).isoformat()
    )
    recent = TelegramUser.objects.filter(
        stale, last_seen_date__gte=now - ACTIVE_WINDOW, is_active=True, erased_at__isnull=True
    )
    return recent.filter(_has_written()).order_by("id")


def profile_due(user: TelegramUser) -> bool:
    """Whether the user's profile is to be written now: stale (or absent), with something to write it from."""
    return profile_is_stale(user) and TelegramUser.objects.filter(pk=user.pk).filter(_has_written()).exists()
