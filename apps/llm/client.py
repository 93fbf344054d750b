"""The one way the project calls an LLM: any OpenAI-compatible provider through the official SDK.

Retries live here and only here: 429, 5xx, timeouts and dropped connections are retried with
exponential backoff (honouring Retry-After), every attempt waits for the shared rate limit. The
SDK's own retries are off so that the policy is one, visible and measured.
"""

import math
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import openai
from django.conf import settings

from apps.core.ratelimit import RateLimiter

OFFLINE_PROVIDER = "offline"
OFFLINE_MODEL = "offline-demo"
_RETRY_AFTER_CAP = 30.0
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
    # Filled in once the call is recorded (apps.llm.services.llm_complete).
    request_id: int | None = None
    cost: Decimal | None = None


class LLMError(Exception):
    """The call failed for good (after retries). `status` is an LLMRequest status."""

    def __init__(self, message: str, *, status: str, provider: str, model: str, latency_ms: int, attempts: int):
        super().__init__(message)
        self.status = status
        self.provider = provider
        self.model = model
        self.latency_ms = latency_ms
        self.attempts = attempts


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


def complete(
    messages: list[dict[str, str]], *, model: str, temperature: float, max_tokens: int, json_response: bool = False
) -> Completion:
    """One chat completion, retried as the policy says. Raises LLMError when it finally fails."""
    if not settings.OPENAI_API_KEY:
        return _offline_completion(messages)
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
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        _rate_limiter(settings.LLM_RATE_LIMIT).acquire()
        try:
            response = client.chat.completions.create(**options)
        except (
            openai.APITimeoutError,
            openai.APIConnectionError,
            openai.RateLimitError,
            openai.InternalServerError,
        ) as error:
            failure = error
        except openai.APIStatusError as error:
            if error.status_code < 500:  # a request the provider will never accept: no retry
                raise _failed(error, provider, model, started, attempt) from error
            failure = error
        else:
            return _completion(response, provider, model, started, attempt)
        if attempt > settings.LLM_MAX_RETRIES:
            raise _failed(failure, provider, model, started, attempt) from failure
        time.sleep(_backoff(attempt, failure))


def _completion(response: Any, provider: str, model: str, started: float, attempts: int) -> Completion:
    usage = getattr(response, "usage", None)
    details = getattr(usage, "prompt_tokens_details", None) if usage else None
    choice = response.choices[0] if response.choices else None
    return Completion(
        text=(choice.message.content or "") if choice else "",
        provider=provider,
        model=getattr(response, "model", None) or model,
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
        total_tokens=getattr(usage, "total_tokens", None),
        cached_tokens=getattr(details, "cached_tokens", None) if details else None,
        latency_ms=_elapsed_ms(started),
        attempts=attempts,
    )


def _failed(error: Exception, provider: str, model: str, started: float, attempts: int) -> LLMError:
    if isinstance(error, openai.APITimeoutError):
        status = "timeout"
    elif isinstance(error, openai.RateLimitError):
        status = "rate_limited"
    else:
        status = "error"
    return LLMError(
        f"{type(error).__name__}: {error}"[:500],
        status=status,
        provider=provider,
        model=model,
        latency_ms=_elapsed_ms(started),
        attempts=attempts,
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


def _offline_completion(messages: list[dict[str, str]]) -> Completion:
    """The embedded default without OPENAI_API_KEY: a labelled demo reply, deterministic counts."""
    started = time.monotonic()
    last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    text = (
        "[Demo reply: no LLM is configured (set OPENAI_API_KEY).] "
        f"You wrote {len(last)} characters; with a model connected, it would answer here."
    )
    prompt_tokens = sum(math.ceil(len(m["content"]) / 4) + 4 for m in messages)
    completion_tokens = math.ceil(len(text) / 4)
    return Completion(
        text=text,
        provider=OFFLINE_PROVIDER,
        model=OFFLINE_MODEL,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        cached_tokens=0,
        latency_ms=_elapsed_ms(started),
        attempts=1,
    )
