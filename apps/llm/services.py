"""Metered LLM calls: every call of the project goes through `llm_complete`."""

import logging
from dataclasses import replace
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from . import client
from .client import Completion, LLMError, OnText, Transcript
from .metering import PRICED, record_usage
from .models import BotPersona, DailyUsage, LLMRequest, RequestStatus, RequestType, UserUsageSummary
from .pricing import price_for  # noqa: F401  the public name, kept here for its callers
from .usage import rollups_add, rollups_remove

logger = logging.getLogger(__name__)

_FALLBACK_PERSONA = BotPersona(name="Default", system_prompt="You are a helpful assistant.", max_tokens=800)


def llm_complete(
    messages: list[dict[str, str]],
    *,
    user_id: int | None,
    username: str = "",
    session_id: int | None = None,
    persona_id: int | None = None,
    request_type: str = RequestType.CHAT,
    model: str | None = None,
    temperature: float = 0.7,
    max_tokens: int = 800,
    json_response: bool = False,
    on_text: OnText | None = None,
) -> Completion:
    """Every LLM call of the project: made, metered and recorded (LLMRequest + rollups), success or not.
    `persona_id`: the persona that answers (a chat turn), recorded with the request.
    `on_text`: the answer streams to it as it is written (apps.llm.client.complete); metered the same."""
    model = model or settings.OPENAI_MODEL
    started_at = timezone.now()
    last_user_text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    common = {
        "session_id": session_id,
        "persona_id": persona_id,
        "request_type": request_type,
        "prompt_text": last_user_text,
        "occurred_at": started_at,
    }
    try:
        completion = client.complete(
            messages,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            json_response=json_response,
            on_text=on_text,
        )
    except LLMError as error:
        # A stream that broke may have reported some usage; what it did not is unknown (None), never zero.
        record_usage(
            user_id,
            username,
            error.total_tokens,
            prompt_tokens=error.prompt_tokens,
            completion_tokens=error.completion_tokens,
            cached_tokens=error.cached_tokens,
            cost=PRICED,  # unknown (None) unless the usage is
            provider=error.provider,
            model=error.model,
            status=error.status,
            error_message=str(error),
            latency_ms=error.latency_ms,
            attempts=error.attempts,
            **common,
        )
        raise
    # Priced as it is recorded: the price lookup is a database read, and a database that fails right after
    # the provider answered must not lose the record of a call the provider bills (metering retries it).
    request = record_usage(
        user_id,
        username,
        completion.total_tokens,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cached_tokens=completion.cached_tokens,
        cost=PRICED,
        provider=completion.provider,
        model=completion.model,
        status=RequestStatus.SUCCESS,
        latency_ms=completion.latency_ms,
        attempts=completion.attempts,
        response_text=completion.text,
        **common,
    )
    if request is None:  # recorded later, by a task: the cost is not known here
        return replace(completion, request_id=None, cost=None)
    return replace(completion, request_id=request.pk, cost=request.cost)


def llm_transcribe(
    audio: bytes,
    *,
    filename: str,
    audio_seconds: int,
    user_id: int | None,
    username: str = "",
    model: str | None = None,
) -> Transcript:
    """A voice note to text (LLM_TRANSCRIBE_MODEL), metered as its own request type: an LLMRequest with the
    audio's seconds, its cost from the model's price per audio minute; success or not."""
    model = model or settings.LLM_TRANSCRIBE_MODEL
    common = {"request_type": RequestType.TRANSCRIPTION, "occurred_at": timezone.now()}
    try:
        transcript = client.transcribe(audio, filename=filename, model=model, audio_seconds=audio_seconds)
    except LLMError as error:
        record_usage(
            user_id,
            username,
            None,
            audio_seconds=audio_seconds,
            cost=None,  # a failed transcription is not billed by the provider
            provider=error.provider,
            model=error.model,
            status=error.status,
            error_message=str(error),
            latency_ms=error.latency_ms,
            attempts=error.attempts,
            **common,
        )
        raise
    request = record_usage(
        user_id,
        username,
        None,
        audio_seconds=transcript.audio_seconds,
        cost=PRICED,
        provider=transcript.provider,
        model=transcript.model,
        status=RequestStatus.SUCCESS,
        latency_ms=transcript.latency_ms,
        attempts=transcript.attempts,
        response_text=transcript.text,
        **common,
    )
    if request is None:
        return transcript
    return replace(transcript, request_id=request.pk, cost=request.cost)


def active_persona() -> BotPersona:
    return BotPersona.objects.filter(is_active=True).first() or _FALLBACK_PERSONA


def llm_usage_pseudonymise(*, user_id: int, pseudonym_id: int, until: datetime | None = None) -> dict[str, int]:
    """The user's LLM requests and usage rollups move to the pseudonym: tokens, costs and latencies stay
    (margins and daily totals do not move), the texts go (prompt and answer, kept with STORE_PROMPTS, and
    the error). Rows moved per table. `until`: only the requests made by then, with what they added to the
    rollups (a usage record stored late, after the erase; what a later user of the same id did stays)."""
    if until is not None:
        return {LLMRequest._meta.label: _late_usage_pseudonymise(user_id, pseudonym_id, until)}
    return {
        LLMRequest._meta.label: LLMRequest.objects.filter(user_id=user_id).update(
            user_id=pseudonym_id, prompt_text="", response_text="", error_message=""
        ),
        DailyUsage._meta.label: DailyUsage.objects.filter(user_id=user_id).update(user_id=pseudonym_id),
        UserUsageSummary._meta.label: UserUsageSummary.objects.filter(user_id=user_id).update(user_id=pseudonym_id),
    }


def _late_usage_pseudonymise(user_id: int, pseudonym_id: int, until: datetime) -> int:
    """Requests one at a time: stragglers are a few, stored while the database was away."""
    moved = 0
    for request in LLMRequest.objects.select_for_update().filter(user_id=user_id, created_at__lte=until):
        rollups_remove(request)
        request.user_id, request.prompt_text, request.response_text, request.error_message = pseudonym_id, "", "", ""
        request.save(update_fields=["user", "prompt_text", "response_text", "error_message"])
        rollups_add(request)
        moved += 1
    return moved
