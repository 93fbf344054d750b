"""Voice notes: fetched from the Bot API server (the fake serves getFile and the file), transcribed by the
provider (the fake's /audio/transcriptions), metered as a transcription, charged like an answer, then
answered as if typed; once per update. The real path: webhook → handler → flows → openai client."""

import itertools
from decimal import Decimal

import pytest

from apps.billing.models import Operation, OperationType
from apps.billing.selectors import ledger_mismatches
from apps.billing.services import charge_for_audio, get_user_balance
from apps.bot import runtime, services, static_text
from apps.bot.flows import voice as voice_flow
from apps.bot.models import InboxStatus, InboxUpdate, VoiceTranscript
from apps.llm.models import LLMRequest, RequestType
from tests.factories import UserWithBalanceFactory
from tests.fakes.openai import Answer, Fail, Transcription
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)

AUDIO = b"OggS\x00\x02fake opus audio" * 64
_files = itertools.count(1)


def voice_update(*, user_id: int, duration: int, file_id: str | None = None) -> dict:
    """A private-chat voice note, as Telegram sends one."""
    payload = message_update("", user_id=user_id)
    message = payload["message"]
    message.pop("text", None)
    message.pop("entities", None)
    message["voice"] = {
        "file_id": file_id or f"voice-{next(_files)}",
        "file_unique_id": "unique",
        "duration": duration,
        "mime_type": "audio/ogg",
        "file_size": len(AUDIO),
    }
    return payload


def _texts(bot_api, chat_id: int) -> list[str]:
    return [
        call.params["text"]
        for call in bot_api.calls_to("sendMessage")
        if int(call.params["chat_id"]) == chat_id and call.status == 200
    ]


def _types(user_id: int) -> list[str]:
    operations = Operation.objects.filter(user_id=user_id).order_by("id")
    return [OperationType(t).label for t in operations.values_list("type", flat=True)]


def test_a_voice_note_is_transcribed_metered_charged_and_answered(post_update, bot_api, llm_api, settings):
    settings.BILLING_FREE_MODE = False
    user = UserWithBalanceFactory(credits=10)
    payload = voice_update(user_id=user.id, duration=7, file_id="voice-a")
    bot_api.add_file("voice-a", AUDIO)
    llm_api.then(Transcription(text="What is the meaning of life?", seconds=7), Answer(text="Forty-two."))

    post_update(payload)

    assert [call.params["file_id"] for call in bot_api.calls_to("getFile")] == ["voice-a"]
    assert bot_api.downloads == ["voice/voice-a.oga"], "fetched from the Bot API server's file URL"
    [sent] = llm_api.transcriptions
    assert sent["model"] == "whisper-1" and sent["file"]["content"] == AUDIO
    [chat] = llm_api.requests
    assert chat["messages"][-1] == {"role": "user", "content": "What is the meaning of life?"}
    assert _texts(bot_api, user.id) == ["Forty-two."], "answered as if typed"

    transcription = LLMRequest.objects.get(user_id=user.id, request_type=RequestType.TRANSCRIPTION)
    assert (transcription.status, transcription.provider, transcription.model) == ("success", "openai", "whisper-1")
    assert transcription.audio_seconds == 7
    assert transcription.cost == Decimal("0.006") * 7 / 60 == Decimal("0.0007"), "whisper-1: $0.006 a minute"
    assert LLMRequest.objects.filter(user_id=user.id, request_type=RequestType.CHAT).count() == 1

    assert _types(user.id) == ["adjustment", "reserve", "release", "generation", "reserve", "release", "generation"]
    heard, answered = Operation.objects.filter(user_id=user.id, type=OperationType.GENERATION).order_by("id")
    assert heard.llm_request_id == transcription.pk and heard.model == "whisper-1"
    expected = charge_for_audio(model="whisper-1", audio_seconds=7, provider_cost=transcription.cost)
    assert heard.amount == -expected and expected > 0
    assert answered.amount < 0 and answered.llm_request.request_type == RequestType.CHAT
    assert get_user_balance(user.id) == Decimal(10) + heard.amount + answered.amount
    assert ledger_mismatches()[1] == []
    assert not VoiceTranscript.objects.exists(), "what was said goes once the answer is stored"

    balance = get_user_balance(user.id)
    runtime.process_update(payload)  # delivered again: answered from the store
    assert len(llm_api.transcriptions) == 1 and len(llm_api.requests) == 1
    assert len(bot_api.calls_to("getFile")) == 1
    assert get_user_balance(user.id) == balance and _texts(bot_api, user.id) == ["Forty-two."]


def test_a_voice_note_too_long_is_refused_nothing_charged_nothing_transcribed(post_update, bot_api, llm_api, settings):
    settings.BILLING_FREE_MODE = False
    settings.VOICE_MAX_SECONDS = 300
    user = UserWithBalanceFactory(credits=10)
    bot_api.add_file("voice-long", AUDIO)

    post_update(voice_update(user_id=user.id, duration=301, file_id="voice-long"))

    assert _texts(bot_api, user.id) == [static_text.VOICE_TOO_LONG.format(limit="5:00")]
    assert not bot_api.calls_to("getFile") and not bot_api.downloads, "not even downloaded"
    assert llm_api.transcriptions == [] and llm_api.requests == []
    assert not LLMRequest.objects.exists()
    assert _types(user.id) == ["adjustment"] and get_user_balance(user.id) == Decimal(10)


