"""/mydata and the admin's "Download data (JSON)": everything Botdesk holds about a user, as one JSON file,
and nothing about anyone else."""

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from apps.analytics.models import AnalyticsEvent
from apps.bot import runtime, static_text
from apps.bot.flows.export import user_data_json
from apps.sessions.models import UserSession
from tests.factories import PaymentFactory, UserSessionFactory, UserWithBalanceFactory
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)

PHRASE = "my grandmother's blue bicycle in Tver"


def _plant(phrase: str = PHRASE, **user):
    """A user with a session turn, a payment (and its operation), an adjustment and an event."""
    person = UserWithBalanceFactory(credits="7.5", first_name="Anna", **user)
    session = UserSessionFactory(user=person, conversation_history=[{"role": "user", "content": phrase}])
    payment = PaymentFactory(user=person, package__credits=100)
    event = AnalyticsEvent.objects.create(event_name="command_used", user=person, properties={"command": "start"})
    return person, session, payment, event


def _documents(bot_api, chat_id: int) -> list:
    return [call.params for call in bot_api.calls_to("sendDocument") if int(call.params["chat_id"]) == chat_id]


def _check(data: dict, person, session, payment, event) -> None:
    person.refresh_from_db()  # the update's sender refreshes the names Telegram gives
    assert data["profile"]["id"] == person.id and data["profile"]["first_name"] == person.first_name
    [stored] = [row for row in data["sessions"] if row["id"] == session.id]
    assert stored["conversation_history"] == [{"role": "user", "content": PHRASE}]
    assert [row["id"] for row in data["payments"]] == [payment.id]
    assert data["payments"][0]["credits"] == "100.0000", "amounts as exact strings"
    amounts = sorted(Decimal(row["amount"]) for row in data["operations"])
    assert amounts == sorted([Decimal("7.5"), payment.credits])
    assert Decimal(data["balance"]) == Decimal("7.5") + payment.credits
    [stored] = [row for row in data["events"] if row["id"] == event.id]
    assert stored["occurred_at"] == event.occurred_at.isoformat()
    assert {row["user_id"] for row in data["events"]} == {person.id}


def test_mydata_sends_the_user_a_json_file_of_their_records_once(post_update, bot_api):
    person, session, payment, event = _plant()
    other, *_ = _plant("someone else's secret", username="other")
    payload = message_update("/mydata", user_id=person.id)
    post_update(payload)
    runtime.process_update(payload)  # redelivered: the file is not sent again

    [sent] = _documents(bot_api, person.id)
    assert sent["document"].filename == f"botdesk-data-{person.id}.json"
    assert sent["caption"] == str(static_text.EXPORT_CAPTION)
    content = bytes(sent["document"]).decode()
    assert PHRASE in content
    assert "someone else's secret" not in content and str(other.id) not in content
    _check(json.loads(content), person, session, payment, event)
    assert _documents(bot_api, other.id) == []


def test_a_russian_users_caption_is_russian(post_update, bot_api):
    person, *_ = _plant()
    post_update(message_update("/mydata", user_id=person.id, language_code="ru"))
    [sent] = _documents(bot_api, person.id)
    assert sent["caption"].startswith("Вот всё, что я храню о вас")


def test_staff_download_the_same_json_from_the_user_page(admin_client):
    person, session, payment, event = _plant()
    _plant("someone else's secret", username="other")
    page = admin_client.get(reverse("admin:users_telegramuser_change", args=[person.pk])).content.decode()
    url = reverse("admin:users_telegramuser_data", args=[person.pk])
    assert f'href="{url}"' in page and "Download data (JSON)" in page

    response = admin_client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="botdesk-data-{person.id}.json"'
    content = response.content.decode()
    assert content == user_data_json(person.id)
    assert "someone else's secret" not in content
    _check(json.loads(content), person, session, payment, event)
    assert admin_client.get(reverse("admin:users_telegramuser_data", args=[1])).status_code == 404


def test_staff_without_view_permission_on_users_get_no_download(client):
    person, *_ = _plant()
    staff = User.objects.create_user("clerk", password="x", is_staff=True)
    url = reverse("admin:users_telegramuser_data", args=[person.pk])
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_telegramuser"))
    assert client.get(url).status_code == 200
    assert UserSession.objects.filter(user=person).exists()
