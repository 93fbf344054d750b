"""The webhook → inbox → python-telegram-bot path, end to end against the fake Bot API."""

import pytest

from apps.analytics.models import AnalyticsEvent
from apps.bot import static_text
from apps.bot.models import InboxStatus, InboxUpdate
from apps.users.models import TelegramUser, UserActivityLog
from tests.helpers import message_update, my_chat_member_update

pytestmark = pytest.mark.django_db(transaction=True)


def test_start_creates_the_user_and_the_reply_reaches_the_bot_api(post_update, bot_api):
    payload = message_update("/start ads_autumn", user_id=777, first_name="Anna", username="anna_k", language_code="en")
    assert post_update(payload).status_code == 200

    user = TelegramUser.objects.get(pk=777)
    assert (user.first_name, user.username, user.language_code) == ("Anna", "anna_k", "en")
    assert user.source == "ads_autumn"
    assert user.is_active

    [reply] = bot_api.calls_to("sendMessage")
    assert reply.params["chat_id"] == 777
    assert reply.params["text"] == static_text.WELCOME_NEW.format(name="Anna")
    assert reply.token == "123456:TEST-token"

    event = AnalyticsEvent.objects.get(event_name="bot_started")
    assert event.user_id == 777
    assert event.properties == {"is_new": True, "source": "ads_autumn"}

    row = InboxUpdate.objects.get(pk=payload["update_id"])
    assert row.status == InboxStatus.DONE
    assert row.payload is None, "the user's message must not outlive processing"


def test_second_start_greets_back_and_keeps_the_first_source(post_update, bot_api):
    post_update(message_update("/start first_campaign", user_id=778, first_name="Ivan"))
    post_update(message_update("/start second_campaign", user_id=778, first_name="Ivan"))

    assert TelegramUser.objects.get(pk=778).source == "first_campaign"
    replies = [call.params["text"] for call in bot_api.calls_to("sendMessage")]
    assert replies == [static_text.WELCOME_NEW.format(name="Ivan"), static_text.WELCOME_BACK.format(name="Ivan")]
    flags = list(AnalyticsEvent.objects.order_by("id").values_list("properties__is_new", flat=True))
    assert flags == [True, False]


@pytest.mark.parametrize("text", ["/start", "/start  ", "/start bad payload!", "/start " + "x" * 65])
def test_start_without_a_valid_payload_stores_no_source(post_update, bot_api, text):
    post_update(message_update(text, user_id=779))
    assert TelegramUser.objects.get(pk=779).source == ""
    assert bot_api.calls_to("sendMessage")


def test_every_contact_refreshes_names_and_logs_one_activity(post_update, bot_api):
    post_update(message_update("/start", user_id=780, first_name="Old", username="old_name"))
    first_seen = TelegramUser.objects.get(pk=780).last_seen_date
    post_update(message_update("hello there", user_id=780, first_name="New", username="new_name"))

    user = TelegramUser.objects.get(pk=780)
    assert (user.first_name, user.username) == ("New", "new_name")
    assert user.last_seen_date > first_seen
    assert user.registration_date < user.last_seen_date

    activity = list(UserActivityLog.objects.filter(user=user).order_by("timestamp"))
    assert [row.activity_type for row in activity] == ["command", "message"]
    assert activity[0].details["command"] == "start"
    assert activity[1].details["content"] == "text"
    assert all("hello" not in str(row.details) for row in activity), "activity never stores what was written"


def test_blocking_and_unblocking_flip_is_active(post_update, bot_api):
    post_update(message_update("/start", user_id=781))
    post_update(my_chat_member_update(user_id=781, old="member", new="kicked"))
    assert TelegramUser.objects.get(pk=781).is_active is False

    post_update(my_chat_member_update(user_id=781, old="kicked", new="member"))
    assert TelegramUser.objects.get(pk=781).is_active is True


def test_a_reply_refused_with_403_marks_the_user_inactive_and_is_not_a_failure(post_update, bot_api):
    bot_api.fail_chat(782, 403)
    payload = message_update("/start", user_id=782)
    post_update(payload)

    assert TelegramUser.objects.get(pk=782).is_active is False
    assert InboxUpdate.objects.get(pk=payload["update_id"]).status == InboxStatus.DONE


def test_a_failing_reply_is_kept_for_replay_and_replay_delivers_it(post_update, bot_api):
    from apps.bot.services import inbox_replay

    bot_api.fail_chat(783, 429, retry_after=1)
    payload = message_update("/start", user_id=783)
    post_update(payload)
    row = InboxUpdate.objects.get(pk=payload["update_id"])
    assert row.status == InboxStatus.FAILED
    assert "RetryAfter" in row.error
    assert row.payload == payload

    bot_api.reset()
    assert inbox_replay(update_ids=[row.pk]) == 1
    row.refresh_from_db()
    assert row.status == InboxStatus.DONE
    assert [call.params["chat_id"] for call in bot_api.calls_to("sendMessage")] == [783]
    # The failed attempt recorded the user; replay must not register them twice.
    assert TelegramUser.objects.filter(pk=783).count() == 1


def test_my_chat_member_in_a_group_does_not_touch_the_user(post_update, bot_api):
    post_update(message_update("/start", user_id=784))
    payload = my_chat_member_update(user_id=784, old="member", new="left")
    payload["my_chat_member"]["chat"] = {"id": -100123, "type": "supergroup", "title": "A group"}
    post_update(payload)
    assert TelegramUser.objects.get(pk=784).is_active is True
