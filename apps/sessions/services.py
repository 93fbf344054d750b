"""Persistent conversation sessions (seed 004's SessionPersistenceService, same names)."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.users.models import TelegramUser

from .models import SessionType, UserSession


def session_get_or_create(user_id: int, session_type: str = SessionType.CHAT) -> UserSession:
    """The user's active session, created if there is none. The database allows only one active
    session per user, so two messages racing here end up in the same session. Read first: most messages
    find it, where an insert that fails costs a savepoint and a round trip more."""
    if (session := active_session(user_id)) is not None:
        return session
    try:
        with transaction.atomic():
            return UserSession.objects.create(user_id=user_id, session_type=session_type)
    except IntegrityError:
        return UserSession.objects.get(user_id=user_id, is_active=True)


create_session = session_get_or_create  # seed 004's name, for its callers


def active_session(user_id: int) -> UserSession | None:
    return UserSession.objects.filter(user_id=user_id, is_active=True).first()


@transaction.atomic
def update_session(session_id: int, message: dict[str, Any], **changes: Any) -> UserSession:
    """Append a turn ({"role", "content"}) to the stored history; the row is locked meanwhile, so
    concurrent turns are all kept. `changes` sets other fields (state, session_data, …). A turn that
    names the update it came from ("update_id") is appended once, however often that update is processed."""
    session = UserSession.objects.select_for_update().get(pk=session_id)
    update_id = message.get("update_id")
    if update_id is not None and any(
        turn.get("update_id") == update_id and turn.get("role") == message.get("role")
        for turn in session.conversation_history
    ):
        return session
    session.conversation_history.append({**message, "at": timezone.now().isoformat()})
    if message.get("role") == "user":
        session.question_count += 1
    for name, value in changes.items():
        setattr(session, name, value)
    session.save(update_fields=["conversation_history", "question_count", "updated_at", *changes])
    return session


@transaction.atomic
def session_note_error(session_id: int, error: str) -> None:
    """Seed 004's recovery: the error is kept on the session, the conversation is untouched."""
    session = UserSession.objects.select_for_update().get(pk=session_id)
    session.session_data = {
        **session.session_data,
        "last_error": error[:500],
        "error_timestamp": timezone.now().isoformat(),
    }
    session.save(update_fields=["session_data", "updated_at"])


@transaction.atomic
def complete_session(session_id: int) -> UserSession:
    session = UserSession.objects.select_for_update().get(pk=session_id)
    if not session.is_active:
        return session
    session.is_active = False
    session.completed_at = timezone.now()
    session.save(update_fields=["is_active", "completed_at", "updated_at"])
    if session.metaphysical_profile:
        TelegramUser.objects.filter(pk=session.user_id).update(metaphysical_profile=session.metaphysical_profile)
    transaction.on_commit(
        lambda: track(
            Events.SESSION_COMPLETED,
            user_id=session.user_id,
            properties={"session_id": session.pk, "turns": len(session.conversation_history)},
        )
    )
    return session


def restore_active_sessions() -> dict[int, UserSession]:
    return {session.user_id: session for session in UserSession.objects.filter(is_active=True)}


def session_recent_turns(session: UserSession, limit: int | None = None) -> list[dict[str, str]]:
    """The turns sent to the LLM: the last `limit` (LLM_HISTORY_TURNS), as role/content only."""
    limit = settings.LLM_HISTORY_TURNS if limit is None else limit
    turns = session.conversation_history[-limit:] if limit else []
    return [{"role": turn["role"], "content": turn["content"]} for turn in turns]


def session_histories_purge(*, retention_days: int | None = None) -> int:
    """What people wrote is kept for SESSION_HISTORY_RETENTION_DAYS: completed sessions lose their turns
    after that (the session's figures stay), and a session still running loses its turns older than
    that. Returns how many sessions lost turns."""
    cutoff = timezone.now() - timedelta(days=retention_days or settings.SESSION_HISTORY_RETENTION_DAYS)
    completed = (
        UserSession.objects.filter(is_active=False, completed_at__lt=cutoff)
        .exclude(conversation_history=[])
        .update(conversation_history=[])
    )
    trimmed = 0
    started_before = UserSession.objects.filter(is_active=True, created_at__lt=cutoff).exclude(conversation_history=[])
    for session_id in started_before.values_list("pk", flat=True).iterator():
        trimmed += _turns_drop_before(session_id, cutoff)
    return completed + trimmed


@transaction.atomic
def _turns_drop_before(session_id: int, cutoff: datetime) -> int:
    session = UserSession.objects.select_for_update().get(pk=session_id)
    kept = [turn for turn in session.conversation_history if not _said_before(turn, cutoff)]
    if len(kept) == len(session.conversation_history):
        return 0
    session.conversation_history = kept
    session.save(update_fields=["conversation_history", "updated_at"])
    return 1


def _said_before(turn: dict, cutoff: datetime) -> bool:
    said = parse_datetime(turn["at"]) if isinstance(turn.get("at"), str) else None
    return said is not None and said < cutoff


def sessions_erase(user_id: int) -> int:
    """The user's sessions go, with every turn they wrote and all that was read from them (patterns,
    profile, trauma). Returns how many."""
    deleted, _ = UserSession.objects.filter(user_id=user_id).delete()
    return deleted
