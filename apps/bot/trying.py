"""Talking to the bot without Telegram (`manage.py chat`, the admin's "Try the bot"): a test user's updates,
shaped like Telegram's, go the whole real way (the inbox, `inbox_process`, python-telegram-bot, the handlers,
the LLM, billing, analytics) and the bot answers through the Bot API stand-in (apps.bot.standin), whose
recorded calls become what the user sees.

Each update is stored with `inbox_receive(enqueue=False)` and processed at once in the caller's thread with
`inbox_process`, the task's own function, inside `runtime.using(stand-in)`: a worker or the processing
thread would answer with the process's real bot (Telegram, a real token), so no update of a test user is
handed to them, with or without a broker.
"""

import itertools
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from apps.users.models import TelegramUser

from . import runtime
from .models import InboxStatus, InboxUpdate
from .services import inbox_process, inbox_receive
from .standin import BOT, Call, standin

# Telegram's user ids have at most 52 significant bits: from 2**52 on, an id is never a real user's. The
# stand-in's bot is 2**52 itself; test users come after it.
TEST_USER_IDS = range(2**52 + 1, 2**53)
DEFAULT_USER_ID = TEST_USER_IDS.start
# Update ids Telegram never reaches (its ids count up from a bot's first update): a test update never
# takes the id of a real one, which the inbox would then drop as already seen.
_UPDATE_IDS_START = 2**62
# The deep-link payload a test user starts with: their `source`, which tells them apart in the admin.
SOURCE = "try-the-bot"

_update_lock = threading.Lock()
_last_update_id = 0
_callback_ids = itertools.count(1)


