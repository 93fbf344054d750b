from datetime import date, datetime, timedelta

from django.utils import timezone
from rest_framework import serializers

from .catalogue import REQUIRED_PROPERTIES
from .models import AnalyticsEvent

DATE_OR_DATETIME = ["iso-8601", "%Y-%m-%d"]
MAX_RANGE = timedelta(days=366)
# Dates outside these years are nobody's analytics; near the edges of Python's calendar, date
# arithmetic would overflow.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


OUT_OF_RANGE = f"must be between {EARLIEST} and {LATEST}"


def date_in_range(value: date | datetime) -> bool:
    return EARLIEST <= (value.date() if isinstance(value, datetime) else value) <= LATEST


def sensible_date(value: date | datetime) -> None:
    if not date_in_range(value):
        raise serializers.ValidationError(OUT_OF_RANGE)


class PeriodInput(serializers.Serializer):
    """start/end as dates or ISO datetimes; by default the last 30 days. At most a year at once."""

    start = serializers.DateTimeField(required=False, input_formats=DATE_OR_DATETIME, validators=[sensible_date])
    end = serializers.DateTimeField(required=False, input_formats=DATE_OR_DATETIME, validators=[sensible_date])

    def validate(self, data: dict) -> dict:
        end = data.get("end") or timezone.now()
        start = data.get("start") or end - timedelta(days=30)
        if start >= end:
            raise serializers.ValidationError({"start": "start must be before end"})
        if end - start > MAX_RANGE:
            raise serializers.ValidationError({"end": "at most 366 days at once"})
        return {**data, "start": start, "end": end}


class DayInput(serializers.Serializer):
    date = serializers.DateField(validators=[sensible_date])


class DateRangeInput(serializers.Serializer):
    """Inclusive dates; by default the last 30 days."""

    start = serializers.DateField(required=False, validators=[sensible_date])
    end = serializers.DateField(required=False, validators=[sensible_date])

    def validate(self, data: dict) -> dict:
        end = data.get("end") or timezone.localdate()
        start = data.get("start") or end - timedelta(days=29)
        if start > end:
            raise serializers.ValidationError({"start": "start must not be after end"})
        if end - start > MAX_RANGE:
            raise serializers.ValidationError({"end": "at most 366 days at once"})
        return {**data, "start": start, "end": end}


class FunnelInput(PeriodInput):
    steps = serializers.CharField(help_text="comma-separated event names, in order (2 to 10)")

    def validate_steps(self, value: str) -> list[str]:
        steps = [step.strip() for step in value.split(",") if step.strip()]
        if not 2 <= len(steps) <= 10:
            raise serializers.ValidationError("give 2 to 10 comma-separated event names")
        unknown = [step for step in steps if step not in REQUIRED_PROPERTIES]
        if unknown:
            raise serializers.ValidationError(f"unknown events: {', '.join(unknown)}")
        return steps


class ResponseTimesInput(PeriodInput):
    interval = serializers.ChoiceField(choices=["hour", "day"], default="hour")


class RetentionInput(DateRangeInput):
    period = serializers.ChoiceField(choices=["day", "week"], default="day")


class EventOutput(serializers.ModelSerializer):
    class Meta:
        model = AnalyticsEvent
        fields = ["id", "event_name", "user_id", "session_id", "properties", "occurred_at", "platform"]