def test_redelivered_after_the_transcription_neither_transcribes_nor_charges_again(
    post_update, bot_api, llm_api, settings, monkeypatch
):
    """The worker dies after the transcription was charged and remembered, before the answer: the update is
    delivered again, and the stored transcript is answered; no second download, transcription or charge."""
    settings.BILLING_FREE_MODE = False
    user = UserWithBalanceFactory(credits=10)
    payload = voice_update(user_id=user.id, duration=12, file_id="voice-b")
    bot_api.add_file("voice-b", AUDIO)
    llm_api.then(Transcription(text="Remind me what we said."), Answer(text="We spoke of courage."))
    chat_turn = voice_flow.chat_turn

    def killed(**kwargs):
        raise RuntimeError("worker killed before the answer")

    monkeypatch.setattr(voice_flow, "chat_turn", killed)
    post_update(payload)
    assert InboxUpdate.objects.get(pk=payload["update_id"]).status == InboxStatus.FAILED
    assert VoiceTranscript.objects.get(pk=payload["update_id"]).text == "Remind me what we said."
    assert _types(user.id) == ["adjustment", "reserve", "release", "generation"]

    monkeypatch.setattr(voice_flow, "chat_turn", chat_turn)
    assert services.inbox_replay(update_ids=[payload["update_id"]]) == 1

    assert _texts(bot_api, user.id) == ["We spoke of courage."]
    assert len(llm_api.transcriptions) == 1 and len(bot_api.calls_to("getFile")) == 1
    assert LLMRequest.objects.filter(user_id=user.id, request_type=RequestType.TRANSCRIPTION).count() == 1
    assert _types(user.id) == ["adjustment", "reserve", "release", "generation", "reserve", "release", "generation"]
    assert ledger_mismatches()[1] == []
    assert not VoiceTranscript.objects.exists()


def test_a_failed_transcription_releases_its_hold(post_update, bot_api, llm_api, settings):
    settings.BILLING_FREE_MODE = False
    user = UserWithBalanceFactory(credits=10)
    bot_api.add_file("voice-c", AUDIO)
    llm_api.then(Fail(400))
    post_update(voice_update(user_id=user.id, duration=5, file_id="voice-c"))

    assert _texts(bot_api, user.id) == [static_text.PROGRESS_SAVED]
    assert llm_api.requests == [], "nothing to answer: the model is not asked"
    request = LLMRequest.objects.get(user_id=user.id)
    assert (request.request_type, request.status, request.cost) == ("transcription", "error", None)
    assert _types(user.id) == ["adjustment", "reserve", "release"] and get_user_balance(user.id) == Decimal(10)


def test_without_a_provider_a_voice_note_gets_a_labelled_demo_transcript(post_update, bot_api, reference_data):
    user = UserWithBalanceFactory(credits=10)
    bot_api.add_file("voice-d", AUDIO)
    post_update(voice_update(user_id=user.id, duration=4, file_id="voice-d"))

    [answer] = _texts(bot_api, user.id)
    assert answer.startswith("[Demo reply")
    transcription = LLMRequest.objects.get(user_id=user.id, request_type=RequestType.TRANSCRIPTION)
    assert (transcription.provider, transcription.audio_seconds, transcription.cost) == ("offline", 4, Decimal(0))
    assert transcription.response_text == "" or transcription.response_text.startswith("[Demo transcript")


def test_an_audio_file_is_transcribed_under_its_own_name(post_update, bot_api, llm_api):
    user = UserWithBalanceFactory(credits=10)
    payload = voice_update(user_id=user.id, duration=20, file_id="audio-e")
    message = payload["message"]
    message["audio"] = {**message.pop("voice"), "file_name": "memo.mp3", "mime_type": "audio/mpeg"}
    bot_api.add_file("audio-e", AUDIO)
    llm_api.then(Transcription(text="Notes from the meeting."), Answer(text="Noted."))
    post_update(payload)

    [sent] = llm_api.transcriptions
    assert sent["file"]["filename"] == "memo.mp3"
    assert llm_api.requests[0]["messages"][-1]["content"] == "Notes from the meeting."
    assert _texts(bot_api, user.id) == ["Noted."]
    assert LLMRequest.objects.get(request_type=RequestType.TRANSCRIPTION).audio_seconds == 20


def test_a_voice_note_the_balance_cannot_pay_for_is_refused_in_the_users_words(post_update, bot_api, llm_api, settings):
    """As for a text: the amounts as the user's language writes them, the word for credits declined to match."""
    settings.BILLING_FREE_MODE = False
    user = UserWithBalanceFactory(credits=Decimal("0.5"), bot_language="ru")
    bot_api.add_file("voice-poor", AUDIO)

    post_update(voice_update(user_id=user.id, duration=60, file_id="voice-poor"))

    [text] = _texts(bot_api, user.id)
    assert text.startswith("На вашем балансе 0,5 кредита, а ответ может стоить до ") and "credits" not in text
    assert llm_api.transcriptions == [] and get_user_balance(user.id) == Decimal("0.5")
