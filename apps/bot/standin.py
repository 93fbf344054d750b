"""A stand-in for the Telegram Bot API, in this process: an HTTP server on 127.0.0.1 (a free port) that
answers the methods the bot uses the way Telegram does and records every call, so that "Try the bot" (the
admin page) and `manage.py chat` can show what the bot sent.

The bot talks to it through python-telegram-bot's real HTTP client, as it talks to Telegram: its own
Application (`StandIn.runtime`, a dummy token, never the real one), which a thread uses inside
`runtime.using(...)` while the process's bot keeps answering real users.
"""

import itertools
import json
import os
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from . import runtime

# The stand-in's bot. Telegram's user ids have at most 52 significant bits, so ids from 2**52 are never a
# real user's or bot's (apps.bot.trying keeps its test users there too).
BOT_ID = 2**52
TOKEN = f"{BOT_ID}:stand-in-not-a-real-token"
BOT = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Botdesk (stand-in)",
    "username": "botdesk_standin_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
_SENDER = {key: BOT[key] for key in ("id", "is_bot", "first_name", "username")}
_KEPT_CALLS = 2000
_KEPT_MESSAGES = 2000
# Methods whose result is True; send*, edit*, copyMessage and forwardMessage answer with a Message.
_TRUE = {
    "sendChatAction",
    "sendMessageDraft",
    "answerCallbackQuery",
    "answerPreCheckoutQuery",
    "answerShippingQuery",
    "setMyCommands",
    "deleteMyCommands",
    "setWebhook",
    "deleteWebhook",
    "deleteMessage",
    "setMessageReaction",
    "refundStarPayment",
}


@dataclass
class Call:
    """One Bot API request and how the stand-in answered it."""

    seq: int
    method: str
    params: dict[str, Any]
    ok: bool = True
    result: Any = None
    description: str = ""
    at: float = field(default_factory=time.time)

    @property
    def chat_id(self) -> int | None:
        chat_id = self.params.get("chat_id")
        try:
            return int(chat_id) if chat_id is not None else None
        except (TypeError, ValueError):
            return None


