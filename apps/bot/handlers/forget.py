"""/forget: the question, and the buttons that erase everything about the user or nothing."""

import logging
from functools import partial

from asgiref.sync import async_to_sync, sync_to_async
from telegram import Update
from telegram.error import TelegramError

from apps.bot.context import BotContext
from apps.bot.flows.erase import SubscriptionNotCanceled
from apps.bot.flows.forget import forget_erase, forget_kept, forget_not_erased, forget_question
from apps.bot.gateway import star_subscription_cancel_by
from apps.bot.keyboards import FORGET_ERASE

from .answering import acknowledge, answer

logger = logging.getLogger(__name__)


async def forget(update: Update, context: BotContext) -> None:
    user_id = update.effective_user.id
    await answer(update, context, lambda: forget_question(user_id))


async def forget_button(update: Update, context: BotContext) -> None:
    """The erase is answered by editing the question, not through a stored reply (apps.bot.replies): that row,
    written after the erase, would keep the erased person's chat id. Nothing else of the update writes after
    this handler; its contact was recorded before it, and is erased with the rest. Their subscription is
    cancelled through this handler's bot, on its loop, from the erase's thread. When Telegram does not cancel it,
    nothing is erased and the question says to try again (a stored reply: the person is still there)."""
    query = update.callback_query
    await acknowledge(query)
    if query.data != FORGET_ERASE:
        await answer(update, context, forget_kept)
        return
    asked_at = query.message.date if query.message is not None and query.message.is_accessible else None
    cancel_subscription = partial(async_to_sync(star_subscription_cancel_by), context.bot)
    try:
        done = await sync_to_async(forget_erase)(
            query.from_user.id, asked_at=asked_at, cancel_subscription=cancel_subscription
        )
    except SubscriptionNotCanceled as error:
        logger.info("/forget erased nothing: %s", error)
        await answer(update, context, forget_not_erased)
        return
    try:
        await query.edit_message_text(done)
    except TelegramError as error:
        # Not retried: the erase is done, and processing the update again would only register them anew.
        logger.info("erase confirmation not shown: %s", error)
