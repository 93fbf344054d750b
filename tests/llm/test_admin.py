import pytest
from django.urls import reverse

from apps.analytics.services import record_usage
from apps.sessions.services import create_session, update_session
from apps.users.models import TelegramUser

pytestmark = pytest.mark.django_db


def test_request_list_totals_the_filtered_rows_and_shows_unknown_usage(admin_client):
    record_usage(1, "a", 100, prompt_tokens=90, completion_tokens=10, model="m1", provider="p")
    record_usage(1, "a", 50, prompt_tokens=40, completion_tokens=10, model="m2", provider="p")
    record_usage(1, "a", None, model="m2", provider="p")
    page = admin_client.get(reverse("admin:llm_llmrequest_changelist") + "?model=m2").content.decode()
    assert "<strong>2</strong> requests shown" in page
    assert "<strong>50</strong> tokens" in page
    assert "1 with usage unknown" in page
    assert ">unknown<" in page


@pytest.mark.parametrize(
    "name",
    [
        "admin:llm_modelprice_changelist",
        "admin:llm_botpersona_changelist",
        "admin:llm_dailyusage_changelist",
        "admin:llm_userusagesummary_changelist",
        "admin:bot_sessions_usersession_changelist",
    ],
)
def test_metering_pages_render(admin_client, name):
    record_usage(1, "a", 100, prompt_tokens=90, completion_tokens=10, model="m1", provider="p")
    assert admin_client.get(reverse(name)).status_code == 200


def test_session_page_shows_the_conversation(admin_client):
    TelegramUser.objects.create(id=5)
    session = create_session(5)
    update_session(session.pk, {"role": "user", "content": "Where do I start?"})
    page = admin_client.get(reverse("admin:bot_sessions_usersession_change", args=[session.pk])).content.decode()
    assert "Where do I start?" in page
