import asyncio
import contextlib

from asgiref.sync import sync_to_async
from django.conf import settings
from telegram import Update
from telegram.constants import ChatAction

from apps.bot import keyboards, static_text
from apps.bot.context import BotContext
from apps.bot.flows.chat import chat_turn
from apps.bot.flows.sessions import session_finish
from apps.bot.keyboards import NEW_CONFIRM
from apps.bot.models import ReplyKind
from apps.bot.replies import Answer, reply_find
from apps.sessions.services import active_session, session_get_or_create

from .answering import acknowledge, answer, deliver
from .preview import Preview

_TYPING_EVERY = 4.0  # Telegram shows "typing…" for about 5 seconds


async def _keep_typing(update: Update, context: BotContext) -> None:
    while True:
        await context.bot.send_chat_action(update.effective_chat.id, ChatAction.TYPING)
        await asyncio.sleep(_TYPING_EVERY)


async def text_message(update: Update, context: BotContext) -> None:
    """The chat turn stores its reply with the charge (apps.bot.flows.chat); a redelivered update finds
    it and only sends what Telegram has not confirmed. While the model writes, the answer so far is shown
    (apps.bot.handlers.preview), only the first time: a redelivered update neither asks nor streams again."""
    reply = await sync_to_async(reply_find)(update.update_id)
    preview = None
    if reply is None:
        user = update.effective_user
        chat = update.effective_chat
        typing = asyncio.create_task(_keep_typing(update, context))
        if settings.LLM_STREAMING:
            preview = Preview(context.bot, chat_id=chat.id, chat_type=chat.type, draft_id=update.update_id % 2**31)
        try:
            await sync_to_async(chat_turn)(
                user_id=user.id,
                username=user.username or user.first_name or "",
                text=update.effective_message.text,
                update_id=update.update_id,
                chat_id=chat.id,
                on_text=preview.push if preview is not None else None,
            )
        finally:
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
            if preview is not None:
                await preview.close()
        reply = await sync_to_async(reply_find)(update.update_id)
    in_place = (preview.message_id, preview.shown) if preview is not None and preview.message_id else None
    await deliver(update, context, reply, in_place=in_place)


async def new_session(update: Update, context: BotContext) -> None:
    """Seed 004's SessionCheckMiddleware: a running session is not dropped without asking."""
    user_id = update.effective_user.id

    def start_or_ask() -> Answer:
        if active_session(user_id) is None:
            session_get_or_create(user_id)
            return Answer([str(static_text.NEW_SESSION_STARTED)])
        return Answer([str(static_text.NEW_SESSION_CONFIRM)], keyboards.new_session_confirm())

    await answer(update, context, start_or_ask)


async def new_session_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    await acknowledge(query)
    user_id = query.from_user.id

    def decide() -> Answer:
        if query.data != NEW_CONFIRM:
            return Answer([str(static_text.NEW_SESSION_KEPT)], kind=ReplyKind.EDIT)
        session = active_session(user_id)
        if session is not None:
            session_finish(session.pk)
        session_get_or_create(user_id)
        return Answer([str(static_text.NEW_SESSION_STARTED)], kind=ReplyKind.EDIT)

    await answer(update, context, decide)
