import pytest
from django.db import IntegrityError, transaction

from apps.analytics.models import AnalyticsEvent
from apps.sessions.models import UserSession
from apps.sessions.services import (
    complete_session,
    create_session,
    restore_active_sessions,
    session_recent_turns,
    update_session,
)
from apps.users.models import TelegramUser
from tests.factories import TelegramUserFactory
from tests.helpers import run_concurrently


@pytest.fixture
def user(db) -> TelegramUser:
    return TelegramUserFactory(id=601, first_name="Lev")


def test_one_active_session_per_user_is_enforced_by_the_database(user):
    first = create_session(user.id)
    assert create_session(user.id) == first, "the active one is returned, not a second"
    with pytest.raises(IntegrityError), transaction.atomic():
        UserSession.objects.create(user=user, is_active=True)


def test_history_is_stored_whole_and_bounded_for_the_llm(user, settings):
    settings.LLM_HISTORY_TURNS = 4
    session = create_session(user.id)
    for n in range(5):
        update_session(session.pk, {"role": "user", "content": f"q{n}"})
        update_session(session.pk, {"role": "assistant", "content": f"a{n}"})
    session.refresh_from_db()
    assert len(session.conversation_history) == 10
    assert session.question_count == 5
    assert session_recent_turns(session) == [
        {"role": "user", "content": "q3"}, {"role": "assistant", "content": "a3"},
        {"role": "user", "content": "q4"}, {"role": "assistant", "content": "a4"},
    ]  # fmt: skip


def test_complete_then_create_starts_a_fresh_session(user):
    session = create_session(user.id)
    update_session(session.pk, {"role": "user", "content": "hi"}, metaphysical_profile={"element": "air"})
    completed = complete_session(session.pk)
    assert not completed.is_active and completed.completed_at is not None
    user.refresh_from_db()
    assert user.metaphysical_profile == {"element": "air"}
    fresh = create_session(user.id)
    assert fresh.pk != session.pk and fresh.conversation_history == []
    assert restore_active_sessions() == {user.id: fresh}


@pytest.mark.django_db(transaction=True)
def test_session_completed_is_tracked_after_commit():
    TelegramUserFactory(id=602)
    session = create_session(602)
    complete_session(session.pk)
    event = AnalyticsEvent.objects.get(event_name="session_completed")
    assert event.properties == {"session_id": session.pk, "turns": 0}


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_messages_share_one_session_and_keep_every_turn(require_postgres):
    TelegramUserFactory(id=603)
    run_concurrently(lambda n: update_session(create_session(603).pk, {"role": "user", "content": f"m{n}"}), 10)
    [session] = UserSession.objects.filter(user_id=603)
    assert sorted(turn["content"] for turn in session.conversation_history) == sorted(f"m{n}" for n in range(10))
