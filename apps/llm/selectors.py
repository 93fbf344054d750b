from datetime import date, timedelta

from apps.core.dates import day_start

from .models import LLMRequest, RequestType


def chatted_on(user_id: int, day: date) -> bool:
    """Whether the user was answered in chat on `day` (the local day): their first chat request of a day
    starts a dialog. Background requests about them (profiles, journey readings) do not count."""
    start = day_start(day)
    return LLMRequest.objects.filter(
        user_id=user_id, request_type=RequestType.CHAT, created_at__gte=start, created_at__lt=start + timedelta(days=1)
    ).exists()
