"""The Telegram webhook skips the session, user and messages middleware; every other page keeps them."""

import pytest
from django.urls import reverse

from config.middleware import MACHINE_PATHS
from tests.helpers import WEBHOOK_URL, message_update

pytestmark = pytest.mark.django_db


def test_the_skipped_path_is_the_webhooks():
    assert MACHINE_PATHS == {reverse("telegram-webhook")} == {WEBHOOK_URL}


def test_the_webhook_gets_no_session_user_or_messages_and_keeps_the_security_headers(post_update, settings):
    settings.SECURE_CONTENT_TYPE_NOSNIFF = True
    response = post_update(message_update("hi"))
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "user") and not hasattr(request, "_messages")
    assert "Cookie" not in response.get("Vary", "")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_a_page_for_people_still_has_them(client):
    response = client.get(reverse("admin:login"))
    request = response.wsgi_request
    assert hasattr(request, "session") and hasattr(request, "_messages")
    assert not request.user.is_authenticated