class StandIn:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._seq = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._invoice_links = itertools.count(1)
        self._calls: deque[Call] = deque(maxlen=_KEPT_CALLS)
        self._messages: OrderedDict[tuple[int, int], dict[str, Any]] = OrderedDict()
        handler = _handler_class(self)
        handler.disable_nagle_algorithm = True
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="bot-api-stand-in", daemon=True)
        self._thread.start()
        self.pid = os.getpid()
        # Built here, not at import: the Application imports every handler and flow.
        from .application import build_application

        self.runtime = runtime.Runtime(lambda: build_application(token=TOKEN, base_url=self.base_url))

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """python-telegram-bot's `base_url` form: the token is appended."""
        return f"{self.url}/bot"

    def stop(self) -> None:
        self.runtime.stop()
        self._server.shutdown()
        self._server.server_close()

    # --- what the bot sent -------------------------------------------------------------------
    def mark(self) -> int:
        """The last call's number: `calls(after=mark)` are the calls made since."""
        with self._changed:
            return self._calls[-1].seq if self._calls else 0

    def calls(self, *, after: int = 0) -> list[Call]:
        with self._changed:
            return [call for call in self._calls if call.seq > after]

    def message_id(self) -> int:
        """A message id for a message the user sends (Telegram numbers a chat's messages in one sequence)."""
        return next(self._message_ids)

    # --- answering ---------------------------------------------------------------------------
    def answer(self, method: str, params: dict[str, Any]) -> Call:
        with self._changed:
            call = Call(seq=next(self._seq), method=method, params=params)
            try:
                call.result = self._result(method, params)
            except _Refused as refused:
                call.ok, call.description = False, str(refused)
            self._calls.append(call)
            self._changed.notify_all()
        return call

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT
        if method == "getUpdates":
            return []
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if method == "getMyCommands":
            return []
        if method == "getChat":
            return {"id": _int(params.get("chat_id")), "type": "private", "accepted_gift_types": {}}
        if method == "getStarTransactions":
            return {"transactions": []}
        if method == "createInvoiceLink":  # how subscriptions are sold: a link, in Telegram's form
            return f"https://t.me/$standin{next(self._invoice_links)}"
        if method in _TRUE:
            return True
        if method.startswith("edit"):
            return self._edit(params)
        if method.startswith("send") or method in ("copyMessage", "forwardMessage"):
            return self._send(method, params)
        return True

    def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _int(params.get("chat_id"))
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": _SENDER,
        }
        if method == "copyMessage":
            return {"message_id": message["message_id"]}
        if "text" in params:
            message["text"] = str(params["text"])
        if "caption" in params:
            message["caption"] = str(params["caption"])
        if method == "sendInvoice":
            prices = params.get("prices") or []
            message["invoice"] = {
                "title": params.get("title", ""),
                "description": params.get("description", ""),
                "start_parameter": params.get("start_parameter", ""),
                "currency": params.get("currency", ""),
                "total_amount": sum(int(price.get("amount", 0)) for price in prices if isinstance(price, dict)),
            }
        if isinstance(params.get("reply_markup"), dict) and "inline_keyboard" in params["reply_markup"]:
            message["reply_markup"] = params["reply_markup"]
        self._remember(chat_id, message)
        return message

    def _edit(self, params: dict[str, Any]) -> Any:
        if "inline_message_id" in params:
            return True
        chat_id, message_id = _int(params.get("chat_id")), _int(params.get("message_id"))
        known = self._messages.get((chat_id, message_id))
        markup = params.get("reply_markup") if isinstance(params.get("reply_markup"), dict) else None
        if known is not None and known.get("text") == params.get("text", known.get("text")):
            if known.get("reply_markup") == markup:
                raise _Refused(
                    "Bad Request: message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
        # A message sent through another process's stand-in is edited all the same.
        message = dict(known or {"message_id": message_id, "chat": {"id": chat_id, "type": "private"}})
        message.update({"from": _SENDER, "date": message.get("date", int(time.time())), "edit_date": int(time.time())})
        if "text" in params:
            message["text"] = str(params["text"])
        message.pop("reply_markup", None)
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._remember(chat_id, message)
        return message

    def _remember(self, chat_id: int, message: dict[str, Any]) -> None:
        self._messages[(chat_id, message["message_id"])] = message
        self._messages.move_to_end((chat_id, message["message_id"]))
        while len(self._messages) > _KEPT_MESSAGES:
            self._messages.popitem(last=False)


class _Refused(Exception):
    """Telegram's 400 for this call."""


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _decode(value: str) -> Any:
    # python-telegram-bot sends non-string parameters JSON-encoded in form fields.
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        parsed = json.loads(body)
        return parsed if isinstance(parsed, dict) else {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        params: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            params[name] = f"<file {part.get_filename()}>" if part.get_filename() else _decode(payload.decode())
        return params
    return {key: _decode(value) for key, value in parse_qsl(body.decode(), keep_blank_values=True)}


def _handler_class(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self._serve()

        def do_GET(self) -> None:  # noqa: N802
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            prefix, _, rest = self.path.partition("/bot")
            token, _, method = rest.split("?")[0].partition("/")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if prefix or token != TOKEN or not method:  # files (/file/bot…) are not served
                self._send(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            try:
                params = _parse_body(self.headers.get("Content-Type", ""), body)
            except ValueError:
                params = {}
            call = standin.answer(method, params)
            if call.ok:
                self._send(200, {"ok": True, "result": call.result})
            else:
                self._send(400, {"ok": False, "error_code": 400, "description": call.description})

        def _send(self, status: int, answer: dict[str, Any]) -> None:
            body = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


_lock = threading.Lock()
_standin: StandIn | None = None


def standin() -> StandIn:
    """This process's stand-in, started on first use (after a fork, a new one)."""
    global _standin
    with _lock:
        if _standin is None or _standin.pid != os.getpid():
            _standin = StandIn()
        return _standin
