"""Profile rotation (seed 004) against the fake OpenAI server."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bot.flows.profiles import profile_refresh, profile_refresh_if_stale, rotate_profiles
from apps.llm.models import LLMRequest
from apps.users.models import ProfileRotationRun, TelegramUser, UserActivityLog
from apps.users.selectors import users_due_for_rotation
from tests.fakes.openai import Answer, Fail
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)
GOOD = '{"summary": "Curious and restless.", "streams": ["career", "growth"]}'


def _user(user_id: int, *, seen_days_ago: float, profile_days_ago: float | None) -> TelegramUser:
    now = timezone.now()
    markers = (
        {} if profile_days_ago is None else {"profile_updated_at": (now - timedelta(days=profile_days_ago)).isoformat()}
    )
    user = TelegramUser.objects.create(id=user_id, last_seen_date=now - timedelta(days=seen_days_ago), markers=markers)
    UserActivityLog.objects.create(user=user, activity_type="message", details={"content": "text", "n": user_id})
    return user


def test_selection_takes_recent_users_with_old_or_no_profiles():
    _user(1, seen_days_ago=1, profile_days_ago=None)
    _user(2, seen_days_ago=1, profile_days_ago=8)
    _user(3, seen_days_ago=1, profile_days_ago=6)  # fresh profile
    _user(4, seen_days_ago=31, profile_days_ago=None)  # not seen for a month
    assert list(users_due_for_rotation().values_list("id", flat=True)) == [1, 2]


def test_rotation_updates_in_batches_skips_failures_and_records_the_run(llm_api, settings):
    settings.LLM_MAX_RETRIES = 0
    for user_id in range(10, 15):
        _user(user_id, seen_days_ago=1, profile_days_ago=None)
    llm_api.then(Answer(text=GOOD), Fail(500), Answer(text="not json"), Answer(text=GOOD), Answer(text=GOOD))
    run = rotate_profiles(batch_size=2, pause=0)
    assert (run.selected, run.updated, run.failed) == (5, 3, 2)
    assert run.finished_at is not None and ProfileRotationRun.objects.get() == run
    updated = TelegramUser.objects.get(pk=10)
    assert (updated.psychological_summary, updated.streams) == ("Curious and restless.", ["career", "growth"])
    assert "profile_updated_at" in updated.markers
    assert TelegramUser.objects.get(pk=11).psychological_summary == "", "a failure leaves the user as they were"
    assert set(LLMRequest.objects.values_list("request_type", flat=True)) == {"profile_summary"}
    assert list(users_due_for_rotation().values_list("id", flat=True)) == [11, 12], "the failed ones wait"


def test_the_same_material_is_not_paid_for_twice(llm_api):
    user = _user(20, seen_days_ago=1, profile_days_ago=None)
    llm_api.then(Answer(text=GOOD))
    profile_refresh(user.id)
    profile_refresh(user.id)
    assert len(llm_api.requests) == 1, "the answer was cached by the prompt's hash"


def test_a_stale_profile_is_refreshed_on_contact_once_a_day(llm_api, post_update, bot_api, settings):
    settings.PROFILE_REFRESH_ON_CONTACT = True
    _user(30, seen_days_ago=1, profile_days_ago=10)
    llm_api.then(Answer(text=GOOD))
    post_update(message_update("/start", user_id=30))
    post_update(message_update("/start", user_id=30))
    assert TelegramUser.objects.get(pk=30).psychological_summary == "Curious and restless."
    assert LLMRequest.objects.filter(request_type="profile_summary").count() == 1
    assert not profile_refresh_if_stale(TelegramUser.objects.get(pk=30)), "fresh now"


def test_a_new_user_gets_no_profile_of_nothing(llm_api, post_update, bot_api, settings):
    """Commands alone are no material: the profile is written once the user has written a message."""
    settings.PROFILE_REFRESH_ON_CONTACT = True
    post_update(message_update("/start", user_id=40))
    post_update(message_update("/start", user_id=40))
    assert list(users_due_for_rotation().values_list("id", flat=True)) == []
    assert not LLMRequest.objects.filter(request_type="profile_summary").exists()
    # The message is material: its contact asks for the profile first, then the chat turn is answered.
    llm_api.then(Answer(text=GOOD), Answer(text="hello"))
    post_update(message_update("I want to change careers", user_id=40))
    assert LLMRequest.objects.filter(request_type="profile_summary").count() == 1
    assert TelegramUser.objects.get(pk=40).psychological_summary == "Curious and restless."
