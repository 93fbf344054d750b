"""A chat turn: hold credits → LLM → settle → reply, once per Telegram update."""

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.billing.exceptions import InsufficientBalance
from apps.billing.services import (
    billing_release,
    billing_reserve,
    billing_settle,
    charge_estimate,
    charge_for_usage,
    is_billable,
)
from apps.bot import keyboards, static_text
from apps.bot.formatting import split_message
from apps.bot.language import language_name_in_english
from apps.bot.models import Reply
from apps.bot.replies import Answer, reply_store
from apps.core.money import amount_text, credits_unit
from apps.journey.services import analysis_due
from apps.journey.tasks import refresh_journey
from apps.llm.client import LLMError
from apps.llm.metering import usage_held
from apps.llm.selectors import chatted_on
from apps.llm.services import active_persona, llm_complete
from apps.sessions.services import session_get_or_create, session_note_error, session_recent_turns, update_session
from apps.users.models import TelegramUser


@dataclass(frozen=True)
class ChatReply:
    text: str
    answered: bool  # False: no model answer (the LLM failed, or the balance was too low)
    offer_topup: bool = False
    stored: Reply | None = field(default=None, compare=False)  # the update's reply, as the turn stored it


@dataclass(frozen=True)
class _Update:
    """The Telegram update a turn answers, when it answers one: what keys its effects."""

    update_id: int
    chat_id: int


def chat_turn(
    *,
    user_id: int,
    username: str,
    text: str,
    update_id: int | None = None,
    chat_id: int | None = None,
    on_text: Callable[[str], None] | None = None,
) -> ChatReply:
    """A text message in chat: the most the answer can cost is held on the balance; the message goes into
    the active session, to the LLM with the persona and recent turns, and back; the hold is settled to
    what the answer cost. When the LLM fails after its retries, the hold is released, the message stays
    in the session and the error is noted; nothing else is lost.

    For a Telegram update (`update_id`, `chat_id`), every effect is keyed by it: the hold is made once,
    the message enters the session once, and the answer is stored as the update's reply with the
    settlement that charges for it; the bot sends the stored reply, so a redelivered update (a worker
    killed mid-send) is answered from it and charged nothing more. Only a crash between the LLM's answer
    and that commit repeats the LLM call, and even then the hold is settled once.

    Two transactions carry it (a commit each): before the LLM, the session, the hold and the user's turn;
    after it, the call's record (LLMRequest and its rollups), the charge, the answer's turn and the stored
    reply. None is open while the LLM answers. A database error in the second leaves the call recorded
    on its own (apps.llm.metering.usage_held); a process killed between the answer and that commit leaves
    it unrecorded, and the update's redelivery asks and records again.

    `on_text(text_so_far)` is told the answer as it streams (a preview, never the reply: the reply is what
    is stored). It must return at once; a stream that breaks is an LLM failure like any other."""
    origin = _Update(update_id, chat_id or user_id) if update_id is not None else None
    # Before the LLM, one transaction: the session, the hold and the user's turn (with what they read).
    with transaction.atomic():
        user = TelegramUser.objects.get(pk=user_id)
        session = session_get_or_create(user_id)
        persona = active_persona()
        model = persona.model or settings.OPENAI_MODEL
        messages = [
            {"role": "system", "content": _system_prompt(persona.system_prompt)},
            *session_recent_turns(session),
            {"role": "user", "content": text},
        ]
        reserve = None
        if is_billable(user):
            estimate = charge_estimate(
                model=model, prompt_chars=sum(len(m["content"]) for m in messages), max_tokens=persona.max_tokens
            )
            try:
                reserve = billing_reserve(user_id=user_id, amount=estimate, for_update=update_id)
            except InsufficientBalance as refused:
                track(Events.TOPUP_OFFERED, user_id=user_id, properties={"balance": str(refused.balance)})
                return _answered(origin, topup_needed(refused))
        first_today = not chatted_on(user_id, timezone.localdate())
        asked_before = session.question_count
        session = update_session(session.pk, _turn("user", text, origin))
        if session.question_count > asked_before and analysis_due(session.question_count):
            session_id = session.pk
            transaction.on_commit(lambda: refresh_journey.delay(user_id, session_id))
    if first_today:
        track(Events.DIALOG_STARTED, user_id=user_id, properties={"session_id": session.pk})
    # The call's record is written with the charge and the answer (one commit), or on its own if they fail.
    with usage_held() as usage:
        try:
            completion = llm_complete(
                messages,
                user_id=user_id,
                username=username,
                session_id=session.pk,
                persona_id=persona.pk,  # None: no persona stored, the built-in fallback answered
                model=model,
                temperature=persona.temperature,
                max_tokens=persona.max_tokens,
                on_text=on_text,
            )
        except LLMError as error:
            with transaction.atomic():
                usage.write()
                if reserve is not None:
                    billing_release(reserve=reserve)
                session_note_error(session.pk, str(error))
                failed = _answered(origin, ChatReply(text=str(static_text.PROGRESS_SAVED), answered=False))
            track(
                Events.ERROR_OCCURRED,
                user_id=user_id,
                properties={"error_type": error.status, "where": "chat", "model": error.model},
            )
            return failed
        reply = ChatReply(text=completion.text, answered=True)
        with transaction.atomic():  # recorded, charged, remembered and stored to be sent: together or not at all
            request = usage.write()
            if reserve is not None:
                charge = charge_for_usage(
                    model=completion.model,
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens,
                    provider_cost=request.cost if request is not None else None,
                )
                billing_settle(
                    reserve=reserve,
                    charge=charge,
                    llm_request_id=request.pk if request is not None else None,
                    model=completion.model,
                )
            update_session(session.pk, _turn("assistant", completion.text, origin))
            reply = _answered(origin, reply)
    track(
        Events.RESPONSE_TIME,
        user_id=user_id,
        properties={
            "duration_ms": completion.latency_ms,
            "model_used": completion.model,
            "ttft_ms": completion.first_token_ms,
            "streamed": on_text is not None and settings.LLM_STREAMING,
        },
    )
    return reply


def topup_needed(refused: InsufficientBalance) -> ChatReply:
    """The answer to a message the balance cannot pay for (a text or a voice note): what is left, what it needs."""
    return ChatReply(
        text=static_text.TOPUP_NEEDED.format(
            balance=amount_text(refused.balance, places=4),
            needed=amount_text(refused.needed, places=4),
            unit=credits_unit(refused.balance),
        ),
        answered=False,
        offer_topup=True,
    )


def _system_prompt(prompt: str) -> str:
    """The persona's prompt, and the user's language (the one active for the update) unless it is the default:
    English is also every untranslated language's, and the model mirrors those by itself."""
    try:
        language = translation.get_supported_language_variant(translation.get_language() or "")
    except LookupError:
        return prompt
    if language == settings.BOT_DEFAULT_LANGUAGE:
        return prompt
    name = language_name_in_english(language)
    return f"{prompt}\n\n{static_text.ANSWER_IN_LANGUAGE.format(language=name)}"


def _turn(role: str, content: str, origin: _Update | None) -> dict:
    turn = {"role": role, "content": content}
    return {**turn, "update_id": origin.update_id} if origin is not None else turn


def _answered(origin: _Update | None, reply: ChatReply) -> ChatReply:
    """Store the reply the update is answered with (when the turn answers one); `stored` is it."""
    if origin is None:
        return reply
    parts = split_message(reply.text)
    markup = keyboards.topup() if reply.offer_topup else None
    stored = reply_store(update_id=origin.update_id, chat_id=origin.chat_id, answer=Answer(parts, markup))
    return replace(reply, stored=stored)
