"""A chat turn: hold credits → LLM → settle → reply."""

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from apps.analytics.catalogue import Events
from apps.analytics.services import track
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
from apps.bot import static_text
from apps.journey.services import analysis_due
from apps.journey.tasks import refresh_journey
from apps.llm.client import LLMError
from apps.llm.selectors import chatted_on
from apps.llm.services import active_persona, llm_complete
from apps.sessions.services import session_get_or_create, session_note_error, session_recent_turns, update_session
from apps.users.models import TelegramUser


@dataclass(frozen=True)
class ChatReply:
    text: str
    answered: bool  # False: no model answer (the LLM failed, or the balance was too low)
    offer_topup: bool = False


def chat_turn(*, user_id: int, username: str, text: str) -> ChatReply:
    """A text message in chat: the most the answer can cost is held on the balance; the message goes into
    the active session, to the LLM with the persona and recent turns, and back; the hold is settled to
    what the answer cost. When the LLM fails after its retries, the hold is released, the message stays
    in the session and the error is noted; nothing else is lost."""
    user = TelegramUser.objects.get(pk=user_id)
    session = session_get_or_create(user_id)
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
            return ChatReply(
                text=static_text.TOPUP_NEEDED.format(
                    balance=credits_text(refused.balance),
                    needed=credits_text(refused.needed),
                    unit=settings.BILLING_UNIT,
                ),
                answered=False,
                offer_topup=True,
            )
    first_today = not chatted_on(user_id, timezone.localdate())
    session = update_session(session.pk, {"role": "user", "content": text})
    if analysis_due(session.question_count):
        refresh_journey.delay(user_id, session.pk)
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
        return ChatReply(text=static_text.PROGRESS_SAVED, answered=False)
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
    return ChatReply(text=completion.text, answered=True)
