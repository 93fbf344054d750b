from datetime import date, datetime, timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from .catalogue import REQUIRED_PROPERTIES
from .models import AnalyticsEvent
from .rollups import ERROR_BOUND, RELATIVE_ERROR

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
    exact = serializers.BooleanField(
        default=False,
        help_text="true: count from the raw events (slow; the same definition, so the same answer while every raw "
        "event is kept) instead of each user's first time per event",
    )

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
    exact = serializers.BooleanField(
        default=False, help_text=f"true: exact percentiles from the raw events (slow). Otherwise: {ERROR_BOUND}"
    )


class RetentionInput(DateRangeInput):
    period = serializers.ChoiceField(choices=["day", "week"], default="day")


class EventOutput(serializers.ModelSerializer):
    class Meta:
        model = AnalyticsEvent
        fields = ["id", "event_name", "user_id", "session_id", "properties", "occurred_at", "platform"]


# --- What the views answer ------------------------------------------------------------------------
# The views return the selectors' rows as they are; these serializers describe those rows for the
# OpenAPI schema (tests/analytics/test_schema.py holds each real answer against its description).
# Money is an exact decimal string: the API's renderer writes every Decimal so.
def usd(help_text: str = "USD") -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=16, decimal_places=8, help_text=help_text)


class DetailOutput(serializers.Serializer):
    """A refusal: not authenticated, not allowed, not found, throttled."""

    detail = serializers.CharField()


class ValidationErrorsOutput(serializers.Serializer):
    """A 400: each bad parameter's name, with its messages. The names are the keys, which fields cannot
    say; the schema is given whole below."""


class ValidationErrorsSchema(OpenApiSerializerExtension):
    target_class = ValidationErrorsOutput

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict:
        return {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"date": ["This field is required."]},
        }


class TokenFigures(serializers.Serializer):
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cost = usd("USD: what the providers charged")


class DailyUsageRowOutput(TokenFigures):
    user_id = serializers.IntegerField()
    username = serializers.CharField(help_text='"": the user has none')


class UsageFigures(TokenFigures):
    errors = serializers.IntegerField(help_text="requests that failed")


class UsageDayOutput(UsageFigures):
    date = serializers.DateField()
    models = serializers.DictField(child=serializers.IntegerField(), help_text="requests per model")
    providers = serializers.DictField(child=serializers.IntegerField(), help_text="requests per provider")


class UserUsageOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    days = UsageDayOutput(many=True, help_text="the days with any request, oldest first")
    totals = UsageFigures(help_text="the days' sums")


class UserUsageTotalOutput(UsageFigures):
    user_id = serializers.IntegerField()
    average_latency_ms = serializers.FloatField()
    success_rate = serializers.FloatField(help_text="0 to 1")
    last_activity = serializers.DateTimeField(allow_null=True, help_text="the last request; null: none yet")


class FunnelStepOutput(serializers.Serializer):
    step = serializers.CharField()
    users = serializers.IntegerField(help_text="users who reached this step after the ones before")
    conversion_from_previous = serializers.FloatField(help_text="0 to 1")
    conversion_from_first = serializers.FloatField(help_text="0 to 1")


class ResponseTimesRowOutput(serializers.Serializer):
    bucket = serializers.DateTimeField(help_text="the hour or day (days in the server's time zone)")
    count = serializers.IntegerField()
    avg_ms = serializers.FloatField()
    p50_ms = serializers.FloatField(help_text=f"without exact: within {RELATIVE_ERROR:.1%} (0.5 ms below 1 ms)")
    p95_ms = serializers.FloatField(help_text=f"without exact: within {RELATIVE_ERROR:.1%} (0.5 ms below 1 ms)")
    ttft_p50_ms = serializers.FloatField(
        allow_null=True, help_text="median time to the answer's first text; null: no answer of the bucket says"
    )


class RetentionCohortOutput(serializers.Serializer):
    cohort = serializers.DateField(help_text="the registration day, or the Monday of its week")
    size = serializers.IntegerField()
    returned = serializers.ListField(
        child=serializers.IntegerField(), help_text="users active in each period from the cohort's own on"
    )
    rates = serializers.ListField(child=serializers.FloatField(), help_text="returned / size, 0 to 1")


class ActivityDayOutput(serializers.Serializer):
    date = serializers.DateField()
    active_users = serializers.IntegerField()
    new_users = serializers.IntegerField()
    messages = serializers.IntegerField(help_text="texts and commands received")


class ActiveUsersOutput(serializers.Serializer):
    date = serializers.DateField()
    dau = serializers.IntegerField()
    wau = serializers.IntegerField()
    mau = serializers.IntegerField()
    new_users = serializers.IntegerField(help_text="registered that day")
