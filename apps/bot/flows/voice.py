"""A voice note: too long → refused; else transcribed (held, metered, settled), then answered as if typed
(apps.bot.flows.chat.chat_turn), once per Telegram update."""

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.billing.exceptions import InsufficientBalance
from apps.billing.services import (
    billing_release,
    billing_reserve,
    billing_settle,
    charge_for_audio,
    is_billable,
)
from apps.bot import static_text
from apps.bot.models import VoiceTranscript
from apps.llm.client import OFFLINE_MODEL, LLMError
from apps.llm.services import llm_transcribe
from apps.users.models import TelegramUser

from .chat import ChatReply, _answered, _Update, chat_turn, topup_needed

TRANSCRIPTION_HOLD = "transcription"


def voice_too_long(duration: int) -> bool:
    return duration > settings.VOICE_MAX_SECONDS


def voice_needs_audio(*, update_id: int, duration: int) -> bool:
    """Whether the handler must fetch the audio: not when the note is refused, nor when it was transcribed
    before (a redelivered update)."""
    return not voice_too_long(duration) and not VoiceTranscript.objects.filter(pk=update_id).exists()


def voice_turn(
    *,
    user_id: int,
    username: str,
    duration: int,
    update_id: int,
    chat_id: int,
    audio: bytes | None,
    filename: str = "voice.ogg",
    on_text: Callable[[str], None] | None = None,
) -> ChatReply:
    """A voice note of `duration` seconds from a Telegram update. Longer than VOICE_MAX_SECONDS: a polite
    refusal, nothing transcribed or charged. Else the transcription is held for (its own hold, keyed by the
    update), transcribed (metered as a transcription), settled to its cost and its transcript stored by the
    update, all before the transcript goes through the chat turn like a typed message, which holds, asks,
    settles and stores the reply as for text. A redelivered update finds the transcript (or the reply) and
    neither transcribes nor charges again. `audio`: the note's bytes (None: transcribed before)."""
    origin = _Update(update_id, chat_id)
    if voice_too_long(duration):
        text = static_text.VOICE_TOO_LONG.format(limit=_minutes(settings.VOICE_MAX_SECONDS))
        return _answered(origin, ChatReply(text=text, answered=False))
    stored = VoiceTranscript.objects.filter(pk=update_id).first()
    if stored is None:
        if audio is None:
            raise ValueError("a voice note transcribed for the first time needs its audio")
        transcribed = _transcribe(
            user_id=user_id, username=username, duration=duration, origin=origin, audio=audio, filename=filename
        )
        if isinstance(transcribed, ChatReply):
            return transcribed
        stored = transcribed
    if not stored.text:
        reply = _answered(origin, ChatReply(text=str(static_text.VOICE_NOT_HEARD), answered=False))
    else:
        reply = chat_turn(
            user_id=user_id,
            username=username,
            text=stored.text,
            update_id=update_id,
            chat_id=chat_id,
            on_text=on_text,
        )
    VoiceTranscript.objects.filter(pk=update_id).delete()  # the answer is stored: what was said goes
    return reply


def _transcribe(
    *, user_id: int, username: str, duration: int, origin: _Update, audio: bytes, filename: str
) -> VoiceTranscript | ChatReply:
    """Hold, transcribe, settle and store the transcript; or the reply that ends the turn here."""
    user = TelegramUser.objects.get(pk=user_id)
    model = settings.LLM_TRANSCRIBE_MODEL if settings.OPENAI_API_KEY else OFFLINE_MODEL
    reserve = None
    if is_billable(user):
        estimate = charge_for_audio(model=model, audio_seconds=max(duration, 1))
        try:
            reserve = billing_reserve(
                user_id=user_id, amount=estimate, for_update=origin.update_id, purpose=TRANSCRIPTION_HOLD
            )
        except InsufficientBalance as refused:
            track(Events.TOPUP_OFFERED, user_id=user_id, properties={"balance": str(refused.balance)})
            return _answered(origin, topup_needed(refused))
    try:
        transcript = llm_transcribe(
            audio,
            filename=filename,
            audio_seconds=duration,
            user_id=user_id,
            username=username,
        )
    except LLMError as error:
        if reserve is not None:
            billing_release(reserve=reserve)
        track(
            Events.ERROR_OCCURRED,
            user_id=user_id,
            properties={"error_type": error.status, "where": "transcription", "model": error.model},
        )
        return _answered(origin, ChatReply(text=str(static_text.PROGRESS_SAVED), answered=False))
    with transaction.atomic():  # charged and remembered together: a redelivery finds both or neither
        if reserve is not None:
            charge = charge_for_audio(
                model=transcript.model, audio_seconds=transcript.audio_seconds, provider_cost=transcript.cost
            )
            billing_settle(reserve=reserve, charge=charge, llm_request_id=transcript.request_id, model=transcript.model)
        stored, _ = VoiceTranscript.objects.get_or_create(pk=origin.update_id, defaults={"text": transcript.text})
    return stored


def _minutes(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}:{rest:02d}"
