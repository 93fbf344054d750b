"""Each request names the persona that answered it (margin by persona), however it was recorded."""

import pytest
from django.db import OperationalError

from apps.bot.flows.chat import chat_turn
from apps.llm import metering
from apps.llm.models import BotPersona, LLMRequest, RequestType
from apps.llm.services import llm_complete
from tests.factories import UserWithBalanceFactory
from tests.fakes.openai import Answer

pytestmark = pytest.mark.django_db


def persona_activate(name: str) -> BotPersona:
    BotPersona.objects.update(is_active=False)
    return BotPersona.objects.create(name=name, system_prompt=f"You are {name}.", is_active=True)


def test_a_chat_answer_records_the_persona_active_when_it_was_asked(llm_api):
    user = UserWithBalanceFactory(credits=10)
    mentor = persona_activate("Mentor")
    llm_api.then(Answer(text="first"), Answer(text="second"))
    assert chat_turn(user_id=user.id, username="u", text="hello").answered
    coach = persona_activate("Coach")
    assert chat_turn(user_id=user.id, username="u", text="and now?").answered

    recorded = LLMRequest.objects.filter(user=user).order_by("created_at", "pk")
    assert [request.persona_id for request in recorded] == [mentor.pk, coach.pk]
    # A persona deleted later leaves its requests, without it.
    mentor.delete()
    assert [request.persona_id for request in recorded.all()] == [None, coach.pk]


def test_a_background_request_records_no_persona(llm_api):
    user = UserWithBalanceFactory()
    persona_activate("Mentor")
    llm_api.then(Answer(text="{}"))
    llm_complete([{"role": "user", "content": "sum up"}], user_id=user.id, request_type=RequestType.PROFILE_SUMMARY)
    assert LLMRequest.objects.get(user=user).persona_id is None


def test_a_record_stored_later_keeps_its_persona(llm_api, monkeypatch):
    """The database fails every inline attempt: the task that stores the record later stores the persona too."""
    user = UserWithBalanceFactory(credits=10)
    mentor = persona_activate("Mentor")
    real_usage_record, failures = metering.usage_record, []

    def down_while_inline(**fields):
        if len(failures) <= len(metering._RECORD_RETRY_DELAYS):
            failures.append(1)
            raise OperationalError("could not connect to server")
        return real_usage_record(**fields)

    monkeypatch.setattr(metering, "usage_record", down_while_inline)
    monkeypatch.setattr(metering, "_RECORD_RETRY_DELAYS", (0, 0))
    llm_api.then(Answer(text="hi"))
    assert chat_turn(user_id=user.id, username="u", text="hello").answered
    assert len(failures) == 3
    assert LLMRequest.objects.get(user=user).persona_id == mentor.pk
