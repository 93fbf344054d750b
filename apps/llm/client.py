"""The one way the project calls an LLM: any OpenAI-compatible provider through the official SDK.

Retries live here and only here: 429, 5xx, timeouts and dropped connections are retried with
exponential backoff (honouring Retry-After), every attempt waits for the shared rate limit. The
SDK's own retries are off so that the policy is one, visible and measured.

A caller that wants the answer as it is written passes `on_text`: with `LLM_STREAMING` on, the call
streams (`stream_options.include_usage`: the usage comes in the last chunk) and `on_text` gets the text
so far after each piece. A stream that fails before its first piece of text is retried like any call;
one that breaks after it is not (the caller has shown part of an answer): LLMError, with what usage is
known.
"""

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import openai
from django.conf import settings
from django.utils.translation import ngettext

from apps.core.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

OFFLINE_PROVIDER = "offline"
OFFLINE_MODEL = "offline-demo"
_RETRY_AFTER_CAP = 30.0
_OFFLINE_PIECES = 4
_KNOWN_HOSTS = {
    "api.openai.com": "openai",
    "api.groq.com": "groq",
    "api.deepseek.com": "deepseek",
    "api.anthropic.com": "anthropic",
    "openrouter.ai": "openrouter",
    "api.mistral.ai": "mistral",
    "generativelanguage.googleapis.com": "google",
}


@dataclass(frozen=True)
class Completion:
    text: str
    provider: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cached_tokens: int | None
    latency_ms: int
    attempts: int
    # Milliseconds until the first text of the answer was in hand: streamed, its first piece; else the whole.
    first_token_ms: int | None = None
    # Filled in once the call is recorded (apps.llm.services.llm_complete).
    request_id: int | None = None
    cost: Decimal | None = None


class LLMError(Exception):
    """The call failed for good (after retries). `status` is an LLMRequest status."""

    def __init__(
        self,
        message: str,
        *,
        status: str,
        provider: str,
        model: str,
        latency_ms: int,
        attempts: int,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cached_tokens: int | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.provider = provider
        self.model = model
        self.latency_ms = latency_ms
        self.attempts = attempts
        # What the provider reported before a stream broke (usually nothing: usage comes last).
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.cached_tokens = cached_tokens

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens


def provider_name() -> str:
    if not settings.OPENAI_API_KEY:
        return OFFLINE_PROVIDER
    if settings.LLM_PROVIDER:
        return settings.LLM_PROVIDER
    host = urlsplit(settings.OPENAI_BASE_URL).hostname if settings.OPENAI_BASE_URL else "api.openai.com"
    return _KNOWN_HOSTS.get(host or "", host or "openai")


@cache
def _sdk_client(api_key: str, base_url: str, timeout: float) -> openai.OpenAI:
    return openai.OpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)


@cache
def _rate_limiter(rate: int) -> RateLimiter:
    return RateLimiter("llm", rate, burst=rate)


OnText = Callable[[str], None]


class _StreamIncomplete(Exception):
    """The stream ended (the connection closed cleanly) before the provider said the answer was done."""


def complete(
    messages: list[dict[str, str]],
    *,
    model: str,
    temperature: float,
    max_tokens: int,
    json_response: bool = False,
    on_text: OnText | None = None,
) -> Completion:
    """One chat completion, retried as the policy says. Raises LLMError when it finally fails. With
    `on_text` and LLM_STREAMING, the answer streams: `on_text(text_so_far)` after each piece of it."""
    streaming = on_text is not None and settings.LLM_STREAMING
    if not settings.OPENAI_API_KEY:
        return _offline_completion(messages, on_text if streaming else None)
    provider = provider_name()
    client = _sdk_client(settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.LLM_TIMEOUT)
    options: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    if json_response:
        options["response_format"] = {"type": "json_object"}
    if streaming:
        options.update(stream=True, stream_options={"include_usage": True})
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        _rate_limiter(settings.LLM_RATE_LIMIT).acquire()
        reader = _StreamReader(started, on_text) if streaming else None
        try:
            if reader is not None:
                reader.read(client.chat.completions.create(**options))
                return reader.completion(provider, model, attempt)
            response = client.chat.completions.create(**options)
        except (
            openai.APITimeoutError,
            openai.APIConnectionError,
            openai.RateLimitError,
            openai.InternalServerError,
            _StreamIncomplete,
        ) as error:
            failure = error
        except openai.APIStatusError as error:
            if error.status_code < 500:  # a request the provider will never accept: no retry
                raise _failed(error, provider, model, started, attempt) from error
            failure = error
        except openai.APIError as error:  # an error event inside a stream
            if reader is None:
                raise
            failure = error
        else:
            return _completion(response, provider, model, started, attempt)
        if reader is not None and reader.first_token_ms is not None:
            # Part of the answer is out: asking again would show another answer. What is known is recorded.
            raise _failed(failure, provider, reader.model or model, started, attempt, reader.usage) from failure
        if attempt > settings.LLM_MAX_RETRIES:
            raise _failed(failure, provider, model, started, attempt) from failure
        time.sleep(_backoff(attempt, failure))


