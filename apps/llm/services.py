"""Metered LLM calls: every call of the project goes through `llm_complete`."""

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from . import client
from .client import Completion, LLMError
from .metering import record_usage
from .models import BotPersona, ModelPrice, RequestStatus, RequestType

logger = logging.getLogger(__name__)

_FALLBACK_PERSONA = BotPersona(name="Default", system_prompt="You are a helpful assistant.", max_tokens=800)


def price_for(provider: str, model: str, at: datetime) -> ModelPrice | None:
    """The price in effect at `at`: the provider's own, else the model's list price elsewhere."""
    prices = ModelPrice.objects.filter(model=model, valid_from__lte=at).order_by("-valid_from")
    return prices.filter(provider=provider).first() or prices.first()


def cost_of(completion: Completion, at: datetime) -> Decimal | None:
    """Null when the provider reported no usage or the model has no price: unknown, never a silent 0."""
    if completion.prompt_tokens is None or completion.completion_tokens is None:
        return None
    price = price_for(completion.provider, completion.model, at)
    if price is None:
        logger.warning("no price for %s/%s: cost left unknown", completion.provider, completion.model)
        return None
    return price.cost(
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cached_tokens=completion.cached_tokens or 0,
    )


def llm_complete(
    messages: list[dict[str, str]],
    *,
    user_id: int | None,
    username: str = "",
    session_id: int | None = None,
    request_type: str = RequestType.CHAT,
    model: str | None = None,
    temperature: float = 0.7,
    max_tokens: int = 800,
    json_response: bool = False,
) -> Completion:
    """Every LLM call of the project: made, metered and recorded (LLMRequest + rollups), success or not."""
    model = model or settings.OPENAI_MODEL
    started_at = timezone.now()
    last_user_text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    common = {
        "session_id": session_id,
        "request_type": request_type,
        "prompt_text": last_user_text,
        "occurred_at": started_at,
    }
    try:
        completion = client.complete(
            messages, model=model, temperature=temperature, max_tokens=max_tokens, json_response=json_response
        )
    except LLMError as error:
        record_usage(
            user_id,
            username,
            None,
            provider=error.provider,
            model=error.model,
            status=error.status,
            error_message=str(error),
            latency_ms=error.latency_ms,
            attempts=error.attempts,
            **common,
        )
        raise
    cost = cost_of(completion, started_at)
    request = record_usage(
        user_id,
        username,
        completion.total_tokens,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cached_tokens=completion.cached_tokens,
        cost=cost,
        provider=completion.provider,
        model=completion.model,
        status=RequestStatus.SUCCESS,
        latency_ms=completion.latency_ms,
        attempts=completion.attempts,
        response_text=completion.text,
        **common,
    )
    return replace(completion, request_id=request.pk if request else None, cost=cost)


def active_persona() -> BotPersona:
    return BotPersona.objects.filter(is_active=True).first() or _FALLBACK_PERSONA
