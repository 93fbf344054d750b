"""The delivery engine against the fake Bot API, through the real python-telegram-bot client."""

import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils import timezone

from apps.analytics.models import AnalyticsEvent
from apps.analytics.services import events_flush
from apps.broadcast import services
from apps.broadcast.delivery import broadcast_run
from apps.broadcast.models import Broadcast, BroadcastAction, BroadcastDelivery, BroadcastStatus, DeliveryStatus
from apps.users.models import TelegramUser

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast(settings):
    settings.BROADCAST_RATE = 500
    settings.BROADCAST_CONCURRENCY = 4
    settings.BROADCAST_RETRY_BASE_DELAY = 0.05


def _users(*user_ids: int, **fields) -> None:
    TelegramUser.objects.bulk_create([TelegramUser(id=user_id, **fields) for user_id in user_ids])


def _broadcast(**fields) -> Broadcast:
    defaults = {"title": "News", "text": "<b>Hello</b> &amp; welcome"}
    return Broadcast.objects.create(**{**defaults, **fields})


def _chats(bot_api) -> list[int]:
    return [int(call.params["chat_id"]) for call in bot_api.calls_to("sendMessage")]


def test_a_broadcast_reaches_exactly_its_segment_once(bot_api):
    _users(1, 2, 3, gender="female")
    _users(4, 5, gender="male")
    broadcast = _broadcast(gender="female", buttons=[{"text": "Open", "url": "https://example.com/a"}])

    services.broadcast_start(broadcast.pk)  # tasks run in-process here: returns when the run is over

    assert sorted(_chats(bot_api)) == [1, 2, 3]
    call = bot_api.calls_to("sendMessage")[0]
    assert call.params["parse_mode"] == "HTML" and call.params["text"] == "<b>Hello</b> &amp; welcome"
    assert call.params["reply_markup"] == {"inline_keyboard": [[{"text": "Open", "url": "https://example.com/a"}]]}
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.recipients, broadcast.sent, broadcast.failed) == ("done", 3, 3, 0)
    assert broadcast.finished_at is not None and broadcast.runner == ""
    deliveries = BroadcastDelivery.objects.filter(broadcast=broadcast)
    assert all(d.status == "sent" and d.message_id and d.sent_at and d.attempts == 1 for d in deliveries)
    events_flush()
    delivered = AnalyticsEvent.objects.filter(event_name="broadcast_delivered")
    assert sorted(delivered.values_list("user_id", flat=True)) == [1, 2, 3]
    assert {e.properties["broadcast_id"] for e in delivered} == {broadcast.pk}
    assert list(BroadcastAction.objects.values_list("action", "note")) == [
        ("started", "3 recipients"),
        ("finished", "3 sent"),
    ]


def test_a_photo_goes_with_its_caption(bot_api):
    _users(1)
    services.broadcast_start(_broadcast(photo="AgACAgIAAxkBAAI", paid=True).pk)
    (call,) = bot_api.calls_to("sendPhoto")
    assert call.params["photo"] == "AgACAgIAAxkBAAI" and call.params["caption"] == "<b>Hello</b> &amp; welcome"
    assert call.params["allow_paid_broadcast"] is True


def test_a_user_who_blocked_the_bot_is_marked_inactive_and_the_delivery_blocked(bot_api):
    _users(1, 2, 3)
    bot_api.fail_chat(2, 403)
    broadcast = _broadcast()
    services.broadcast_start(broadcast.pk)
    assert not TelegramUser.objects.get(pk=2).is_active
    assert BroadcastDelivery.objects.get(broadcast=broadcast, user_id=2).status == DeliveryStatus.BLOCKED
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.sent, broadcast.blocked) == ("done", 2, 1)


def test_a_429_holds_every_sender_for_retry_after_then_the_message_goes(bot_api):
    _users(*range(1, 31))
    bot_api.fail_chat(5, 429, retry_after=1, times=1)
    broadcast = _broadcast()
    services.broadcast_start(broadcast.pk)

    calls = bot_api.calls_to("sendMessage")
    flood = next(call for call in calls if int(call.params["chat_id"]) == 5)
    # Times are taken on arrival here: a send already on its way when the 429 came may land a little after it,
    # and a busy machine stretches that.
    during = [c for c in calls if flood.at + 0.2 < c.at < flood.at + 0.9]
    assert during == [], "nobody sent while Telegram asked the bot to wait"
    retried = [c for c in calls if int(c.params["chat_id"]) == 5]
    assert len(retried) == 2 and retried[1].at - flood.at >= 0.9
    delivery = BroadcastDelivery.objects.get(broadcast=broadcast, user_id=5)
    assert (delivery.status, delivery.attempts) == ("sent", 1), "a 429 is not one of the attempts"
    assert len(calls) == 31


