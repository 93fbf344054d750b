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


@pytest.mark.parametrize(
    ("language_code", "money"),
    [
        ("en", "cost $0.00 (background $0.00).\nEarned revenue (credits spent) $0.00, margin $0.00. Cash paid $0.00."),
        ("ru", "расходы $0,00 (из них фоновые — $0,00).\nЗаработано (израсходованные кредиты) $0,00, маржа $0,00."),
    ],
)
def test_stats_says_earned_revenue_and_cash_apart_in_the_admins_language(post_update, bot_api, language_code, money):
    TelegramUser.objects.create(id=1205, is_admin=True, language_code=language_code)
    post_update(message_update("/stats", user_id=1205, language_code=language_code))
    assert money in bot_api.calls_to("sendMessage")[-1].params["text"]
