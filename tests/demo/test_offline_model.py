"""Without OPENAI_API_KEY the demo model answers, labelled as a demo, in the language of the update."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from apps.llm.client import transcribe
from apps.llm.services import llm_complete
from tests.factories import TelegramUserFactory

pytestmark = pytest.mark.django_db

MESSAGES = [{"role": "user", "content": "Привет"}]


@pytest.mark.parametrize(
    ("language", "label", "count"),
    [
        ("ru", "[Демо-ответ: языковая модель не подключена (задайте OPENAI_API_KEY).]", "Вы написали 6 символов"),
        ("en", "[Demo reply: no LLM is configured (set OPENAI_API_KEY).]", "You wrote 6 characters"),
    ],
)
def test_the_demo_reply_speaks_the_active_language(settings, language, label, count):
    settings.OPENAI_API_KEY = ""
    user = TelegramUserFactory()
    with translation.override(language):
        first = llm_complete(MESSAGES, user_id=user.id)
        again = llm_complete(MESSAGES, user_id=user.id)
    assert first.text.startswith(label) and count in first.text
    assert "OPENAI_API_KEY" in first.text, "says how to connect a model"
    assert first.model == "offline-demo"
    assert (first.prompt_tokens, first.completion_tokens) == (again.prompt_tokens, again.completion_tokens)


def test_the_demo_reply_is_english_where_no_language_is_active(settings):
    settings.OPENAI_API_KEY = ""
    user = TelegramUserFactory()
    assert llm_complete(MESSAGES, user_id=user.id).text.startswith("[Demo reply")


@pytest.mark.parametrize(
    ("language", "seconds", "said"),
    [
        ("ru", 1, "Голосовое сообщение на 1 секунду."),
        ("ru", 4, "Голосовое сообщение на 4 секунды."),
        ("ru", 11, "Голосовое сообщение на 11 секунд."),
        ("en", 4, "A voice note of 4 seconds."),
    ],
)
def test_the_demo_transcript_speaks_the_active_language(settings, language, seconds, said):
    settings.OPENAI_API_KEY = ""
    with translation.override(language):
        transcript = transcribe(b"audio", filename="voice.ogg", model="whisper-1", audio_seconds=seconds)
    assert transcript.text.endswith(said) and "OPENAI_API_KEY" in transcript.text
    assert transcript.audio_seconds == seconds


@pytest.mark.django_db(transaction=True)
def test_manage_py_chat_answers_a_russian_user_in_russian(reference_data, settings):
    settings.OPENAI_API_KEY = ""
    out = StringIO()
    call_command("chat", "--say", "Привет", "--language", "ru", stdout=out)
    output = out.getvalue()
    assert "you › Привет\n" in output
    assert (
        "bot › [Демо-ответ: языковая модель не подключена (задайте OPENAI_API_KEY).] Вы написали 6 символов" in output
    )
    assert "Demo reply" not in output
