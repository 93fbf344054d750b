"""What people type reaches the bot whole, or as near as a database can hold it: NUL and lone surrogates
(PostgreSQL refuses both) anywhere in an update are stored as U+FFFD, acknowledged and answered, on
SQLite and PostgreSQL alike; JSON nested absurdly deep is refused with 400."""

import json

import pytest

from apps.bot.models import InboxStatus, InboxUpdate
from apps.core.text import REPLACEMENT
from apps.users.models import TelegramUser, UserActivityLog
from tests.helpers import captured_update, message_update

pytestmark = pytest.mark.django_db(transaction=True)

NUL, SURROGATE = "\\u0000", "\\ud800"  # as JSON escapes: what Telegram sends


def _body(payload: dict, *, bad: str) -> bytes:
    """The update as JSON with `bad` (a JSON escape) spliced into the string at `field`."""
    marker = "@@BAD@@"
    text = json.dumps(payload)
    return text.replace(marker, bad).encode()


def _with(payload: dict, path: list, value: str) -> dict:
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return payload


CASES = {
    "first name": (["message", "from", "first_name"], "Ann@@BAD@@a"),
    "username": (["message", "from", "username"], "ann@@BAD@@"),
    "message text": (["message", "text"], "hello @@BAD@@ world"),
    "chat title": (["message", "chat", "title"], "Chat @@BAD@@"),
    "start payload": (["message", "text"], "/start ad@@BAD@@"),
}


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize("case", list(CASES))
def test_text_postgres_cannot_hold_is_stored_replaced_and_answered(post_update, bot_api, case, bad):
    user_id = 4100 + list(CASES).index(case) * 2 + (bad == SURROGATE)
    path, value = CASES[case]
    payload = _with(message_update("placeholder", user_id=user_id), path, value)
    response = post_update(None, raw=_body(payload, bad=bad))
    assert response.status_code == 200
    row = InboxUpdate.objects.get(pk=payload["update_id"])
    assert row.status == InboxStatus.DONE, row.error
    assert bot_api.calls_to("sendMessage"), "the user is answered"
    user = TelegramUser.objects.get(pk=user_id)
    if case == "first name":
        assert user.first_name == f"Ann{REPLACEMENT}a"
    if case == "username":
        assert user.username == f"ann{REPLACEMENT}"
    if case == "start payload":
        assert user.source == "", "not a valid deep-link payload: ignored, like any malformed one"


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
def test_callback_data_and_keys_postgres_cannot_hold(post_update, bot_api, bad):
    query = captured_update("message.json")
    message = query["message"]
    callback = {
        "update_id": query["update_id"] + 7,
        "callback_query": {
            "id": "77",
            "from": message["from"],
            "message": message,
            "chat_instance": "1",
            "data": "buy:@@BAD@@",
        },
    }
    assert post_update(None, raw=_body(callback, bad=bad)).status_code == 200
    keyed = message_update("hi", user_id=4150)
    keyed["message"]["from"]["k@@BAD@@"] = "v"
    assert post_update(None, raw=_body(keyed, bad=bad)).status_code == 200
    for update_id in (callback["update_id"], keyed["update_id"]):
        row = InboxUpdate.objects.get(pk=update_id)
        assert row.status == InboxStatus.DONE, row.error
    assert UserActivityLog.objects.filter(user_id=4150).exists()


def test_json_nested_ten_thousand_deep_is_400(post_update):
    body = b'{"update_id": 1, "message": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    response = post_update(None, raw=body)
    assert response.status_code == 400 and "nested" in response.json()["error"]
    assert not InboxUpdate.objects.exists()
