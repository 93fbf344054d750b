import logging

import pytest

from apps.analytics.catalogue import REQUIRED_PROPERTIES, Events
from apps.analytics.models import AnalyticsEvent
from apps.analytics.services import daily_session_id, track

pytestmark = pytest.mark.django_db


def test_a_valid_event_is_stored_with_a_daily_session_id():
    assert track(Events.RESPONSE_TIME, user_id=5, properties={"duration_ms": 812, "model_used": "m"}) is True
    event = AnalyticsEvent.objects.get()
    assert (event.event_name, event.user_id, event.properties["duration_ms"]) == ("ai_response_time", 5, 812)
    assert event.session_id == daily_session_id(5, event.occurred_at)
    assert event.session_id != daily_session_id(6, event.occurred_at)


def test_a_missing_required_property_drops_the_event_and_logs_it(caplog):
    with caplog.at_level(logging.WARNING, logger="apps.analytics.services"):
        assert track(Events.RESPONSE_TIME, user_id=5, properties={"duration_ms": 1}) is False
    assert not AnalyticsEvent.objects.exists()
    assert "model_used" in caplog.text


def test_an_unknown_event_is_dropped():
    assert track("made_up_event", user_id=5) is False
    assert not AnalyticsEvent.objects.exists()


def test_disabled_analytics_returns_at_once(settings):
    settings.ANALYTICS_ENABLED = False
    assert track(Events.BOT_STARTED, user_id=5, properties={"is_new": True}) is False
    assert not AnalyticsEvent.objects.exists()


def test_properties_that_are_not_json_are_dropped_and_logged_not_raised(caplog):
    assert track(Events.BOT_STARTED, user_id=5, properties={"is_new": True, "bad": object()}) is False
    assert "not JSON" in caplog.text
    assert not AnalyticsEvent.objects.exists()


def test_sensitive_properties_are_replaced_by_a_stable_hmac(settings):
    settings.ANALYTICS_SENSITIVE_PROPERTIES = ["passport"]
    properties = {
        "booking_id": 7,
        "services_count": 1,
        "estimated_total": 10,
        "email": "a@b.c",
        "contact": {"phone": "+100", "city": "Riga"},
        "passport": "X1",
        "full_name": None,
    }
    assert track(Events.BOOKING_CREATED, user_id=5, properties=properties)
    assert track(Events.BOOKING_CREATED, user_id=6, properties=properties)
    first, second = AnalyticsEvent.objects.order_by("id")
    stored = first.properties
    assert stored["email"].startswith("hmac:") and "a@b.c" not in str(stored)
    assert stored["contact"]["phone"].startswith("hmac:") and stored["contact"]["city"] == "Riga"
    assert stored["passport"].startswith("hmac:") and stored["full_name"] is None
    assert stored["booking_id"] == 7
    assert second.properties["email"] == stored["email"], "the same value, the same pseudonym"


def test_every_catalogued_name_fits_the_column():
    assert all(len(name) <= 50 for name in REQUIRED_PROPERTIES)