@dataclass(frozen=True)
class Transcript:
    text: str
    provider: str
    model: str
    audio_seconds: int
    latency_ms: int
    attempts: int
    # Filled in once the call is recorded (apps.llm.services.llm_transcribe).
    request_id: int | None = None
    cost: Decimal | None = None


def transcribe(audio: bytes, *, filename: str, model: str, audio_seconds: int) -> Transcript:
    """Speech to text through the provider's OpenAI-compatible transcription endpoint, retried as a chat
    completion is. `audio_seconds`: the length of the audio as the sender said (the provider's own count,
    when it reports one, wins). Raises LLMError when it finally fails."""
    if not settings.OPENAI_API_KEY:
        return _offline_transcript(audio_seconds)
    provider = provider_name()
    client = _sdk_client(settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.LLM_TIMEOUT)
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        _rate_limiter(settings.LLM_RATE_LIMIT).acquire()
        try:
            response = client.audio.transcriptions.create(file=(filename, audio), model=model)
        except (
            openai.APITimeoutError,
            openai.APIConnectionError,
            openai.RateLimitError,
            openai.InternalServerError,
        ) as error:
            failure: Exception = error
        except openai.APIStatusError as error:
            if error.status_code < 500:
                raise _failed(error, provider, model, started, attempt) from error
            failure = error
        else:
            usage = getattr(response, "usage", None)
            reported = getattr(usage, "seconds", None) if getattr(usage, "type", None) == "duration" else None
            return Transcript(
                text=(getattr(response, "text", None) or "").strip(),
                provider=provider,
                model=model,
                audio_seconds=math.ceil(reported) if reported is not None else audio_seconds,
                latency_ms=_elapsed_ms(started),
                attempts=attempt,
            )
        if attempt > settings.LLM_MAX_RETRIES:
            raise _failed(failure, provider, model, started, attempt) from failure
        time.sleep(_backoff(attempt, failure))


def _offline_transcript(audio_seconds: int) -> Transcript:
    """Without OPENAI_API_KEY: a labelled demo transcript, so that a voice note goes the whole way."""
    text = ngettext(
        "[Demo transcript: no speech model is configured (set OPENAI_API_KEY).] A voice note of {seconds} second.",
        "[Demo transcript: no speech model is configured (set OPENAI_API_KEY).] A voice note of {seconds} seconds.",
        audio_seconds,
    ).format(seconds=audio_seconds)
    return Transcript(
        text=text,
        provider=OFFLINE_PROVIDER,
        model=OFFLINE_MODEL,
        audio_seconds=audio_seconds,
        latency_ms=0,
        attempts=1,
    )


class _StreamReader:
    """Reads one streamed completion: the text piece by piece (told to `on_text`), the model, and the usage
    of the last chunk."""

    def __init__(self, started: float, on_text: OnText | None) -> None:
        self.started = started
        self.on_text = on_text
        self.text = ""
        self.model: str | None = None
        self.usage: Any = None
        self.first_token_ms: int | None = None
        self.finished = False

    def read(self, stream: Any) -> None:
        try:
            for chunk in stream:
                self.model = getattr(chunk, "model", None) or self.model
                if getattr(chunk, "usage", None) is not None:
                    self.usage = chunk.usage
                for choice in chunk.choices or ():
                    if choice.index != 0:
                        continue
                    piece = choice.delta.content if choice.delta is not None else None
                    if piece:
                        if self.first_token_ms is None:
                            self.first_token_ms = _elapsed_ms(self.started)
                        self.text += piece
                        self._tell()
                    if choice.finish_reason:
                        self.finished = True
        finally:
            stream.close()
        if not self.finished:
            raise _StreamIncomplete("the stream ended before the answer was finished")

    def _tell(self) -> None:
        if self.on_text is None:
            return
        try:
            self.on_text(self.text)
        except Exception:  # the preview is the caller's; the answer goes on without it
            logger.exception("on_text failed; the rest of the answer streams without it")
            self.on_text = None

    def completion(self, provider: str, model: str, attempts: int) -> Completion:
        prompt, completion, total, cached = _usage(self.usage)
        latency_ms = _elapsed_ms(self.started)
        return Completion(
            text=self.text,
            provider=provider,
            model=self.model or model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=total,
            cached_tokens=cached,
            latency_ms=latency_ms,
            attempts=attempts,
            first_token_ms=self.first_token_ms if self.first_token_ms is not None else latency_ms,
        )


