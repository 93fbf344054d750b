"""The bot's flows called directly (no webhook, no Telegram): the chat turn and its billing rules, a
contact's trial credit, finishing a session. The LLM is the fake OpenAI server."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from apps.analytics.models import AnalyticsEvent
from apps.billing.models import Operation, OperationType
from apps.billing.selectors import ledger_mismatches
from apps.billing.services import charge_estimate, get_user_balance
from apps.bot import static_text
from apps.bot.flows.chat import ChatReply, chat_turn
from apps.bot.flows.contact import contact_record
from apps.bot.flows.sessions import session_finish
from apps.journey.models import JourneyStage
from apps.llm.models import BotPersona, LLMRequest, RequestType
from apps.sessions.models import UserSession
from apps.users.services import ContactActivity, TelegramIdentity
from tests.factories import (
    LLMRequestFactory,
    TelegramUserFactory,
    UserSessionFactory,
    UserWithBalanceFactory,
)
from tests.fakes.openai import Answer, Fail

pytestmark = pytest.mark.django_db(transaction=True)


def _types(user_id: int) -> list[str]:
    operations = Operation.objects.filter(user_id=user_id).order_by("id")
    return [OperationType(t).label for t in operations.values_list("type", flat=True)]


def _events(name: str, user_id: int) -> list[dict]:
    return list(AnalyticsEvent.objects.filter(event_name=name, user_id=user_id).values_list("properties", flat=True))


def _estimate(text: str) -> Decimal:
    """The hold for a first message (no earlier turns): the persona's prompt and the text."""
    persona = BotPersona.objects.get(is_active=True)
    prompt_chars = len(persona.system_prompt) + len(text)
    return charge_estimate(model="gpt-4o-mini", prompt_chars=prompt_chars, max_tokens=persona.max_tokens)


# --- chat_turn: billing -------------------------------------------------------------------------
def test_a_billable_user_is_charged_exactly_what_the_answer_cost(llm_api):
    user = UserWithBalanceFactory(credits=10)
    llm_api.then(Answer(text="Here you are.", usage={"prompt_tokens": 1200, "completion_tokens": 300}))

    reply = chat_turn(user_id=user.id, username="kate", text="help me plan")

    assert reply == ChatReply(text="Here you are.", answered=True, offer_topup=False)
    request = LLMRequest.objects.get(user=user)
    assert (request.prompt_tokens, request.completion_tokens, request.status) == (1200, 300, "success")
    # no plan: gpt-4o-mini's cost ($0.00036) × BILLING_DEFAULT_MARKUP (3) × BILLING_CREDITS_PER_USD (100)
    charge = Decimal("0.108")
    assert get_user_balance(user.id) == Decimal(10) - charge == Decimal("9.892")
    assert _types(user.id) == ["adjustment", "reserve", "release", "generation"]
    reserve = Operation.objects.get(user=user, type=OperationType.RESERVE)
    release = Operation.objects.get(user=user, type=OperationType.RELEASE)
    [generation] = Operation.objects.filter(user=user, type=OperationType.GENERATION)
    # the hold: more than every allowed completion token costs (800 × $0.60/1M × 3 × 100 = 0.144)
    assert reserve.amount == -_estimate("help me plan") and reserve.amount < Decimal("-0.144")
    assert release.amount == -reserve.amount, "the hold is settled: all of it given back"
    assert (generation.amount, generation.llm_request_id, generation.model) == (-charge, request.pk, "gpt-4o-mini")
    assert ledger_mismatches()[1] == []


def test_a_balance_below_the_estimate_gets_a_topup_offer_and_no_llm_call(llm_api):
    user = UserWithBalanceFactory(credits="0.1")
    needed = _estimate("answer me")

    reply = chat_turn(user_id=user.id, username="u", text="answer me")

    assert reply == ChatReply(
        text=static_text.TOPUP_NEEDED.format(balance="0.1", needed=f"{needed.normalize():f}", unit="credits"),
        answered=False,
        offer_topup=True,
    )
    assert llm_api.requests == [] and not LLMRequest.objects.exists()
    assert get_user_balance(user.id) == Decimal("0.1")
    assert _types(user.id) == ["adjustment"], "nothing held, nothing charged"
    [offered] = _events("topup_offered", user.id)
    assert Decimal(offered["balance"]) == Decimal("0.1")
    assert _events("ai_dialog_started", user.id) == []
    assert UserSession.objects.get(user=user).conversation_history == [], "the message was not taken in"
    assert ledger_mismatches()[1] == []


