"""Voice notes and audio: fetched from the Bot API server (python-telegram-bot's base_file_url, so a local
Bot API server or the tests' fake serves them too), transcribed and answered as if typed
(apps.bot.flows.voice). Once per update, as a text message is."""

from asgiref.sync import sync_to_async
from telegram import Update

from apps.bot.context import BotContext
from apps.bot.flows.voice import voice_needs_audio, voice_turn

from .answering import answer_live


async def voice_message(update: Update, context: BotContext) -> None:
    message = update.effective_message
    note = message.voice or message.audio
    user = update.effective_user
    duration = int(note.to_dict().get("duration") or 0)  # seconds, as the Bot API sent them

    async def turn(on_text) -> None:
        audio = None
        if await sync_to_async(voice_needs_audio)(update_id=update.update_id, duration=duration):
            file = await context.bot.get_file(note.file_id)
            audio = bytes(await file.download_as_bytearray())
        await sync_to_async(voice_turn)(
            user_id=user.id,
            username=user.username or user.first_name or "",
            duration=duration,
            update_id=update.update_id,
            chat_id=update.effective_chat.id,
            audio=audio,
            filename=_filename(note),
            on_text=on_text,
        )

    await answer_live(update, context, turn)


def _filename(note) -> str:
    """A name the provider recognises the format by: Telegram's voice notes are Ogg/Opus."""
    name = getattr(note, "file_name", None)
    if name:
        return name
    mime = getattr(note, "mime_type", None) or "audio/ogg"
    extension = {"audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/x-wav": "wav", "audio/wav": "wav"}.get(mime, "ogg")
    return f"voice.{extension}"
