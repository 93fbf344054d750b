import logging

from asgiref.sync import sync_to_async
from telegram import Update
from telegram.constants import ChatType
from telegram.error import Forbidden
from telegram.ext import ApplicationHandlerStop

from apps.bot.context import BotContext
from apps.bot.handler_errors import report_handler_error
from apps.users.services import user_set_active

logger = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    if isinstance(error, Forbidden) and isinstance(update, Update):
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            # The user blocked the bot while we answered: nothing to replay, only to remember.
            logger.info("user %s blocked the bot: %s", chat.id, error)
            await sync_to_async(user_set_active)(user_id=chat.id, is_active=False)
            raise ApplicationHandlerStop
    report_handler_error(error)
    # A failed update is replayed later: no later handler may act on it now.
    raise ApplicationHandlerStop
