from telegram import Update

from apps.bot import static_text
from apps.bot.context import BotContext
from apps.bot.flows.stats import stats_text
from apps.bot.replies import Answer

from .answering import answer


async def stats(update: Update, context: BotContext) -> None:
    """Today's figures, for the bot's admins (is_admin); everyone else is told the command is unknown."""
    contact = context.contact
    allowed = contact is not None and contact.user.is_admin

    def figures() -> Answer:
        if not allowed:
            return Answer([str(static_text.UNKNOWN_COMMAND)])
        return Answer([stats_text()])

    await answer(update, context, figures)
