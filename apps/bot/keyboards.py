"""Inline keyboards as the Bot API's JSON: plain data a flow can build and a reply can store."""

from collections.abc import Iterable

from django.conf import settings

from . import static_text

BUY_MENU = "buy:menu"
BUY_PREFIX = "buy:"
PLAN_PREFIX = "buy:plan:"
STREAM_PREFIX = "buy:stream:"
# /subscription's buttons: ask to cancel, cancel, keep it, renew again ("subscription:<action>:<id>").
SUBSCRIPTION_PREFIX = "subscription:"
NEW_CONFIRM = "session:new:confirm"
NEW_CANCEL = "session:new:cancel"
LANGUAGE_PREFIX = "language:"
# /forget's question: erase everything, or nothing.
FORGET_ERASE = "forget:erase"
FORGET_CANCEL = "forget:cancel"

Keyboard = dict[str, list[list[dict[str, str]]]]


def buttons(rows: Iterable[Iterable[tuple[str, str]]]) -> Keyboard:
    """Rows of (label, callback data, or a link to open: "https://…"); a lazy label is read in the active
    language."""
    return {"inline_keyboard": [[_button(str(text), data) for text, data in row] for row in rows]}


def _button(text: str, data: str) -> dict[str, str]:
    return (
        {"text": text, "url": data}
        if data.startswith(("https://", "http://"))
        else {"text": text, "callback_data": data}
    )


def subscription_action(action: str, subscription_id: int) -> str:
    return f"{SUBSCRIPTION_PREFIX}{action}:{subscription_id}"


def topup() -> Keyboard:
    return buttons([[(static_text.BUY_BUTTON, BUY_MENU)]])


def new_session_confirm() -> Keyboard:
    return buttons([[(static_text.NEW_SESSION_YES, NEW_CONFIRM), (static_text.NEW_SESSION_NO, NEW_CANCEL)]])


def forget_confirm() -> Keyboard:
    return buttons(
        [[(static_text.FORGET_ERASE_BUTTON, FORGET_ERASE), (static_text.FORGET_CANCEL_BUTTON, FORGET_CANCEL)]]
    )


def languages() -> Keyboard:
    """One button per language the bot speaks, each in its own name."""
    return buttons([[(name, f"{LANGUAGE_PREFIX}{code}")] for code, name in settings.LANGUAGES])