def test_an_llm_failure_releases_the_hold_and_notes_the_error(llm_api, settings):
    settings.LLM_MAX_RETRIES = 0
    user = UserWithBalanceFactory(credits=5)
    llm_api.then(Fail(500))

    reply = chat_turn(user_id=user.id, username="u", text="are you there?")

    assert reply == ChatReply(text=static_text.PROGRESS_SAVED, answered=False, offer_topup=False)
    assert len(llm_api.requests) == 1
    assert get_user_balance(user.id) == Decimal(5)
    assert _types(user.id) == ["adjustment", "reserve", "release"]
    assert not Operation.objects.filter(user=user, type=OperationType.GENERATION).exists()
    reserve = Operation.objects.get(user=user, type=OperationType.RESERVE)
    assert Operation.objects.get(user=user, type=OperationType.RELEASE).amount == -reserve.amount
    session = UserSession.objects.get(user=user, is_active=True)
    assert "InternalServerError" in session.session_data["last_error"]
    assert [turn["content"] for turn in session.conversation_history] == ["are you there?"], "the message is kept"
    [error] = _events("error_occurred", user.id)
    assert (error["error_type"], error["where"]) == ("error", "chat")
    assert LLMRequest.objects.get(user=user).status == "error"
    assert ledger_mismatches()[1] == []


@pytest.mark.parametrize("who", ["admin", "free-mode"])
def test_a_non_billable_user_is_answered_and_not_charged(llm_api, settings, who):
    user = TelegramUserFactory(is_admin=who == "admin")  # no balance at all
    settings.BILLING_FREE_MODE = who == "free-mode"
    llm_api.then(Answer(text="On the house."))

    reply = chat_turn(user_id=user.id, username="u", text="hi")

    assert reply == ChatReply(text="On the house.", answered=True)
    assert len(llm_api.requests) == 1 and LLMRequest.objects.get(user=user).status == "success"
    assert not Operation.objects.filter(user=user).exists()
    assert get_user_balance(user.id) == Decimal(0)


# --- chat_turn: the session and the day's first dialog ------------------------------------------
def test_the_message_and_the_answer_go_into_the_active_session(llm_api):
    user = UserWithBalanceFactory()
    earlier = [{"role": "user", "content": "I moved to Porto."}, {"role": "assistant", "content": "How is it?"}]
    session = UserSessionFactory(user=user, conversation_history=earlier)
    UserSessionFactory(user=user, is_active=False, conversation_history=[{"role": "user", "content": "old"}])
    llm_api.then(Answer(text="Rainy days pass."))

    chat_turn(user_id=user.id, username="u", text="It rains a lot")

    session.refresh_from_db()
    assert [(turn["role"], turn["content"]) for turn in session.conversation_history] == [
        ("user", "I moved to Porto."),
        ("assistant", "How is it?"),
        ("user", "It rains a lot"),
        ("assistant", "Rainy days pass."),
    ]
    assert session.question_count == 2 and session.is_active
    assert UserSession.objects.filter(user=user).count() == 2, "no new session"
    [sent] = llm_api.requests
    assert [m["content"] for m in sent["messages"][1:]] == ["I moved to Porto.", "How is it?", "It rains a lot"]
    assert LLMRequest.objects.get(user=user).session_id == session.pk


def test_the_first_answer_of_the_day_starts_a_dialog_once(llm_api):
    user = UserWithBalanceFactory()
    chat_turn(user_id=user.id, username="u", text="one")
    chat_turn(user_id=user.id, username="u", text="two")

    session = UserSession.objects.get(user=user)
    assert _events("ai_dialog_started", user.id) == [{"session_id": session.pk}]
    assert len(_events("ai_response_time", user.id)) == 2


@pytest.mark.parametrize(("days_ago", "dialogs"), [(0, 0), (1, 1)], ids=["earlier-today", "yesterday"])
def test_an_llm_request_earlier_today_means_the_dialog_has_started(llm_api, days_ago, dialogs):
    user = UserWithBalanceFactory()
    LLMRequestFactory(user=user, created_at=timezone.now() - timedelta(days=days_ago))
    chat_turn(user_id=user.id, username="u", text="again")
    assert len(_events("ai_dialog_started", user.id)) == dialogs


def test_a_background_request_about_the_user_does_not_start_their_dialog(llm_api):
    """A profile written for them this morning is not a conversation: their first message still is."""
    user = UserWithBalanceFactory()
    LLMRequestFactory(user=user, request_type=RequestType.PROFILE_SUMMARY)
    chat_turn(user_id=user.id, username="u", text="good morning")
    assert len(_events("ai_dialog_started", user.id)) == 1


