"""/mydata: the user's data, as a JSON file."""

from telegram import Update

from apps.bot.context import BotContext
from apps.bot.flows.export import export_answer

from .answering import answer


async def my_data(update: Update, context: BotContext) -> None:
    user_id = update.effective_user.id
    await answer(update, context, lambda: export_answer(user_id))
