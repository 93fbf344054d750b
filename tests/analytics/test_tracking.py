"""Tracking off the hot path: batches through the broker, straight to the database without one."""

import time

import pytest

from apps.analytics.catalogue import Events
from apps.analytics.models import AnalyticsEvent
from apps.analytics.services import events_flush, track
from tests.helpers import broker_down, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_with_the_broker_unreachable_events_are_written_directly():
    with broker_down():
        for n in range(25):
            assert track(Events.BOT_STARTED, user_id=n, properties={"is_new": True})
        assert events_flush()
    assert AnalyticsEvent.objects.count() == 25


def test_track_hands_off_without_touching_the_database(django_assert_num_queries):
    with broker_down():
        with django_assert_num_queries(0):
            started = time.perf_counter()
            for n in range(200):
                track(Events.RESPONSE_TIME, user_id=n, properties={"duration_ms": n, "model_used": "m"})
            per_call = (time.perf_counter() - started) / 200
        assert events_flush()
    assert AnalyticsEvent.objects.count() == 200
    assert per_call < 0.005  # a loose bound; bench/analytics.py measures it


def test_events_reach_the_database_through_a_real_worker_in_batches(start_worker):
    start_worker()
    for n in range(300):
        assert track(Events.BOT_STARTED, user_id=n % 7, properties={"is_new": n < 7})
    assert events_flush()
    wait_until(lambda: AnalyticsEvent.objects.count() == 300)
    assert set(AnalyticsEvent.objects.values_list("user_id", flat=True)) == set(range(7))


def test_a_worker_stopping_cleanly_hands_over_the_events_its_handlers_tracked(start_worker, post_update, bot_api):
    from apps.bot.models import InboxStatus, InboxUpdate
    from tests.helpers import message_update

    worker = start_worker()
    payload = message_update("/start", user_id=4100)
    post_update(payload)
    wait_until(lambda: InboxUpdate.objects.get(pk=payload["update_id"]).status == InboxStatus.DONE, timeout=60)
    worker.stop()  # SIGTERM: a warm shutdown, right after the handler tracked bot_started
    start_worker()  # whatever the first one handed to the broker is stored by the next
    wait_until(lambda: AnalyticsEvent.objects.filter(event_name="bot_started", user_id=4100).count() == 1, timeout=60)
