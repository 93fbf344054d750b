"""An update's kind is read once (apps.bot.services.update_type): the inbox stores it from the payload,
the contact handler logs it from the parsed update, and both agree on every captured update."""

import pytest
from telegram import Update

from apps.bot import services
from apps.bot.handlers.contact import describe
from apps.bot.models import InboxUpdate
from tests.helpers import CAPTURED_UPDATES, captured_update, my_chat_member_update

pytestmark = pytest.mark.django_db

CAPTURED = sorted(path.name for path in CAPTURED_UPDATES.glob("*.json"))


def _callback_query() -> dict:
    person = {"id": 1501, "is_bot": False, "first_name": "Chooser"}
    return {
        "update_id": 1501,
        "callback_query": {"id": "cb", "chat_instance": "ci", "data": "buy:menu", "from": person},
    }


UPDATES = {name: lambda name=name: captured_update(name) for name in CAPTURED} | {
    "callback_query": _callback_query,
    "my_chat_member": lambda: my_chat_member_update(user_id=1502, old="member", new="kicked"),
}


def _parsed(payload: dict) -> Update | None:
    """The update as the handlers get it; None for captured ones too old for python-telegram-bot 22
    (they fail before any handler, and are kept for replay)."""
    try:
        return Update.de_json(payload, None)
    except TypeError:
        return None


@pytest.mark.parametrize("name", list(UPDATES))
def test_the_inbox_and_the_contact_handler_agree_on_the_update_type(name):
    payload = UPDATES[name]()
    assert services.inbox_receive(payload=payload)
    stored = InboxUpdate.objects.get(pk=payload["update_id"]).update_type
    assert stored == next(key for key in payload if key != "update_id")

    update = _parsed(payload)
    if update is None:
        assert name in CAPTURED
        return
    assert services.update_type(update.to_dict()) == stored
    assert describe(update).activity_type == stored  # none of these is a command
    # What the handler read before, from python-telegram-bot's list of kinds.
    assert stored == next(kind for kind in Update.ALL_TYPES if getattr(update, kind, None) is not None)


def test_an_update_of_no_kind_has_an_empty_type():
    assert services.update_type({"update_id": 1}) == ""
