import asyncio
import contextlib

from asgiref.sync import sync_to_async
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction

from apps.bot import static_text
from apps.bot.context import BotContext
from apps.bot.flows.chat import chat_turn
from apps.bot.flows.sessions import session_finish
from apps.bot.formatting import split_message
from apps.bot.handlers.billing import topup_keyboard
from apps.sessions.services import active_session, session_get_or_create

NEW_CONFIRM = "session:new:confirm"
NEW_CANCEL = "session:new:cancel"
_TYPING_EVERY = 4.0  # Telegram shows "typing…" for about 5 seconds


async def _keep_typing(update: Update, context: BotContext) -> None:
    while True:
        await context.bot.send_chat_action(update.effective_chat.id, ChatAction.TYPING)
        await asyncio.sleep(_TYPING_EVERY)


async def text_message(update: Update, context: BotContext) -> None:
    user = update.effective_user
    typing = asyncio.create_task(_keep_typing(update, context))
    try:
        reply = await sync_to_async(chat_turn)(
            user_id=user.id, username=user.username or user.first_name or "", text=update.effective_message.text
        )
    finally:
        typing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await typing
    parts = split_message(reply.text)
    for number, part in enumerate(parts, start=1):
        keyboard = topup_keyboard() if reply.offer_topup and number == len(parts) else None
        await update.effective_message.reply_text(part, reply_markup=keyboard, do_quote=False)


async def new_session(update: Update, context: BotContext) -> None:
    """Seed 004's SessionCheckMiddleware: a running session is not dropped without asking."""
    user_id = update.effective_user.id
    if await sync_to_async(active_session)(user_id) is None:
        await sync_to_async(session_get_or_create)(user_id)
        await update.effective_message.reply_text(static_text.NEW_SESSION_STARTED, do_quote=False)
        return
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(static_text.NEW_SESSION_YES, callback_data=NEW_CONFIRM),
                InlineKeyboardButton(static_text.NEW_SESSION_NO, callback_data=NEW_CANCEL),
            ]
        ]
    )
    await update.effective_message.reply_text(static_text.NEW_SESSION_CONFIRM, reply_markup=keyboard, do_quote=False)


async def new_session_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    await query.answer()
    if query.data == NEW_CONFIRM:
        session = await sync_to_async(active_session)(query.from_user.id)
        if session is not None:
            await sync_to_async(session_finish)(session.pk)
        await sync_to_async(session_get_or_create)(query.from_user.id)
        await query.edit_message_text(static_text.NEW_SESSION_STARTED)
    else:
        await query.edit_message_text(static_text.NEW_SESSION_KEPT)
