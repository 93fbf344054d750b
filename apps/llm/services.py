"""Metered LLM calls, and the chat conversation built on them."""

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from apps.analytics.catalogue import Events
from apps.analytics.models import DailyUsage
from apps.analytics.services import record_usage, track
from apps.billing.exceptions import InsufficientBalance
from apps.billing.services import (
    billing_release,
    billing_reserve,
    billing_settle,
    charge_estimate,
    charge_for_usage,
    credits_text,
    is_billable,
)
from apps.sessions.services import create_session, session_note_error, session_recent_turns, update_session
from apps.users.models import TelegramUser

from . import client
from .client import Completion, LLMError
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


@dataclass(frozen=True)
class ConversationReply:
    text: str
    answered: bool  # False: no model answer (the LLM failed, or the balance was too low)
    offer_topup: bool = False


PROGRESS_SAVED = (
    "Temporary technical problems on our side. Your progress is saved: write again in a little while "
    "and we will continue where we stopped."
)
TOPUP_NEEDED = (
    "Your balance is {balance} {unit}; an answer may cost up to {needed} {unit}. "
    "Top up to continue, and I will answer your next message."
)


def conversation_reply(*, user_id: int, username: str, text: str) -> ConversationReply:
    """A text message in chat: the most the answer can cost is held on the balance; the message goes into
    the active session, to the LLM with the persona and recent turns, and back; the hold is settled to
    what the answer cost. When the LLM fails after its retries, the hold is released, the message stays
    in the session and the error is noted; nothing else is lost."""
    user = TelegramUser.objects.get(pk=user_id)
    session = create_session(user_id)
    persona = active_persona()
    model = persona.model or settings.OPENAI_MODEL
    messages = [
        {"role": "system", "content": persona.system_prompt},
        *session_recent_turns(session),
        {"role": "user", "content": text},
    ]
    reserve = None
    if is_billable(user):
        estimate = charge_estimate(
            model=model, prompt_chars=sum(len(m["content"]) for m in messages), max_tokens=persona.max_tokens
        )
        try:
            reserve = billing_reserve(user_id=user_id, amount=estimate)
        except InsufficientBalance as refused:
            track(Events.TOPUP_OFFERED, user_id=user_id, properties={"balance": str(refused.balance)})
            return ConversationReply(
                text=TOPUP_NEEDED.format(
                    balance=credits_text(refused.balance),
                    needed=credits_text(refused.needed),
                    unit=settings.BILLING_UNIT,
                ),
                answered=False,
                offer_topup=True,
            )
    first_today = not DailyUsage.objects.filter(user_id=user_id, date=timezone.localdate()).exists()
    session = update_session(session.pk, {"role": "user", "content": text})
    _refresh_journey_if_due(user_id, session.pk, session.question_count)
    if first_today:
        track(Events.DIALOG_STARTED, user_id=user_id, properties={"session_id": session.pk})
    try:
        completion = llm_complete(
            messages,
            user_id=user_id,
            username=username,
            session_id=session.pk,
            model=model,
            temperature=persona.temperature,
            max_tokens=persona.max_tokens,
        )
    except LLMError as error:
        if reserve is not None:
            billing_release(reserve=reserve)
        session_note_error(session.pk, str(error))
        track(
            Events.ERROR_OCCURRED,
            user_id=user_id,
            properties={"error_type": error.status, "where": "chat", "model": error.model},
        )
        return ConversationReply(text=PROGRESS_SAVED, answered=False)
    if reserve is not None:
        charge = charge_for_usage(
            model=completion.model,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            provider_cost=completion.cost,
        )
        billing_settle(reserve=reserve, charge=charge, llm_request_id=completion.request_id, model=completion.model)
    update_session(session.pk, {"role": "assistant", "content": completion.text})
    track(
        Events.RESPONSE_TIME,
        user_id=user_id,
        properties={"duration_ms": completion.latency_ms, "model_used": completion.model},
    )
    return ConversationReply(text=completion.text, answered=True)


def _refresh_journey_if_due(user_id: int, session_id: int, question_count: int) -> None:
    # Imported here: the journey's analysis is itself an llm_complete call (apps.journey imports us).
    from apps.journey.services import analysis_due
    from apps.journey.tasks import refresh_journey

    if analysis_due(question_count):
        refresh_journey.delay(user_id, session_id)
