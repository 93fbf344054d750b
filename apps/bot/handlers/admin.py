from asgiref.sync import sync_to_async
from django.utils import timezone
from telegram import Update

from apps.analytics.selectors import activity_daily
from apps.billing.selectors import llm_costs
from apps.bot import static_text
from apps.bot.context import BotContext
from apps.core.dates import day_start


def _today_figures() -> dict:
    today = timezone.localdate()
    activity = activity_daily(today, today)[0]
    start = day_start(today)
    costs = next(iter(llm_costs(start, timezone.now() + timezone.timedelta(seconds=1), "day")), None)
    return {
        **activity,
        "tokens": costs["total_tokens"] if costs else 0,
        "cost": costs["cost"] if costs else 0,
        "revenue": costs["revenue"] if costs else 0,
        "margin": costs["margin"] if costs else 0,
    }


async def stats(update: Update, context: BotContext) -> None:
    """Today's figures, for the bot's admins (is_admin); everyone else is told the command is unknown."""
    contact = context.contact
    if contact is None or not contact.user.is_admin:
        await update.effective_message.reply_text(static_text.UNKNOWN_COMMAND, do_quote=False)
        return
    figures = await sync_to_async(_today_figures)()
    await update.effective_message.reply_text(static_text.STATS.format(**figures), do_quote=False)
