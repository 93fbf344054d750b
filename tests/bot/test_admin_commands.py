import pytest

from apps.users.models import TelegramUser
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)


def test_stats_is_for_admins_only(post_update, bot_api):
    post_update(message_update("/stats", user_id=1204))
    assert "do not know that command" in bot_api.calls_to("sendMessage")[-1].params["text"]
    TelegramUser.objects.filter(pk=1204).update(is_admin=True)
    post_update(message_update("/stats", user_id=1204))
    text = bot_api.calls_to("sendMessage")[-1].params["text"]
    assert text.startswith("Today (") and "1 active users, 1 new, 2 messages" in text
