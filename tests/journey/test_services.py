"""The hero's journey read by the LLM (the fake OpenAI server) and recorded."""

import pytest

from apps.analytics.models import AnalyticsEvent
from apps.bot.flows.sessions import session_finish
from apps.journey.models import JourneyProgress, JourneyStage
from apps.journey.services import analyze_journey_stage, update_journey_stage
from apps.llm.models import LLMRequest
from apps.sessions.services import create_session, update_session
from apps.users.models import TelegramUser
from tests.factories import TelegramUserFactory
from tests.fakes.openai import Answer, Fail
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)
HISTORY = [
    {"role": "user", "content": "I finally quit the job I hated."},
    {"role": "assistant", "content": "What did it take?"},
]


@pytest.fixture
def user() -> TelegramUser:
    return TelegramUserFactory(id=1201, username="hero")


def test_a_valid_answer_names_the_stage_and_is_metered_as_background_spend(llm_api, user):
    llm_api.then(Answer(text='{"stage": "crossing_the_threshold", "reason": "left the job"}'))
    assert analyze_journey_stage(user.id, HISTORY) == JourneyStage.CROSSING_THE_THRESHOLD
    [sent] = llm_api.requests
    assert sent["response_format"] == {"type": "json_object"} and "I finally quit" in sent["messages"][1]["content"]
    assert LLMRequest.objects.get().request_type == "journey_analysis"


@pytest.mark.parametrize("text", ["not json", '{"stage": "the_moon"}', '{"reason": "no stage"}', "[1, 2]"])
def test_invalid_output_keeps_the_current_stage(llm_api, user, text):
    update_journey_stage(user.id, JourneyStage.ORDEAL)
    llm_api.then(Answer(text=text))
    assert analyze_journey_stage(user.id, HISTORY) is None
    user.refresh_from_db()
    assert user.last_journey_stage == JourneyStage.ORDEAL


@pytest.mark.parametrize("text", ["secret words of the model", '{"stage": "secret words of the model"}'])
def test_the_log_of_an_unusable_answer_carries_no_model_text(llm_api, user, text, caplog):
    llm_api.then(Answer(text=text))
    with caplog.at_level("WARNING", logger="apps.journey.services"):
        assert analyze_journey_stage(user.id, HISTORY) is None
    assert caplog.records, "the failure is logged"
    assert "secret" not in caplog.text


def test_a_failing_llm_keeps_the_current_stage(llm_api, user, settings):
    llm_api.then(*[Fail(500)] * (settings.LLM_MAX_RETRIES + 1))
    assert analyze_journey_stage(user.id, HISTORY) is None
    assert LLMRequest.objects.get().status == "error"


def test_update_records_progress_flags_and_the_event(user):
    assert update_journey_stage(user.id, JourneyStage.ORDINARY_WORLD)
    assert update_journey_stage(user.id, JourneyStage.CALL_TO_ADVENTURE)
    assert not update_journey_stage(user.id, JourneyStage.CALL_TO_ADVENTURE), "no change, no row"
    assert update_journey_stage(user.id, JourneyStage.RETURN_WITH_THE_ELIXIR)
    user.refresh_from_db()
    assert user.last_journey_stage == "return_with_the_elixir"
    assert user.has_started_journey and user.has_completed_journey
    latest = JourneyProgress.objects.filter(user=user).first()
    assert latest.completed_stages == ["ordinary_world", "call_to_adventure"]
    assert JourneyProgress.objects.filter(user=user).count() == 3
    changes = AnalyticsEvent.objects.filter(event_name="journey_stage_changed").order_by("id")
    assert [e.properties["to_stage"] for e in changes] == [
        "ordinary_world",
        "call_to_adventure",
        "return_with_the_elixir",
    ]
    with pytest.raises(ValueError):
        update_journey_stage(user.id, "nowhere")


def test_a_completed_session_moves_the_stage_through_the_llm(llm_api, user):
    session = create_session(user.id)
    for turn in HISTORY:
        update_session(session.pk, turn)
    llm_api.then(Answer(text='{"stage": "meeting_the_mentor", "reason": "found a coach"}'))
    session_finish(session.pk)
    user.refresh_from_db()
    assert user.last_journey_stage == JourneyStage.MEETING_THE_MENTOR


def test_every_n_messages_the_stage_is_read_again(post_update, bot_api, llm_api, settings):
    settings.JOURNEY_ANALYSIS_EVERY = 2
    post_update(message_update("/start", user_id=1202))
    llm_api.then(Answer(text="first answer"), Answer(text='{"stage": "approach"}'), Answer(text="second answer"))
    post_update(message_update("one", user_id=1202))
    post_update(message_update("two", user_id=1202))
    assert TelegramUser.objects.get(pk=1202).last_journey_stage == JourneyStage.APPROACH
    kinds = list(LLMRequest.objects.filter(user_id=1202).order_by("id").values_list("request_type", flat=True))
    assert kinds == ["chat", "journey_analysis", "chat"]


def test_journey_command_tells_the_user_where_they_stand(post_update, bot_api):
    post_update(message_update("/journey", user_id=1203))
    assert "not been read yet" in bot_api.calls_to("sendMessage")[-1].params["text"]
    update_journey_stage(1203, JourneyStage.ORDEAL)
    post_update(message_update("/journey", user_id=1203))
    assert bot_api.calls_to("sendMessage")[-1].params["text"].startswith("You are at stage 8 of 12")
