from datetime import UTC, datetime

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from .models import AnalyticsEvent
from .serializers import OUT_OF_RANGE, date_in_range


def _sensible_moment(value: datetime) -> None:
    if not date_in_range(value):
        raise ValidationError(OUT_OF_RANGE)


class MomentFilter(django_filters.DateTimeFilter):
    """A date or datetime within 2000-2100, compared in UTC: PostgreSQL refuses offsets past ±15:59,
    which ISO 8601 allows."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, validators=[_sensible_moment], **kwargs)

    def filter(self, queryset: QuerySet, value: datetime | None) -> QuerySet:
        return super().filter(queryset, value.astimezone(UTC) if value is not None else value)


class EventFilter(django_filters.FilterSet):
    event_name = django_filters.CharFilter()
    user_id = django_filters.NumberFilter()
    start = MomentFilter(field_name="occurred_at", lookup_expr="gte")
    end = MomentFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AnalyticsEvent
        fields = ["event_name", "user_id", "start", "end"]
