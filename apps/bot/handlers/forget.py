"""/forget: the question, and the buttons that erase everything about the user or nothing."""

import logging

from asgiref.sync import sync_to_async
from telegram import Update
from telegram.error import TelegramError

from apps.bot.context import BotContext
from apps.bot.flows.forget import forget_erase, forget_kept, forget_question
from apps.bot.keyboards import FORGET_ERASE

from .answering import acknowledge, answer

logger = logging.getLogger(__name__)


async def forget(update: Update, context: BotContext) -> None:
    user_id = update.effective_user.id
    await answer(update, context, lambda: forget_question(user_id))


async def forget_button(update: Update, context: BotContext) -> None:
    """The erase is answered by editing the question, not through a stored reply (apps.bot.replies): that row,
    written after the erase, would keep the erased person's chat id. Nothing else of the update writes after
    this handler; its contact was recorded before it, and is erased with the rest."""
    query = update.callback_query
    await acknowledge(query)
    if query.data != FORGET_ERASE:
        await answer(update, context, forget_kept)
        return
    asked_at = query.message.date if query.message is not None and query.message.is_accessible else None
    done = await sync_to_async(forget_erase)(query.from_user.id, asked_at=asked_at)
    try:
        await query.edit_message_text(done)
    except TelegramError as error:
        # Not retried: the erase is done, and processing the update again would only register them anew.
        logger.info("erase confirmation not shown: %s", error)
