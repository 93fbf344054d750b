from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.bot.application import ALLOWED_UPDATES
from apps.bot.models import InboxStatus, InboxUpdate
from apps.users.models import TelegramUser
from tests.helpers import message_update


def _call(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_set_webhook_passes_secret_allowed_updates_and_limits(bot_api, settings):
    _call(
        "set_webhook", "https://bot.example.com/telegram/webhook/", "--max-connections", "80", "--drop-pending-updates"
    )
    [call] = bot_api.calls_to("setWebhook")
    assert call.params["url"] == "https://bot.example.com/telegram/webhook/"
    assert call.params["secret_token"] == settings.TELEGRAM_WEBHOOK_SECRET
    assert call.params["allowed_updates"] == ALLOWED_UPDATES
    assert call.params["max_connections"] == 80
    assert call.params["drop_pending_updates"] is True


def test_set_webhook_refuses_without_a_secret(bot_api, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    with pytest.raises(CommandError, match="TELEGRAM_WEBHOOK_SECRET"):
        _call("set_webhook", "https://bot.example.com/telegram/webhook/")
    assert not bot_api.calls_to("setWebhook")


def test_delete_webhook(bot_api):
    _call("delete_webhook", "--drop-pending-updates")
    [call] = bot_api.calls_to("deleteWebhook")
    assert call.params["drop_pending_updates"] is True


@pytest.mark.django_db(transaction=True)
def test_run_polling_feeds_the_same_inbox_and_handlers(bot_api):
    update = message_update("/start polled", user_id=3001)
    bot_api.queue_updates(update)
    output = _call("run_polling", "--once", "--timeout", "0")
    assert "1 update(s)" in output
    assert bot_api.calls_to("deleteWebhook"), "getUpdates is refused while a webhook is set"
    assert InboxUpdate.objects.get(pk=update["update_id"]).status == InboxStatus.DONE
    assert TelegramUser.objects.get(pk=3001).source == "polled"
    assert [call.params["chat_id"] for call in bot_api.calls_to("sendMessage")] == [3001]


@pytest.mark.django_db
def test_seed_demo_makes_a_realistic_population_and_replaces_it_when_run_again():
    from apps.analytics.models import AnalyticsEvent
    from apps.demo.population import DEMO_ID_START
    from apps.users.models import UserActivityLog

    TelegramUser.objects.create(id=42, first_name="Real")
    _call("seed_demo", "--users", "50", "--days", "30")
    _call("seed_demo", "--users", "40", "--days", "30")
    demo = TelegramUser.objects.filter(pk__gte=DEMO_ID_START)
    assert demo.count() == 40
    assert TelegramUser.objects.filter(pk=42).exists(), "real users are untouched"
    assert UserActivityLog.objects.filter(user__in=demo).count() > 40 * 3
    assert AnalyticsEvent.objects.filter(event_name="bot_started").count() == 40
    for user in demo:
        assert user.registration_date <= user.last_seen_date
    assert demo.filter(is_active=False).exists() and demo.filter(is_active=True).exists()
    assert demo.exclude(source="").exists()


@pytest.mark.django_db
def test_seed_demo_sessions_requests_and_rollups_agree(reference_data):
    from django.db.models import Sum

    from apps.llm.models import DailyUsage, LLMRequest, UserUsageSummary
    from apps.sessions.models import UserSession

    _call("seed_demo", "--users", "30")
    requests = LLMRequest.objects.all()
    assert requests.filter(cost__isnull=False).exists() and requests.exclude(status="success").exists()
    assert requests.filter(total_tokens__isnull=True, status="success").exists(), "some usage unknown"
    totals = requests.aggregate(tokens=Sum("total_tokens"), cost=Sum("cost"))
    assert DailyUsage.objects.aggregate(t=Sum("total_tokens"))["t"] == totals["tokens"]
    assert UserUsageSummary.objects.aggregate(t=Sum("total_tokens"))["t"] == totals["tokens"]
    assert UserUsageSummary.objects.aggregate(c=Sum("total_cost"))["c"] == totals["cost"]
    assert DailyUsage.objects.aggregate(r=Sum("requests"))["r"] == requests.count()
    assert UserSession.objects.count() == 30

    from apps.billing.models import Operation, Payment
    from apps.billing.selectors import ledger_mismatches

    checked, mismatches = ledger_mismatches()
    assert checked == 30 and mismatches == []
    assert Operation.objects.filter(type=2).exists(), "answers were charged"
    # Every payment of credits is one payment operation; a paid stream's credits none.
    assert Payment.objects.filter(stream=None).count() == Operation.objects.filter(type=1).count()
    assert not Operation.objects.filter(payment__stream__isnull=False).exists()


@pytest.mark.django_db
def test_create_demo_admin_prints_working_credentials(client):
    output = _call("create_demo_admin")
    username, password = output.strip().split(": ")[1].split(" / ")
    assert client.login(username=username, password=password)
    assert client.get("/admin/").status_code == 200