def test_other_errors_are_retried_with_backoff_then_failed_with_the_error_kept(bot_api, settings):
    settings.BROADCAST_MAX_ATTEMPTS = 3
    _users(1, 2, 3)
    bot_api.fail_chat(1, 502, times=1)  # a passing failure: retried, then sent
    bot_api.fail_chat(2, 502)  # fails every time
    bot_api.fail_chat(3, 400)  # a bad request is refused again: not retried
    broadcast = _broadcast()
    services.broadcast_start(broadcast.pk)
    outcome = {d.user_id: (d.status, d.attempts) for d in BroadcastDelivery.objects.filter(broadcast=broadcast)}
    assert outcome == {1: ("sent", 2), 2: ("failed", 3), 3: ("failed", 1)}
    assert "3 attempts" in BroadcastDelivery.objects.get(broadcast=broadcast, user_id=2).error
    assert "Fake failure" in BroadcastDelivery.objects.get(broadcast=broadcast, user_id=3).error


def _stopped_mid_run(bot_api, settings, stop, *, after: int) -> tuple[Broadcast, int]:
    """A broadcast to 60 users at 40/s, stopped by `stop(broadcast_id)` once `after` messages went out.
    Returns it and how many messages had gone when its run returned."""
    settings.BROADCAST_RATE = 40
    _users(*range(1, 61))
    broadcast = _broadcast()

    def start() -> None:
        try:
            services.broadcast_start(broadcast.pk)
        finally:
            connections.close_all()  # this thread's own connection, or the test database outlives the run

    run = threading.Thread(target=start)
    run.start()
    bot_api.wait_for("sendMessage", after)
    stop(broadcast.pk)
    run.join(timeout=20)
    return broadcast, len(_chats(bot_api))


def test_pause_stops_sending_and_resume_sends_the_rest_once(bot_api, settings):
    broadcast, sent_when_paused = _stopped_mid_run(bot_api, settings, services.broadcast_pause, after=10)
    time.sleep(0.5)
    assert len(_chats(bot_api)) == sent_when_paused < 60, "nothing more after the pause"
    broadcast.refresh_from_db()
    assert broadcast.status == "paused" and broadcast.runner == ""

    services.broadcast_resume(broadcast.pk)
    assert sorted(_chats(bot_api)) == list(range(1, 61)), "everyone, once"
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.sent) == ("done", 60)
    assert list(BroadcastAction.objects.values_list("action", flat=True)) == [
        "started",
        "paused",
        "resumed",
        "finished",
    ]


def test_cancel_stops_sending_for_good(bot_api, settings):
    broadcast, count = _stopped_mid_run(bot_api, settings, services.broadcast_cancel, after=5)
    assert services.broadcasts_dispatch() == {"started": 0, "resumed": 0}
    time.sleep(0.3)
    assert len(_chats(bot_api)) == count < 60
    assert BroadcastDelivery.objects.filter(broadcast=broadcast, status="pending").count() == 60 - count
    with pytest.raises(ValidationError, match="cancelled"):
        services.broadcast_resume(broadcast.pk)


def test_a_stalled_broadcast_resumes_by_itself_and_never_resends_an_unconfirmed_message(bot_api, settings):
    """A runner died: its heartbeat is old, one delivery was claimed and never recorded."""
    settings.BROADCAST_STALLED_AFTER = 60
    settings.BROADCAST_CLAIM_TIMEOUT = 60
    _users(1, 2, 3, 4)
    long_ago = timezone.now() - timedelta(minutes=5)
    broadcast = _broadcast(status=BroadcastStatus.RUNNING, recipients=4, runner="dead", heartbeat_at=long_ago)
    for user_id in (1, 2, 3, 4):
        BroadcastDelivery.objects.create(broadcast=broadcast, user_id=user_id)
    BroadcastDelivery.objects.filter(user_id=1).update(status="sent", attempts=1)
    BroadcastDelivery.objects.filter(user_id=2).update(status="sending", attempts=1, claimed_at=long_ago)

    assert services.broadcasts_dispatch() == {"started": 0, "resumed": 1}

    assert BroadcastAction.objects.filter(action="taken over", note__startswith="dead silent since").exists()
    assert sorted(_chats(bot_api)) == [3, 4]
    outcome = dict(BroadcastDelivery.objects.values_list("user_id", "status"))
    assert outcome == {1: "sent", 2: "unconfirmed", 3: "sent", 4: "sent"}
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.sent, broadcast.unconfirmed) == ("done", 3, 1)


