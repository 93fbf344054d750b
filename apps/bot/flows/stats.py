"""/stats: today's figures for the bot's admins, from analytics and billing."""

from django.utils import timezone

from apps.analytics.selectors import activity_daily
from apps.billing.selectors import llm_costs
from apps.core.dates import day_start


def today_figures() -> dict:
    today = timezone.localdate()
    activity = activity_daily(today, today)[0]
    costs = next(iter(llm_costs(day_start(today), timezone.now() + timezone.timedelta(seconds=1), "day")), None)
    return {
        **activity,
        "tokens": costs["total_tokens"] if costs else 0,
        "cost": costs["cost"] if costs else 0,
        "revenue": costs["revenue"] if costs else 0,
        "margin": costs["margin"] if costs else 0,
    }
