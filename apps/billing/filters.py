import django_filters
from django.db.models import QuerySet

from .models import Operation, OperationType

# The names the API returns ("payment", "generation", …), and the stored numbers too.
_TYPE_CHOICES = [(kind.label, kind.label) for kind in OperationType] + [
    (str(kind.value), kind.label) for kind in OperationType
]


class OperationFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=_TYPE_CHOICES, method="of_type", help_text="payment, generation, …")

    class Meta:
        model = Operation
        fields = ["type"]

    def of_type(self, queryset: QuerySet[Operation], name: str, value: str) -> QuerySet[Operation]:
        code = int(value) if value.isdigit() else next(kind.value for kind in OperationType if kind.label == value)
        return queryset.filter(type=code)