def test_a_live_runner_is_not_doubled(bot_api):
    _users(1)
    broadcast = _broadcast(status=BroadcastStatus.RUNNING, runner="alive", heartbeat_at=timezone.now())
    BroadcastDelivery.objects.create(broadcast=broadcast, user_id=1)
    assert services.broadcasts_dispatch()["resumed"] == 0
    assert broadcast_run(broadcast.pk).startswith("not running")
    assert _chats(bot_api) == []


def test_a_scheduled_broadcast_starts_when_due(bot_api):
    _users(1, 2)
    due = _broadcast(status=BroadcastStatus.SCHEDULED, scheduled_at=timezone.now() - timedelta(seconds=1))
    later = _broadcast(status=BroadcastStatus.SCHEDULED, scheduled_at=timezone.now() + timedelta(hours=1))
    assert services.broadcasts_dispatch() == {"started": 1, "resumed": 0}
    assert Broadcast.objects.get(pk=due.pk).status == "done" and sorted(_chats(bot_api)) == [1, 2]
    assert Broadcast.objects.get(pk=later.pk).status == "scheduled"


def test_a_test_goes_to_the_staff_members_own_telegram_account(bot_api):
    staff = get_user_model().objects.create_user("editor", is_staff=True)
    _users(1, 2)
    broadcast = _broadcast()
    with pytest.raises(ValidationError, match="not linked"):
        services.broadcast_send_test(broadcast.pk, staff=staff)
    TelegramUser.objects.filter(pk=2).update(staff_account=staff)
    services.broadcast_send_test(broadcast.pk, staff=staff)
    assert _chats(bot_api) == [2]
    assert not BroadcastDelivery.objects.exists(), "a test is no delivery"
    assert BroadcastAction.objects.get().action == "tested"


def test_invalid_html_is_refused_before_anything_is_sent(bot_api):
    _users(1)
    broadcast = _broadcast(text="<b>unclosed")
    with pytest.raises(ValidationError, match="never closed"):
        services.broadcast_start(broadcast.pk)
    assert Broadcast.objects.get(pk=broadcast.pk).status == "draft" and _chats(bot_api) == []


def test_a_long_broadcast_hands_over_to_a_fresh_task_and_still_sends_once(bot_api, settings):
    settings.BROADCAST_RATE, settings.BROADCAST_SLICE_SECONDS = 10, 0  # every slice ends at its first heartbeat
    _users(*range(1, 16))
    broadcast = _broadcast()
    services.broadcast_start(broadcast.pk)
    assert sorted(_chats(bot_api)) == list(range(1, 16))
    assert Broadcast.objects.get(pk=broadcast.pk).status == "done"


def test_nothing_starts_without_a_bot_token(bot_api, settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    _users(1)
    broadcast = _broadcast()
    with pytest.raises(ValidationError, match="TELEGRAM_BOT_TOKEN"):
        services.broadcast_start(broadcast.pk)
    assert not BroadcastDelivery.objects.exists()


def test_staff_may_send_the_unconfirmed_again(bot_api):
    _users(1, 2)
    broadcast = _broadcast(status=BroadcastStatus.DONE, recipients=2, sent=1, unconfirmed=1)
    BroadcastDelivery.objects.create(broadcast=broadcast, user_id=1, status="sent", attempts=1)
    BroadcastDelivery.objects.create(broadcast=broadcast, user_id=2, status="unconfirmed", attempts=1)
    assert services.broadcast_resend_unconfirmed(broadcast.pk) == 1
    assert _chats(bot_api) == [2]
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.sent, broadcast.unconfirmed) == ("done", 2, 0)
    assert list(BroadcastAction.objects.values_list("action", "note")) == [
        ("resent unconfirmed", "1 deliveries"),
        ("finished", "2 sent"),
    ]


def test_a_timeout_after_the_request_left_is_unconfirmed_but_one_that_never_left_is_retried(settings):
    import httpx
    from telegram.error import TimedOut

    from apps.bot.gateway import sending_error
    from apps.broadcast.delivery import outcome_of_error

    def timed_out(cause: Exception) -> Exception:
        try:
            raise TimedOut() from cause
        except TimedOut as error:
            return sending_error(error)  # what the gateway hands the broadcast

    assert outcome_of_error(timed_out(httpx.ReadTimeout("slow")), attempts=1).status == "unconfirmed"
    assert outcome_of_error(timed_out(httpx.ConnectTimeout("down")), attempts=1).status == "pending"
    assert outcome_of_error(timed_out(httpx.PoolTimeout("busy")), attempts=1).status == "pending"
    ours = outcome_of_error(RuntimeError("the bot could not be built"), attempts=settings.BROADCAST_MAX_ATTEMPTS)
    assert ours.status == "failed" and "the bot could not be built" in ours.error
