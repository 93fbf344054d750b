"""/stats: today's figures for the bot's admins, from analytics and billing."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from apps.analytics.selectors import activity_daily
from apps.billing.revenue import GROUPINGS, Figures, revenue_rows
from apps.core.dates import day_start

CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def today_figures() -> dict:
    """Today's activity, tokens, LLM cost (background included), earned revenue and the margin, as the
    dashboard and llm/costs/ give them for today; money to the cent."""
    today = timezone.localdate()
    activity = activity_daily(today, today)[0]
    rows = revenue_rows(day_start(today), timezone.now() + timezone.timedelta(seconds=1), GROUPINGS["day"])
    money = rows[0] if rows else Figures().as_row(today)
    return {
        **activity,
        "tokens": money["total_tokens"],
        "cost": _cents(money["llm_cost"]),
        "revenue": _cents(money["earned_revenue"]),
        "margin": _cents(money["margin"]),
    }