def _next_update_id() -> int:
    global _last_update_id
    with _update_lock:
        _last_update_id = max(_last_update_id + 1, _UPDATE_IDS_START + time.time_ns() // 1000)
        return _last_update_id


@dataclass
class Seen:
    """One thing the chat shows: what the user sent ("you") or what the bot did."""

    kind: str  # you, message, edit, draft, invoice, action, notice, refused, other, failed
    text: str = ""
    buttons: list[dict[str, Any]] = field(default_factory=list)  # inline buttons, in reading order
    message_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Seen":
        return cls(**{key: data[key] for key in ("kind", "text", "buttons", "message_id") if key in data})


@dataclass
class TestUser:
    user_id: int = DEFAULT_USER_ID
    first_name: str = "Tester"
    language: str = "ru"

    def as_telegram(self) -> dict[str, Any]:
        user = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.language:
            user["language_code"] = self.language
        return user


class Chat:
    """A test user's private chat with the bot. `keyboard` is the last inline keyboard still on screen:
    (the message it is attached to, as Telegram shows it in a callback_query) or None."""

    def __init__(self, user: TestUser, keyboard: dict[str, Any] | None = None) -> None:
        self.user = user
        self.keyboard = keyboard

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return _flatten(self.keyboard.get("reply_markup")) if self.keyboard else []

    def say(self, text: str) -> list[Seen]:
        """Send a text message (a command when it starts with /). A user the bot has never seen starts with
        /start first, as Telegram's START button sends it; their /start carries the deep link of SOURCE."""
        if not text.strip():
            raise ValueError("Telegram sends no empty messages")
        seen: list[Seen] = []
        if not TelegramUser.objects.filter(pk=self.user.user_id).exists():
            seen += self._send(self._message(f"/start {SOURCE}"))
            if text.split()[0] == "/start":
                return seen
        return seen + self._send(self._message(text))

    def press(self, number: int) -> list[Seen]:
        """Press the `number`th (from 1) button of the last keyboard: a callback_query, or the URL a link
        button would open."""
        buttons = self.buttons
        if not 1 <= number <= len(buttons):
            raise ValueError(f"there is no button {number}" + (f" (1–{len(buttons)})" if buttons else ""))
        button = buttons[number - 1]
        if "callback_data" not in button:
            target = button.get("url") or next(iter(set(button) - {"text"}), "")
            return [Seen("notice", f"[{button.get('text', '')}] is not a callback button: {target}")]
        sender = {key: BOT[key] for key in ("id", "is_bot", "first_name", "username")}
        message = dict(self.keyboard, **{"from": sender, "chat": self._chat()})
        query = {
            "id": f"{self.user.user_id}{next(_callback_ids):06d}",
            "from": self.user.as_telegram(),
            "message": message,
            "chat_instance": str(self.user.user_id),
            "data": button["callback_data"],
        }
        return [Seen("you", f"[{button.get('text', '')}]")] + self._deliver({"callback_query": query})

    # --- the way through ---------------------------------------------------------------------
    def _message(self, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": standin().message_id(),
            "from": self.user.as_telegram(),
            "chat": self._chat(),
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"message": message}

    def _chat(self) -> dict[str, Any]:
        return {"id": self.user.user_id, "first_name": self.user.first_name, "type": "private"}

    def _send(self, update: dict[str, Any]) -> list[Seen]:
        text = update["message"]["text"]
        shown = "/start" if text == f"/start {SOURCE}" else text
        return [Seen("you", shown)] + self._deliver(update)

    def _deliver(self, update: dict[str, Any]) -> list[Seen]:
        stand_in = standin()
        mark = stand_in.mark()
        while True:  # an id another process took at the same microsecond: the next one
            payload = {"update_id": _next_update_id(), **update}
            if inbox_receive(payload=payload, enqueue=False):
                break
        update_id = payload["update_id"]
        with runtime.using(stand_in.runtime):
            status = inbox_process(update_id=update_id, token=uuid.uuid4().hex)
        query_id = update.get("callback_query", {}).get("id")
        seen = [self._seen(call) for call in stand_in.calls(after=mark) if self._ours(call, query_id)]
        if status != InboxStatus.DONE:
            error = InboxUpdate.objects.filter(pk=update_id).values_list("error", flat=True).first() or ""
            last = error.strip().splitlines()[-1] if error.strip() else f"status {status}"
            seen.append(Seen("failed", f"update {update_id} failed: {last}"))
        return [entry for entry in seen if entry is not None]

    def _ours(self, call: Call, query_id: str | None) -> bool:
        if call.method in ("answerCallbackQuery",):
            return query_id is not None and str(call.params.get("callback_query_id")) == query_id
        return call.chat_id == self.user.user_id

    def _seen(self, call: Call) -> Seen | None:
        params = call.params
        markup = params.get("reply_markup") if isinstance(params.get("reply_markup"), dict) else None
        buttons = _flatten(markup)
        if not call.ok:
            return Seen("refused", f"{call.method}: {call.description}")
        if call.method == "sendMessage":
            self._keep_keyboard(call.result, markup)
            return Seen("message", str(params.get("text", "")), buttons, call.result["message_id"])
        if call.method == "sendMessageDraft":
            return Seen("draft", str(params.get("text", "")))
        if call.method in ("editMessageText", "editMessageReplyMarkup", "editMessageCaption"):
            message = call.result if isinstance(call.result, dict) else {}
            self._keep_keyboard(message, markup)
            text = str(params.get("text", params.get("caption", message.get("text", ""))))
            return Seen("edit", text, buttons, message.get("message_id"))
        if call.method == "sendInvoice":
            invoice = call.result.get("invoice", {})
            text = f"invoice: {invoice.get('title')} — {invoice.get('description')}: "
            return Seen("invoice", text + f"{invoice.get('total_amount')} {invoice.get('currency')}", buttons)
        if call.method == "sendChatAction":
            return Seen("action", str(params.get("action", "")))
        if call.method == "answerCallbackQuery":
            return Seen("notice", str(params.get("text", "")))
        shown = {key: value for key, value in params.items() if key != "chat_id"}
        return Seen("other", f"{call.method} {shown}", buttons)

    def _keep_keyboard(self, message: dict[str, Any], markup: dict[str, Any] | None) -> None:
        if markup and "inline_keyboard" in markup:
            kept = ("message_id", "date", "text", "reply_markup")
            self.keyboard = {key: message[key] for key in kept if key in message}
        elif self.keyboard and self.keyboard.get("message_id") == message.get("message_id"):
            self.keyboard = None  # the keyboard's message was edited without it


def _flatten(markup: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = (markup or {}).get("inline_keyboard") or []
    return [button for row in rows for button in row if isinstance(button, dict)]
