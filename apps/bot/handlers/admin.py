from asgiref.sync import sync_to_async
from telegram import Update

from apps.bot import static_text
from apps.bot.context import BotContext
from apps.bot.flows.stats import today_figures


async def stats(update: Update, context: BotContext) -> None:
    """Today's figures, for the bot's admins (is_admin); everyone else is told the command is unknown."""
    contact = context.contact
    if contact is None or not contact.user.is_admin:
        await update.effective_message.reply_text(static_text.UNKNOWN_COMMAND, do_quote=False)
        return
    figures = await sync_to_async(today_figures)()
    await update.effective_message.reply_text(static_text.STATS.format(**figures), do_quote=False)
