"""Finishing a conversation session."""

from django.db import transaction

from apps.journey.tasks import refresh_journey
from apps.sessions.models import UserSession
from apps.sessions.services import complete_session


@transaction.atomic
def session_finish(session_id: int) -> UserSession:
    """The session completed (seed 004's complete_session) and, once that is committed, the user's
    hero's-journey stage read again from it: once, by the call that completed it (two quick /new
    confirmations must not pay for the reading twice)."""
    running = UserSession.objects.select_for_update().filter(pk=session_id, is_active=True).exists()
    session = complete_session(session_id)
    if running:
        transaction.on_commit(lambda: refresh_journey.delay(session.user_id, session.pk))
    return session