def _usage(usage: Any) -> tuple[int | None, int | None, int | None, int | None]:
    """prompt, completion, total and cached tokens as the provider reported them (None: not reported)."""
    if usage is None:
        return None, None, None, None
    details = getattr(usage, "prompt_tokens_details", None)
    return (
        getattr(usage, "prompt_tokens", None),
        getattr(usage, "completion_tokens", None),
        getattr(usage, "total_tokens", None),
        getattr(details, "cached_tokens", None) if details else None,
    )


def _completion(response: Any, provider: str, model: str, started: float, attempts: int) -> Completion:
    prompt, completion, total, cached = _usage(getattr(response, "usage", None))
    choice = response.choices[0] if response.choices else None
    latency_ms = _elapsed_ms(started)
    return Completion(
        text=(choice.message.content or "") if choice else "",
        provider=provider,
        model=getattr(response, "model", None) or model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
        cached_tokens=cached,
        latency_ms=latency_ms,
        attempts=attempts,
        first_token_ms=latency_ms,
    )


def _failed(error: Exception, provider: str, model: str, started: float, attempts: int, usage: Any = None) -> LLMError:
    if isinstance(error, openai.APITimeoutError):
        status = "timeout"
    elif isinstance(error, openai.RateLimitError):
        status = "rate_limited"
    else:
        status = "error"
    prompt, completion, _, cached = _usage(usage)
    return LLMError(
        f"{type(error).__name__}: {error}"[:500],
        status=status,
        provider=provider,
        model=model,
        latency_ms=_elapsed_ms(started),
        attempts=attempts,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
    )


def _backoff(attempt: int, error: Exception) -> float:
    response = getattr(error, "response", None)
    retry_after = response.headers.get("retry-after") if response is not None else None
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), _RETRY_AFTER_CAP)
        except ValueError:
            pass
    delay = settings.LLM_RETRY_BASE_DELAY * 2 ** (attempt - 1)
    return delay + random.uniform(0, delay / 4)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _offline_completion(messages: list[dict[str, str]], on_text: OnText | None = None) -> Completion:
    """The embedded default without OPENAI_API_KEY: a labelled demo reply, deterministic counts; streamed
    (to `on_text`) in a few pieces."""
    started = time.monotonic()
    last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    # In the language of the update being answered (the bot activates the user's), like a model told to.
    text = ngettext(
        "[Demo reply: no LLM is configured (set OPENAI_API_KEY).] "
        "You wrote {count} character; with a model connected, it would answer here.",
        "[Demo reply: no LLM is configured (set OPENAI_API_KEY).] "
        "You wrote {count} characters; with a model connected, it would answer here.",
        len(last),
    ).format(count=len(last))
    first_token_ms = None
    if on_text is not None:
        words = text.split(" ")
        step = math.ceil(len(words) / _OFFLINE_PIECES)
        for end in range(step, len(words) + step, step):
            on_text(" ".join(words[:end]))
            if first_token_ms is None:
                first_token_ms = _elapsed_ms(started)
    prompt_tokens = sum(math.ceil(len(m["content"]) / 4) + 4 for m in messages)
    completion_tokens = math.ceil(len(text) / 4)
    latency_ms = _elapsed_ms(started)
    return Completion(
        text=text,
        provider=OFFLINE_PROVIDER,
        model=OFFLINE_MODEL,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        cached_tokens=0,
        latency_ms=latency_ms,
        attempts=1,
        first_token_ms=first_token_ms if first_token_ms is not None else latency_ms,
    )
