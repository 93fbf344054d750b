"""Transcriptions through the real `openai` client against the fake server: metered as their own request
type, with the audio's seconds and a cost from the model's price per audio minute."""

from decimal import Decimal

import pytest

from apps.analytics.selectors import get_user_total_usage
from apps.llm.client import LLMError
from apps.llm.models import LLMRequest, ModelPrice, RequestType, UserUsageSummary
from apps.llm.services import llm_transcribe
from tests.factories import TelegramUserFactory
from tests.fakes.openai import Fail, Transcription

pytestmark = pytest.mark.django_db

AUDIO = b"OggS fake audio"


def test_a_transcription_is_metered_by_the_minute(llm_api, settings):
    user = TelegramUserFactory(id=601)
    llm_api.then(Transcription(text=" Hello there. ", seconds=89.2))
    transcript = llm_transcribe(AUDIO, filename="voice.ogg", audio_seconds=88, user_id=user.id)

    assert transcript.text == "Hello there."
    [sent] = llm_api.transcriptions
    assert (sent["model"], sent["file"]["filename"], sent["file"]["content"]) == ("whisper-1", "voice.ogg", AUDIO)
    assert llm_api.requests == [], "no chat completion"
    request = LLMRequest.objects.get()
    assert (request.request_type, request.provider, request.model, request.status) == (
        "transcription",
        "openai",
        "whisper-1",
        "success",
    )
    assert request.audio_seconds == 90, "the provider's own count, whole seconds up"
    assert request.total_tokens is None, "no tokens: never counted as zero"
    assert request.cost == transcript.cost == Decimal("0.009"), "$0.006 a minute"
    assert UserUsageSummary.objects.get(user=user).total_cost == Decimal("0.009")
    assert get_user_total_usage(user.id) == 0


def test_a_model_without_a_price_per_minute_leaves_the_cost_unknown(llm_api, settings):
    settings.LLM_TRANSCRIBE_MODEL = "gpt-4o-mini"  # priced by the token only
    llm_api.then(Transcription(text="hi"))
    llm_transcribe(AUDIO, filename="voice.ogg", audio_seconds=30, user_id=None)
    request = LLMRequest.objects.get()
    assert (request.model, request.audio_seconds, request.cost) == ("gpt-4o-mini", 30, None)
    ModelPrice.objects.filter(model="gpt-4o-mini").update(per_audio_minute=Decimal("0.012"))
    llm_api.then(Transcription(text="hi"))
    llm_transcribe(AUDIO, filename="voice.ogg", audio_seconds=30, user_id=None)
    assert LLMRequest.objects.order_by("-id").first().cost == Decimal("0.006")


def test_a_failed_transcription_is_recorded_and_costs_nothing(llm_api, settings):
    llm_api.then(Fail(500), Fail(500), Fail(500))
    with pytest.raises(LLMError):
        llm_transcribe(AUDIO, filename="voice.ogg", audio_seconds=10, user_id=None)
    request = LLMRequest.objects.get()
    assert (request.request_type, request.status, request.attempts, request.cost) == (
        RequestType.TRANSCRIPTION,
        "error",
        3,
        None,
    )
