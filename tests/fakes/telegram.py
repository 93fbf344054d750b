"""A fake Telegram Bot API on 127.0.0.1: records every call and answers the way Telegram does.

Point python-telegram-bot at `base_url` (`http://127.0.0.1:PORT/bot`, the token is appended) and
the real client does real HTTP against it.
"""

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.server import LoopbackServer, quiet, send_json

BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Botdesk Test",
    "username": "botdesk_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
# Methods whose result is the Message that was sent.
_MESSAGE_METHODS = {"sendMessage", "sendPhoto", "sendInvoice", "editMessageText", "copyMessage", "sendDocument"}


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}


def _bad_request(description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str
    at: float = field(default_factory=time.monotonic)
    status: int = 0  # the HTTP status it was answered with (0 until answered)


@dataclass
class Failure:
    status: int
    retry_after: int = 0
    times: int | None = None  # None: every call
    method: str | None = None  # None: every method


@dataclass
class Refund:
    """How one refundStarPayment is answered: refunded (the default), or refused with a 400 (`refuse`);
    either answer after `delay` seconds (longer than the client waits: it hears nothing in time, whatever
    Telegram did)."""

    refuse: bool = False
    delay: float = 0.0


class Upload(bytes):
    """An uploaded file's content, with the name it was sent under."""

    def __new__(cls, content: bytes, filename: str) -> "Upload":
        upload = super().__new__(cls, content)
        upload.filename = filename
        return upload


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
        return json.loads(body)
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        params: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            params[name] = Upload(payload, filename) if filename else _decode(payload.decode())
        return params
    return {key: _decode(value) for key, value in parse_qsl(body.decode(), keep_blank_values=True)}


class FakeBotAPI(LoopbackServer):
    name = "fake-bot-api"

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition()
        self._message_ids = itertools.count(1000)
        self.reset()

    # --- control ----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    def reset(self) -> None:
        with self._changed:
            self.calls: list[Call] = []
            self._failures: dict[int, Failure] = {}
            self._method_failures: dict[str, Failure] = {}
            self._delays: dict[str, float] = {}
            self._updates: list[dict[str, Any]] = []
            self._rate_limit = 0
            self._accepted: deque[float] = deque()
            self._drafts_refused = False
            # The bot's Telegram Stars ledger, newest first (getStarTransactions), and scripted refund answers.
            self.star_transactions: list[dict[str, Any]] = []
            self._refunds: deque[Refund] = deque()
            # Files users sent (getFile, then a download from /file/bot<token>/<file_path>), by file_id.
            self.files: dict[str, bytes] = {}
            self.downloads: list[str] = []
            # Star subscriptions: (user id, charge id) → cancelled (editUserStarSubscription); users whose edits
            # are refused.
            self.star_subscriptions: dict[tuple[int, str], bool] = {}
            self._subscription_edits_refused: set[int] = set()

    def limit_rate(self, per_second: int) -> None:
        """Enforce Telegram's broadcast limit: a message beyond `per_second` in any one-second window is
        answered 429 with retry_after 1 (0 = no limit)."""
        with self._changed:
            self._rate_limit = per_second
            self._accepted.clear()

    def fail_chat(
        self, chat_id: int, status: int, *, retry_after: int = 0, times: int | None = None, method: str | None = None
    ) -> None:
        """Answer calls for this chat (to `method` only, if given) with 403 (blocked), 429 (flood control)
        or another error status."""
        with self._changed:
            self._failures[int(chat_id)] = Failure(status=status, retry_after=retry_after, times=times, method=method)

    def delay(self, method: str, seconds: float) -> None:
        """Hold the answer to `method` (the call is recorded at once)."""
        with self._changed:
            if seconds:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def star_payment(
        self, user_id: int, charge_id: str, amount: int, *, payload: str = "", date: int | None = None
    ) -> None:
        """A user paid the bot `amount` Stars: Telegram's ledger has the incoming transaction (dated now, or
        at the Unix time `date`)."""
        partner = {"type": "user", "transaction_type": "invoice_payment", "user": _user(user_id)}
        if payload:
            partner["invoice_payload"] = payload
        self._ledger_entry({"id": charge_id, "amount": amount, "source": partner}, date)

    def star_refund(self, user_id: int, charge_id: str, amount: int, *, date: int | None = None) -> None:
        """Telegram refunded the payment `charge_id` by itself (a dispute), or on a request whose answer the bot
        never heard: its ledger has the outgoing transaction, with the payment's id."""
        receiver = {"type": "user", "transaction_type": "invoice_payment", "user": _user(user_id)}
        self._ledger_entry({"id": charge_id, "amount": amount, "receiver": receiver}, date)

    def _ledger_entry(self, entry: dict[str, Any], date: int | None) -> None:
        """Into the ledger where its date puts it: newest first, as getStarTransactions lists them."""
        entry["date"] = int(time.time()) if date is None else date
        with self._changed:
            at = next(
                (n for n, other in enumerate(self.star_transactions) if other["date"] <= entry["date"]),
                len(self.star_transactions),
            )
            self.star_transactions.insert(at, entry)

    def fail_method(self, method: str, status: int, *, times: int | None = None) -> None:
        """Answer calls to `method` with an error status (`times` calls, or every one), whatever the chat."""
        with self._changed:
            self._method_failures[method] = Failure(status=status, times=times, method=method)

    def refund_answers(self, *answers: Refund) -> None:
        """How the next refundStarPayment calls are answered, in order (then: refunded at once)."""
        with self._changed:
            self._refunds.extend(answers)

    def refuse_subscription_edits(self, user_id: int) -> None:
        """editUserStarSubscription for this user is refused with a 400, as Telegram does for a subscription
        that is not the user's or is over."""
        with self._changed:
            self._subscription_edits_refused.add(user_id)

    def refuse_drafts(self, refuse: bool = True) -> None:
        """Answer sendMessageDraft as a Bot API server older than 9.3 does: 404, method not found."""
        with self._changed:
            self._drafts_refused = refuse

    def add_file(self, file_id: str, content: bytes) -> None:
        """A file a user sent: getFile describes it and its file_path downloads it."""
        with self._changed:
            self.files[file_id] = content

    def queue_updates(self, *updates: dict[str, Any]) -> None:
        """Updates that the next getUpdates returns."""
        with self._changed:
            self._updates.extend(updates)

    def calls_to(self, method: str) -> list[Call]:
        with self._changed:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 20) -> list[Call]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(matching := [c for c in self.calls if c.method == method]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{method} called {len(matching)} time(s), expected {count}")
                self._changed.wait(remaining)
            return matching

    # --- serving ----------------------------------------------------------------------------
    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = params.get("chat_id")
        with self._changed:
            failure = (
                self._failures.get(int(chat_id))
                if isinstance(chat_id, int | str) and str(chat_id).lstrip("-").isdigit()
                else None
            )
            if failure is not None and failure.method not in (None, method):
                failure = None
            if failure is not None:
                return failure.status, self._error(self._spend(self._failures, int(chat_id)))
            if method in self._method_failures:
                failure = self._spend(self._method_failures, method)
                return failure.status, self._error(failure)
            if self._rate_limit and method in _MESSAGE_METHODS:
                now = time.monotonic()
                while self._accepted and self._accepted[0] <= now - 1.0:
                    self._accepted.popleft()
                if len(self._accepted) >= self._rate_limit:
                    return 429, self._error(Failure(status=429, retry_after=1))
                self._accepted.append(now)
            if method == "getUpdates":
                offset = params.get("offset") or 0
                updates = [update for update in self._updates if update["update_id"] >= offset]
                self._updates = []
                return 200, {"ok": True, "result": updates}
        if method == "sendMessageDraft" and self._drafts_refused:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        if method == "getMe":
            return 200, {"ok": True, "result": BOT_USER}
        if method == "getFile":
            file_id = str(params.get("file_id"))
            with self._changed:
                content = self.files.get(file_id)
            if content is None:
                return 400, _bad_request("invalid file_id")
            result = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(content),
                      "file_path": f"voice/{file_id}.oga"}  # fmt: skip
            return 200, {"ok": True, "result": result}
        if method == "getStarTransactions":
            offset, limit = int(params.get("offset") or 0), int(params.get("limit") or 100)
            with self._changed:
                page = self.star_transactions[offset : offset + limit]
            return 200, {"ok": True, "result": {"transactions": page}}
        if method == "createInvoiceLink":
            # A link per invoice, as Telegram's: https://t.me/$<slug>
            return 200, {"ok": True, "result": f"https://t.me/$fake-invoice-{next(self._message_ids)}"}
        if method == "editUserStarSubscription":
            user_id, charge_id = int(params["user_id"]), str(params["telegram_payment_charge_id"])
            with self._changed:
                if user_id in self._subscription_edits_refused:
                    return 400, _bad_request("SUBSCRIPTION_NOT_FOUND")
                self.star_subscriptions[(user_id, charge_id)] = str(params["is_canceled"]).lower() == "true"
            return 200, {"ok": True, "result": True}
        if method == "refundStarPayment":
            return self._refund(int(params["user_id"]), str(params["telegram_payment_charge_id"]))
        if method in _MESSAGE_METHODS:
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(chat_id), "type": "private"},
                "from": {key: BOT_USER[key] for key in ("id", "is_bot", "first_name", "username")},
            }
            if "text" in params:
                message["text"] = params["text"]
            return 200, {"ok": True, "result": message}
        return 200, {"ok": True, "result": True}

    def _refund(self, user_id: int, charge_id: str) -> tuple[int, dict[str, Any]]:
        """Telegram's side of refundStarPayment: a refund is an outgoing transaction in the bot's ledger,
        with the id of the payment it refunds; a second refund of one payment is refused."""
        with self._changed:
            refund = self._refunds.popleft() if self._refunds else Refund()
            refunded_before = any(entry["id"] == charge_id and "receiver" in entry for entry in self.star_transactions)
            if refunded_before:
                status, answer = 400, _bad_request("CHARGE_ALREADY_REFUNDED")
            elif refund.refuse:
                status, answer = 400, _bad_request("CHARGE_NOT_FOUND")
            else:
                status, answer = 200, {"ok": True, "result": True}
                paid = next((entry for entry in self.star_transactions if entry["id"] == charge_id), None)
                receiver = {"type": "user", "transaction_type": "invoice_payment", "user": _user(user_id)}
                entry = {"id": charge_id, "amount": paid["amount"] if paid else 1, "date": int(time.time())}
                self.star_transactions.insert(0, {**entry, "receiver": receiver})
        if refund.delay:
            time.sleep(refund.delay)  # the client has given up meanwhile; Telegram did what it did
        return status, answer

    @staticmethod
    def _spend(failures: dict[Any, Failure], key: Any) -> Failure:
        """The failure under `key` answers one call; after its last time it is forgotten."""
        failure = failures[key]
        if failure.times is not None:
            failure.times -= 1
            if failure.times <= 0:
                del failures[key]
        return failure

    @staticmethod
    def _error(failure: Failure) -> dict[str, Any]:
        if failure.status == 429:
            return {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {failure.retry_after}",
                "parameters": {"retry_after": failure.retry_after},
            }
        if failure.status == 403:
            return {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
        return {"ok": False, "error_code": failure.status, "description": "Bad Request: fake failure"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        @quiet
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                self._serve()

            def do_GET(self) -> None:  # noqa: N802
                self._serve()

            def _download(self) -> None:
                """GET /file/bot<token>/<file_path>: the file's bytes, as Telegram serves them."""
                _, _, rest = self.path.partition("/file/bot")
                _, _, file_path = rest.partition("/")
                file_id = file_path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                with fake._changed:
                    content = fake.files.get(file_id)
                    fake.downloads.append(file_path)
                    fake._changed.notify_all()
                self.send_response(200 if content is not None else 404)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(content or b"")))
                self.end_headers()
                self.wfile.write(content or b"")

            def _serve(self) -> None:
                if self.path.startswith("/file/bot"):
                    self._download()
                    return
                _, _, rest = self.path.partition("/bot")
                token, _, method = rest.split("?")[0].partition("/")
                length = int(self.headers.get("Content-Length") or 0)
                params = _parse_body(self.headers.get("Content-Type", ""), self.rfile.read(length))
                call = Call(method=method, params=params, token=token)
                with fake._changed:
                    fake.calls.append(call)
                    fake._changed.notify_all()
                    delay = fake._delays.get(method, 0)
                if delay:
                    time.sleep(delay)
                call.status, answer = fake._answer(method, params)
                send_json(self, call.status, json.dumps(answer).encode())

        return Handler


def successful_payment_update(
    update_id: int,
    *,
    user_id: int,
    payload: str,
    stars: int,
    charge_id: str,
    subscription_until: int | None = None,
    language_code: str = "en",
) -> dict[str, Any]:
    """A message carrying successful_payment, as Telegram sends it; with `subscription_until` (a Unix time)
    one of a subscription's payments, the first or a renewal (is_recurring, subscription_expiration_date)."""
    person = {**_user(user_id), "language_code": language_code}
    paid: dict[str, Any] = {
        "currency": "XTR",
        "total_amount": stars,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id,
        "provider_payment_charge_id": "",
    }
    if subscription_until is not None:
        paid.update(is_recurring=True, subscription_expiration_date=subscription_until)
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "from": person,
            "chat": {"id": user_id, "type": "private", "first_name": person["first_name"]},
            "successful_payment": paid,
        },
    }
