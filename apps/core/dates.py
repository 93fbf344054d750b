from datetime import date, datetime, time, tzinfo

from django.utils import timezone


def day_start(day: date, tz: tzinfo | None = None) -> datetime:
    """The first instant of `day` in `tz` (the current time zone, TIME_ZONE, unless given)."""
    return datetime.combine(day, time.min, tzinfo=tz or timezone.get_current_timezone())
