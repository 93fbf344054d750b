"""Answering an update once: the use case runs and its reply is stored together (apps.bot.replies), then
the reply is sent part by part, each part marked sent once Telegram confirms it. A redelivered update
(processing is at least once) sends what is left of the stored reply and does nothing else again."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from telegram import CallbackQuery, InlineKeyboardMarkup, LabeledPrice, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest

from apps.bot.context import BotContext
from apps.bot.models import Reply, ReplyKind
from apps.bot.replies import Answer, reply_find, reply_once, reply_sent

from .preview import Preview


async def answer(update: Update, context: BotContext, produce: Callable[[], Answer | None]) -> None:
    """Run `produce` (synchronous: the use case and its writes) once for this update, and send its answer."""
    reply = await sync_to_async(reply_once)(
        update_id=update.update_id, chat_id=update.effective_chat.id, produce=produce
    )
    if reply is not None:
        await deliver(update, context, reply)


async def deliver(
    update: Update, context: BotContext, reply: Reply, *, in_place: tuple[int, str] | None = None
) -> None:
    """Send what Telegram has not confirmed yet of the stored reply. `in_place`: the message (id, text shown)
    that previewed the answer while it streamed; its first part goes there, not in a second message."""
    if reply.sent_at is not None:
        return
    markup = InlineKeyboardMarkup.de_json(reply.markup, context.bot) if reply.markup else None
    if reply.kind == ReplyKind.EDIT:
        await update.callback_query.edit_message_text(reply.parts[0], reply_markup=markup)
    elif reply.kind == ReplyKind.INVOICE:
        invoice = reply.parts[0]
        await context.bot.send_invoice(
            chat_id=reply.chat_id,
            title=invoice["title"],
            description=invoice["description"],
            payload=invoice["payload"],
            provider_token="",  # Telegram Stars need none
            currency=invoice["currency"],
            prices=[LabeledPrice(label, amount) for label, amount in invoice["prices"]],
        )
    elif reply.kind == ReplyKind.DOCUMENT:
        document = reply.parts[0]
        await context.bot.send_document(
            chat_id=reply.chat_id,
            document=document["content"].encode(),
            filename=document["filename"],
            caption=document["caption"],
        )
    else:
        last = len(reply.parts) - 1
        for index in range(reply.sent, len(reply.parts)):
            markup_here = markup if index == last else None
            if not (index == 0 and in_place and await _edit_in_place(context, reply, in_place, markup_here)):
                await update.effective_message.reply_text(reply.parts[index], reply_markup=markup_here, do_quote=False)
            await sync_to_async(reply_sent)(reply, parts=index + 1)
        return
    await sync_to_async(reply_sent)(reply, parts=1)


async def _edit_in_place(
    context: BotContext, reply: Reply, in_place: tuple[int, str], markup: InlineKeyboardMarkup | None
) -> bool:
    """The previewing message becomes the reply's first part; False: it is gone (send the part instead)."""
    message_id, shown = in_place
    if shown == reply.parts[0] and markup is None:
        return True
    try:
        await context.bot.edit_message_text(
            reply.parts[0], chat_id=reply.chat_id, message_id=message_id, reply_markup=markup
        )
    except BadRequest as error:
        return "not modified" in str(error).lower()
    return True


async def acknowledge(query: CallbackQuery) -> None:
    """Stop the button's spinner. A redelivered update's query may be too old to answer: no matter."""
    try:
        await query.answer()
    except BadRequest:
        pass


_TYPING_EVERY = 4.0  # Telegram shows "typing…" for about 5 seconds


async def _keep_typing(update: Update, context: BotContext) -> None:
    while True:
        await context.bot.send_chat_action(update.effective_chat.id, ChatAction.TYPING)
        await asyncio.sleep(_TYPING_EVERY)


async def answer_live(
    update: Update, context: BotContext, turn: Callable[[Callable[[str], None] | None], Awaitable[object]]
) -> None:
    """A model's answer to the update, once: the first time, `turn(on_text)` runs the use case (which
    stores its reply with its charge, and may hand that Reply back) while the user sees "typing…" and, when
    streaming, the answer so far (apps.bot.handlers.preview); then the stored reply is sent. A redelivered
    update neither asks nor streams again: it only sends what Telegram has not confirmed."""
    reply = await sync_to_async(reply_find)(update.update_id)
    preview = None
    if reply is None:
        chat = update.effective_chat
        typing = asyncio.create_task(_keep_typing(update, context))
        try:
            if settings.LLM_STREAMING:
                preview = Preview(context.bot, chat_id=chat.id, chat_type=chat.type, draft_id=update.update_id % 2**31)
            stored = await turn(preview.push if preview is not None else None)
        finally:
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
            if preview is not None:
                await preview.close()
        # The reply the turn stored, when it hands it back (no second read); else the one stored for the update.
        reply = stored if isinstance(stored, Reply) else await sync_to_async(reply_find)(update.update_id)
    in_place = (preview.message_id, preview.shown) if preview is not None and preview.message_id else None
    await deliver(update, context, reply, in_place=in_place)
