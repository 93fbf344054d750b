from django.conf import settings
from rest_framework import serializers

from apps.analytics.serializers import PeriodInput

from .models import Operation
from .revenue import GROUPINGS


class OperationOutput(serializers.ModelSerializer):
    type = serializers.CharField(source="get_type_display")
    # Stored as a code (ModelName), read as the name.
    model = serializers.CharField(read_only=True, help_text='the model that answered ("": none)')

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


class CostsInput(PeriodInput):
    group_by = serializers.ChoiceField(
        choices=list(GROUPINGS),
        default="day",
        help_text="cohort: the week users registered (its Monday); source: their deep link; stage: their "
        "hero's-journey stage; persona: the persona that answered",
        error_messages={"invalid_choice": f"unknown grouping {{input!r}}: use one of {', '.join(GROUPINGS)}"},
    )


def _money(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=20, decimal_places=8, help_text=f"USD: {help_text}")


class CostsRowOutput(serializers.Serializer):
    """One row of llm/costs/ (apps.billing.revenue defines each figure)."""

    group = serializers.JSONField(
        help_text='the day, user id, model, provider, cohort week, source, stage or persona name ("": none); '
        "null: no user, or no request (cash) by model, provider or persona"
    )
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    credits_charged = serializers.DecimalField(
        max_digits=20, decimal_places=4, help_text="credits consumed, net of charges given back"
    )
    stars = serializers.IntegerField(help_text="Stars paid, net of refunds")
    cash_revenue = _money("Stars paid × STARS_USD_RATE, net of refunds")
    earned_revenue = _money("credits consumed, valued at what each user paid per credit (FIFO)")
    llm_cost = _money("what providers charged, chat and background")
    background_cost = _money("the part of llm_cost spent on profiles, journey analysis and transcription")
    margin = _money("earned_revenue - llm_cost")
    cost = _money("llm_cost, under the name it had first")


class JourneyStageOutput(serializers.Serializer):
    stage = serializers.CharField(help_text='the hero\'s-journey stage; "not analysed": none yet')
    users = serializers.IntegerField()
    paying = serializers.IntegerField(help_text="users who paid at least once")
    conversion = serializers.FloatField(help_text="paying / users, 0 to 1")
