import django_filters

from .models import AnalyticsEvent


class EventFilter(django_filters.FilterSet):
    event_name = django_filters.CharFilter()
    user_id = django_filters.NumberFilter()
    start = django_filters.DateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    end = django_filters.DateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AnalyticsEvent
        fields = ["event_name", "user_id", "start", "end"]
