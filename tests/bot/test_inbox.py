"""The inbox's own rules: claims, the sweeper, replay, purge, a broker that is down."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bot import services
from apps.bot.models import InboxStatus, InboxUpdate
from tests.helpers import broker_down, captured_update, message_update

pytestmark = pytest.mark.django_db(transaction=True)


def _stored(payload, **fields) -> InboxUpdate:
    return InboxUpdate.objects.create(update_id=payload["update_id"], update_type="message", payload=payload, **fields)


def test_a_claim_is_taken_once_and_its_own_redelivery_may_take_it_back():
    row = _stored(message_update("hi"))
    assert services.inbox_claim(update_id=row.pk, token="task-a") == row.payload
    assert services.inbox_claim(update_id=row.pk, token="task-b") is None
    # The same task id (acks_late redelivery after the worker died) takes its claim back.
    assert services.inbox_claim(update_id=row.pk, token="task-a") == row.payload
    row.refresh_from_db()
    assert (row.status, row.attempts) == (InboxStatus.PROCESSING, 2)


def test_done_and_failed_updates_are_not_claimed():
    done = _stored(message_update("a"), status=InboxStatus.DONE)
    failed = _stored(message_update("b"), status=InboxStatus.FAILED)
    assert services.inbox_claim(update_id=done.pk, token="t") is None
    assert services.inbox_claim(update_id=failed.pk, token="t") is None


def test_broker_down_still_acknowledges_and_the_sweeper_recovers(post_update, bot_api):
    payload = message_update("/start", user_id=901)
    with broker_down():
        assert post_update(payload).status_code == 200
        assert services.inbox_flush_enqueued(), "the publish was attempted and given up"
    row = InboxUpdate.objects.get(pk=payload["update_id"])
    assert row.status == InboxStatus.PENDING
    assert not bot_api.calls_to("sendMessage")

    # Not yet due: inside the grace period the task may still be on its way.
    assert services.inbox_sweep() == 0
    InboxUpdate.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(minutes=2))
    assert services.inbox_sweep() == 1
    row.refresh_from_db()
    assert row.status == InboxStatus.DONE
    assert [call.params["chat_id"] for call in bot_api.calls_to("sendMessage")] == [901]


def test_sweeper_frees_a_claim_whose_worker_died(bot_api, settings):
    row = _stored(
        message_update("/start", user_id=902),
        status=InboxStatus.PROCESSING,
        claim_token="dead-worker",
        claimed_at=timezone.now() - settings.INBOX_STALE_AFTER + timedelta(seconds=30),
        attempts=1,
    )
    assert services.inbox_sweep() == 0, "a claim younger than INBOX_STALE_AFTER belongs to a live worker"
    InboxUpdate.objects.filter(pk=row.pk).update(claimed_at=timezone.now() - settings.INBOX_STALE_AFTER)
    assert services.inbox_sweep() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (InboxStatus.DONE, 2)


def test_sweeper_retries_transient_failures_up_to_the_limit(bot_api, settings):
    bot_api.fail_chat(903, 429, retry_after=1)
    row = _stored(message_update("/start", user_id=903))
    services.inbox_process(update_id=row.pk, token="first")
    for _ in range(settings.INBOX_MAX_ATTEMPTS + 2):
        InboxUpdate.objects.filter(pk=row.pk).update(claimed_at=timezone.now() - timedelta(minutes=2))
        services.inbox_sweep()
    row.refresh_from_db()
    assert row.status == InboxStatus.FAILED
    assert row.attempts == settings.INBOX_MAX_ATTEMPTS
    assert len(bot_api.calls_to("sendMessage")) == settings.INBOX_MAX_ATTEMPTS


def test_an_update_the_library_cannot_parse_is_not_retried_automatically(post_update, bot_api):
    payload = captured_update("message_with_voice.json")
    post_update(payload)
    InboxUpdate.objects.filter(pk=payload["update_id"]).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert services.inbox_sweep() == 0
    row = InboxUpdate.objects.get(pk=payload["update_id"])
    assert row.status == InboxStatus.FAILED
    assert "UnusableUpdate" in row.error


def test_replay_takes_only_failed_updates():
    failed = _stored(message_update("a"), status=InboxStatus.FAILED, attempts=3)
    done = _stored(message_update("b"), status=InboxStatus.DONE)
    assert services.inbox_replay(update_ids=[failed.pk, done.pk, 123456789]) == 1
    done.refresh_from_db()
    assert done.status == InboxStatus.DONE


def test_processed_updates_are_forgotten_after_seven_days_failed_ones_are_kept():
    now = timezone.now()
    old = _stored(message_update("a"), status=InboxStatus.DONE, processed_at=now - timedelta(days=7, minutes=1))
    recent = _stored(message_update("b"), status=InboxStatus.DONE, processed_at=now - timedelta(days=6))
    failed = _stored(message_update("c"), status=InboxStatus.FAILED, received_at=now - timedelta(days=30))
    assert services.inbox_purge_processed() == 1
    assert set(InboxUpdate.objects.values_list("pk", flat=True)) == {recent.pk, failed.pk}
    assert not InboxUpdate.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db(transaction=False)
def test_a_duplicate_inside_a_callers_transaction_leaves_it_usable(django_capture_on_commit_callbacks):
    payload = message_update("hi")
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.inbox_receive(payload=payload) is True
        assert services.inbox_receive(payload=payload) is False
        assert InboxUpdate.objects.get(pk=payload["update_id"]).payload == payload
    assert len(callbacks) == 1, "processing is enqueued once, after commit"


def test_a_failed_update_keeps_what_the_user_wrote_only_for_its_window(settings):
    settings.INBOX_FAILED_RETENTION_DAYS = 30
    now = timezone.now()
    old = _stored(message_update("old words"), status=InboxStatus.FAILED, received_at=now - timedelta(days=31))
    young = _stored(message_update("new words"), status=InboxStatus.FAILED, received_at=now - timedelta(days=29))
    services.inbox_purge_processed()
    old.refresh_from_db(), young.refresh_from_db()
    assert old.payload is None and old.status == InboxStatus.FAILED, "the row and its error stay"
    assert young.payload["message"]["text"] == "new words"
    assert services.inbox_replay(update_ids=[old.pk]) == 0, "nothing left to replay"
