"""/stats: today's figures for the bot's admins, from analytics and billing."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from apps.analytics.selectors import activity_daily
from apps.billing.revenue import GROUPINGS, Figures, revenue_rows
from apps.bot import static_text
from apps.core.dates import day_start
from apps.core.money import count_text, usd_text

CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def today_figures() -> dict:
    """Today's activity, tokens, LLM cost (background included and apart), earned and cash revenue and the
    margin, as the dashboard and llm/costs/ give them for today; money to the cent."""
    today = timezone.localdate()
    activity = activity_daily(today, today)[0]
    rows = revenue_rows(day_start(today), timezone.now() + timezone.timedelta(seconds=1), GROUPINGS["day"])
    money = rows[0] if rows else Figures().as_row(today)
    return {
        **activity,
        "tokens": money["total_tokens"],
        "cost": _cents(money["llm_cost"]),
        "background": _cents(money["background_cost"]),
        "revenue": _cents(money["earned_revenue"]),
        "cash": _cents(money["cash_revenue"]),
        "margin": _cents(money["margin"]),
    }


def stats_text() -> str:
    """/stats in the admin's language: earned revenue (what /stats called revenue) and cash apart."""
    today = today_figures()
    counts = {name: count_text(today[name]) for name in ("active_users", "new_users", "messages", "tokens")}
    money = {name: usd_text(today[name]) for name in ("cost", "background", "cash", "margin")}
    return static_text.STATS.format(date=today["date"], earned=usd_text(today["revenue"]), **counts, **money)
