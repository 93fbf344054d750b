from asgiref.sync import sync_to_async
from telegram import Update

from apps.bot import keyboards, static_text
from apps.bot.context import BotContext
from apps.bot.flows.chat import chat_turn
from apps.bot.flows.sessions import session_finish
from apps.bot.keyboards import NEW_CONFIRM
from apps.bot.models import Reply, ReplyKind
from apps.bot.replies import Answer
from apps.sessions.services import active_session, session_get_or_create

from .answering import acknowledge, answer, answer_live


async def text_message(update: Update, context: BotContext) -> None:
    """The chat turn stores its reply with the charge (apps.bot.flows.chat)."""
    user = update.effective_user

    async def turn(on_text) -> Reply | None:
        chat = await sync_to_async(chat_turn)(
            user_id=user.id,
            username=user.username or user.first_name or "",
            text=update.effective_message.text,
            update_id=update.update_id,
            chat_id=update.effective_chat.id,
            on_text=on_text,
        )
        return chat.stored

    await answer_live(update, context, turn)


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
