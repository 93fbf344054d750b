"""A fake OpenAI-compatible API on 127.0.0.1 for the real `openai` client.

By default every chat completion answers "Fake answer N" with usage. Script other behaviours in
order with `then(...)`: an answer without usage, an HTTP error (429 with Retry-After, 500, …), a
delay longer than the client's timeout, a dropped connection.
"""

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.server import LoopbackServer, quiet, send_json


@dataclass
class Answer:
    text: str | None = None
    usage: dict[str, int] | None = field(default_factory=lambda: {"prompt_tokens": 120, "completion_tokens": 30})
    cached_tokens: int = 0
    model: str | None = None
    delay: float = 0.0  # seconds before answering: a slow model, well inside the client's timeout


@dataclass
class Fail:
    status: int
    retry_after: float | None = None


@dataclass
class Stall:
    seconds: float


@dataclass
class Hangup:
    pass


Behaviour = Answer | Fail | Stall | Hangup


class FakeOpenAI(LoopbackServer):
    name = "fake-openai"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.reset()

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reset(self) -> None:
        with self._lock:
            self.requests: list[dict[str, Any]] = []
            self._script: deque[Behaviour] = deque()
            self._answers = itertools.count(1)

    def then(self, *behaviours: Behaviour) -> "FakeOpenAI":
        with self._lock:
            self._script.extend(behaviours)
        return self

    def _next(self, body: dict[str, Any]) -> Behaviour:
        with self._lock:
            self.requests.append(body)
            return self._script.popleft() if self._script else Answer()

    def _completion(self, answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
        completion: dict[str, Any] = {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": answer.model or body.get("model", "fake-model"),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer.text or f"Fake answer {next(self._answers)}"},
                "finish_reason": "stop",
            }],
        }  # fmt: skip
        if answer.usage is not None:
            usage = dict(answer.usage)
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            usage["prompt_tokens_details"] = {"cached_tokens": answer.cached_tokens}
            completion["usage"] = usage
        return completion

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        @quiet
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                behaviour = fake._next(body)
                if isinstance(behaviour, Hangup):
                    self.close_connection = True
                    self.connection.close()
                    return
                if isinstance(behaviour, Stall):
                    time.sleep(behaviour.seconds)
                    behaviour = Answer()
                if isinstance(behaviour, Answer) and behaviour.delay:
                    time.sleep(behaviour.delay)
                if isinstance(behaviour, Fail):
                    payload = {"error": {"message": f"fake failure {behaviour.status}", "type": "fake", "code": None}}
                    headers = {"retry-after": str(behaviour.retry_after)} if behaviour.retry_after is not None else {}
                    self._send(behaviour.status, payload, headers)
                    return
                self._send(200, fake._completion(behaviour, body), {})

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                send_json(self, status, json.dumps(payload).encode(), headers)

        return Handler
