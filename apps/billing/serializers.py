from django.conf import settings
from rest_framework import serializers

from .models import Operation


class OperationOutput(serializers.ModelSerializer):
    type = serializers.CharField(source="get_type_display")

    class Meta:
        model = Operation
        fields = [
            "id",
            "type",
            "amount",
            "balance_after",
            "model",
            "result_url",
            "llm_request_id",
            "payment_id",
            "reason",
            "created_at",
        ]


class BalanceOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    balance = serializers.DecimalField(max_digits=14, decimal_places=4)
    unit = serializers.CharField(default=settings.BILLING_UNIT)
