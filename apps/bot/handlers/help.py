"""/help: what the bot does, its commands (the menu's), the user's balance and how to top up; and the answer
to a command none of the handlers knows."""

from telegram import Update

from apps.bot import static_text
from apps.bot.context import BotContext
from apps.bot.flows.account import help_answer
from apps.bot.menu import commands
from apps.bot.replies import Answer

from .answering import answer


async def help_command(update: Update, context: BotContext) -> None:
    user_id = update.effective_user.id
    await answer(update, context, lambda: help_answer(user_id, commands()))


async def unknown_command(update: Update, context: BotContext) -> None:
    """Registered after every command's handler: only what none of them took comes here."""
    await answer(update, context, lambda: Answer([str(static_text.UNKNOWN_COMMAND)]))
