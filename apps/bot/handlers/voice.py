"""Voice notes and audio: fetched from the Bot API server (python-telegram-bot's base_file_url, so a local
Bot API server or the tests' fake serves them too), transcribed and answered as if typed
(apps.bot.flows.voice). Once per update, as a text message is."""

import asyncio
import contextlib

from asgiref.sync import sync_to_async
from django.conf import settings
from telegram import Update

from apps.bot.context import BotContext
from apps.bot.flows.voice import voice_needs_audio, voice_turn
from apps.bot.replies import reply_find

from .answering import deliver
from .chat import _keep_typing
from .preview import Preview


async def voice_message(update: Update, context: BotContext) -> None:
    reply = await sync_to_async(reply_find)(update.update_id)
    preview = None
    if reply is None:
        message = update.effective_message
        note = message.voice or message.audio
        user = update.effective_user
        chat = update.effective_chat
        duration = int(note.to_dict().get("duration") or 0)  # seconds, as the Bot API sent them
        typing = asyncio.create_task(_keep_typing(update, context))
        try:
            audio = None
            if await sync_to_async(voice_needs_audio)(update_id=update.update_id, duration=duration):
                file = await context.bot.get_file(note.file_id)
                audio = bytes(await file.download_as_bytearray())
            if settings.LLM_STREAMING:
                preview = Preview(context.bot, chat_id=chat.id, chat_type=chat.type, draft_id=update.update_id % 2**31)
            await sync_to_async(voice_turn)(
                user_id=user.id,
                username=user.username or user.first_name or "",
                duration=duration,
                update_id=update.update_id,
                chat_id=chat.id,
                audio=audio,
                filename=_filename(note),
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


def _filename(note) -> str:
    """A name the provider recognises the format by: Telegram's voice notes are Ogg/Opus."""
    name = getattr(note, "file_name", None)
    if name:
        return name
    mime = getattr(note, "mime_type", None) or "audio/ogg"
    extension = {"audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/x-wav": "wav", "audio/wav": "wav"}.get(mime, "ogg")
    return f"voice.{extension}"