# --- contact_record ------------------------------------------------------------------------------
def _contact(user_id: int, **identity):
    return contact_record(
        identity=TelegramIdentity(id=user_id, **identity),
        activity=ContactActivity(chat_id=user_id, activity_type="command", details={"command": "start"}),
    )


def test_a_new_user_gets_the_trial_credit_once(settings):
    settings.BILLING_TRIAL_CREDITS = Decimal("20")
    first = _contact(1301, first_name="Ana")
    again = _contact(1301, first_name="Ana", username="ana")

    assert (first.created, again.created) == (True, False)
    assert again.user.username == "ana"
    assert get_user_balance(1301) == Decimal(20)
    [bonus] = Operation.objects.filter(user_id=1301)
    assert (bonus.type, bonus.amount, bonus.reason) == (OperationType.BONUS, Decimal(20), "trial credit")
    assert ledger_mismatches()[1] == []


def test_a_returning_user_gets_no_trial_credit(settings):
    settings.BILLING_TRIAL_CREDITS = Decimal("20")
    user = TelegramUserFactory(first_name="Old")

    contact = _contact(user.id, first_name="Older")

    assert contact.created is False and contact.user.first_name == "Older"
    assert not Operation.objects.filter(user=user).exists()
    assert get_user_balance(user.id) == Decimal(0)


# --- session_finish ------------------------------------------------------------------------------
HISTORY = [
    {"role": "user", "content": "I finally asked someone to coach me."},
    {"role": "assistant", "content": "What made you ask?"},
]


def test_finishing_completes_the_session_then_reads_the_journey_again(llm_api):
    user = TelegramUserFactory()
    session = UserSessionFactory(user=user, conversation_history=HISTORY)
    llm_api.then(Answer(text='{"stage": "meeting_the_mentor", "reason": "found a coach"}'))

    with transaction.atomic():
        finished = session_finish(session.pk)
        assert llm_api.requests == [], "not before the session's completion is committed"

    assert finished.pk == session.pk and not finished.is_active and finished.completed_at is not None
    session.refresh_from_db()
    assert not session.is_active
    [analysis] = LLMRequest.objects.filter(user=user)
    assert analysis.request_type == RequestType.JOURNEY_ANALYSIS
    [sent] = llm_api.requests
    assert "I finally asked someone to coach me." in sent["messages"][1]["content"]
    user.refresh_from_db()
    assert user.last_journey_stage == JourneyStage.MEETING_THE_MENTOR
    assert _events("session_completed", user.id) == [{"session_id": session.pk, "turns": 2}]


def test_a_finish_that_rolls_back_reads_nothing(llm_api):
    session = UserSessionFactory(conversation_history=HISTORY)

    with pytest.raises(RuntimeError), transaction.atomic():
        session_finish(session.pk)
        raise RuntimeError("the caller's transaction fails")

    assert llm_api.requests == [] and not LLMRequest.objects.exists()
    session.refresh_from_db()
    assert session.is_active and session.completed_at is None


def test_finishing_twice_reads_the_journey_once(llm_api):
    """Two quick /new confirmations finish the same session: the paid reading happens once."""
    session = UserSessionFactory(conversation_history=HISTORY)
    llm_api.then(Answer(text='{"stage": "meeting_the_mentor"}'), Answer(text='{"stage": "ordeal"}'))
    session_finish(session.pk)
    session_finish(session.pk)
    assert LLMRequest.objects.filter(request_type=RequestType.JOURNEY_ANALYSIS).count() == 1


def test_a_chat_turn_tells_the_answer_as_it_streams_and_stores_only_the_whole(llm_api, settings):
    user = UserWithBalanceFactory(credits=10)
    llm_api.then(Answer(text="Here you are, step by step.", usage={"prompt_tokens": 1200, "completion_tokens": 300}))
    told: list[str] = []

    reply = chat_turn(user_id=user.id, username="kate", text="help me plan", on_text=told.append)

    assert reply == ChatReply(text="Here you are, step by step.", answered=True)
    assert told[-1] == reply.text and len(told) == 6
    assert get_user_balance(user.id) == Decimal("9.892"), "charged as an unstreamed answer"
    session = UserSession.objects.get(user=user, is_active=True)
    assert [turn["content"] for turn in session.conversation_history] == ["help me plan", reply.text]
    [timed] = _events("ai_response_time", user.id)
    assert 0 <= timed["ttft_ms"] <= timed["duration_ms"] and timed["streamed"] is True
