import pytest
from django.urls import reverse

from apps.bot.models import InboxStatus, InboxUpdate
from apps.users.models import TelegramUser, UserActivityLog
from tests.helpers import captured_update


@pytest.mark.django_db
def test_admin_index_shows_how_the_bot_is_doing(admin_client):
    TelegramUser.objects.create(id=1, first_name="A")
    TelegramUser.objects.create(id=2, first_name="B", is_active=False)
    InboxUpdate.objects.create(update_id=5, status=InboxStatus.FAILED, payload={"update_id": 5})
    response = admin_client.get(reverse("admin:index"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "How the bot is doing" in page
    assert "?status__exact=failed" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["", "?q=anna", "?q=1001", "?is_active__exact=0", "?gender__exact=female", "?source=ads", "?q=not-a-number"],
)
def test_user_changelist_search_and_filters(admin_client, query):
    TelegramUser.objects.create(id=1001, first_name="Anna", username="anna", gender="female", source="ads")
    response = admin_client.get(reverse("admin:users_telegramuser_changelist") + query)
    assert response.status_code == 200


@pytest.mark.django_db
def test_user_page_shows_latest_activity_read_only(admin_client):
    user = TelegramUser.objects.create(id=1002, first_name="Anna")
    UserActivityLog.objects.create(user=user, chat_id=1002, activity_type="command", details={"command": "start"})
    response = admin_client.get(reverse("admin:users_telegramuser_change", args=[user.pk]))
    assert response.status_code == 200
    assert "command" in response.content.decode()
    assert 'name="registration_date"' not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_replay_action_sends_failed_updates_through_the_bot_again(admin_client, bot_api):
    payload = captured_update("message.json")
    InboxUpdate.objects.create(
        update_id=payload["update_id"], status=InboxStatus.FAILED, payload=payload, attempts=3, error="boom"
    )
    response = admin_client.post(
        reverse("admin:bot_inboxupdate_changelist"),
        {"action": "replay", "_selected_action": [payload["update_id"]]},
        follow=True,
    )
    assert "1 update(s) sent through the bot again" in response.content.decode()
    row = InboxUpdate.objects.get(pk=payload["update_id"])
    assert (row.status, row.error, row.payload) == (InboxStatus.DONE, "", None)
