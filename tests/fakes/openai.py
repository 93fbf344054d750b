"""A fake OpenAI-compatible API on 127.0.0.1 for the real `openai` client.

By default every chat completion answers "Fake answer N" with usage. Script other behaviours in
order with `then(...)`: an answer without usage, an HTTP error (429 with Retry-After, 500, …), a
delay longer than the client's timeout, a dropped connection.

A request with `stream: true` is answered with server-sent events, as OpenAI does: the answer's text
in pieces (a word and its following space each), then, when the request asks `stream_options.include_usage`,
a last chunk with the usage and no choices, then `data: [DONE]`. An Answer's `first_token_delay` and
`chunk_delay` pace it (an unstreamed request waits as long, then gets the whole answer); `break_after=N`
drops the connection after N pieces of text (a stream that breaks).

`/audio/transcriptions` (multipart, as the SDK sends it) answers the next scripted `Transcription` (its
text, and its usage in seconds when given; a scripted Fail, Stall or Hangup applies too), by default
"Fake transcript N"; each request is recorded in `transcriptions` (model, filename, the audio's bytes).
"""

import itertools
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
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
    # How fast the model writes: streamed, the pause before the first piece and between pieces; unstreamed,
    # the whole answer comes after all of them.
    first_token_delay: float = 0.0
    chunk_delay: float = 0.0
    break_after: int | None = None  # streamed only: drop the connection after this many pieces (mid-stream)


@dataclass
class Transcription:
    text: str = ""  # "": "Fake transcript N"
    seconds: float | None = None  # the usage the provider reports (whisper-1: the audio's duration)


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


Behaviour = Answer | Transcription | Fail | Stall | Hangup


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
            self.transcriptions: list[dict[str, Any]] = []
            self._transcripts = itertools.count(1)

    def then(self, *behaviours: Behaviour) -> "FakeOpenAI":
        with self._lock:
            self._script.extend(behaviours)
        return self

    def _next(self, body: dict[str, Any]) -> Behaviour:
        with self._lock:
            self.requests.append(body)
            return self._script.popleft() if self._script else Answer()

    def _next_transcription(self, fields: dict[str, Any]) -> Behaviour:
        with self._lock:
            self.transcriptions.append(fields)
            return self._script.popleft() if self._script else Transcription()

    def _transcription(self, behaviour: Transcription) -> dict[str, Any]:
        result: dict[str, Any] = {"text": behaviour.text or f"Fake transcript {next(self._transcripts)}"}
        if behaviour.seconds is not None:
            result["usage"] = {"type": "duration", "seconds": behaviour.seconds}
        return result

    def _text(self, answer: Answer) -> str:
        return answer.text or f"Fake answer {next(self._answers)}"

    def _completion(self, answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
        completion: dict[str, Any] = {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": answer.model or body.get("model", "fake-model"),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self._text(answer)},
                "finish_reason": "stop",
            }],
        }  # fmt: skip
        if answer.usage is not None:
            completion["usage"] = self._usage(answer)
        return completion

    @staticmethod
    def _usage(answer: Answer) -> dict[str, Any]:
        usage: dict[str, Any] = dict(answer.usage or {})
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        usage["prompt_tokens_details"] = {"cached_tokens": answer.cached_tokens}
        return usage

    def _chunks(self, answer: Answer, body: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]], dict | None]:
        """The pieces of text, a chunk for each (the first also says the role, the last the finish), and the
        usage chunk (None: not asked for, or no usage)."""
        common = {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": answer.model or body.get("model", "fake-model"),
        }
        pieces = re.findall(r"\S+\s*|\s+", self._text(answer))
        chunks = []
        for index, piece in enumerate(pieces):
            delta = {"content": piece, **({"role": "assistant"} if index == 0 else {})}
            finish = "stop" if index == len(pieces) - 1 else None
            chunks.append({**common, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        wants_usage = (body.get("stream_options") or {}).get("include_usage")
        usage = {**common, "choices": [], "usage": self._usage(answer)} if wants_usage and answer.usage else None
        return pieces, chunks, usage

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        @quiet
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                transcribing = self.path.rstrip("/").endswith("/audio/transcriptions")
                if transcribing:
                    body: dict[str, Any] = {}
                    behaviour = fake._next_transcription(_multipart(self.headers.get("Content-Type", ""), raw))
                    if isinstance(behaviour, Answer):  # scripted as a chat answer: its text is what was said
                        behaviour = Transcription(text=behaviour.text or "")
                else:
                    body = json.loads(raw or b"{}")
                    behaviour = fake._next(body)
                if isinstance(behaviour, Hangup):
                    self.close_connection = True
                    self.connection.close()
                    return
                if isinstance(behaviour, Stall):
                    time.sleep(behaviour.seconds)
                    behaviour = Transcription() if transcribing else Answer()
                if isinstance(behaviour, Answer) and behaviour.delay:
                    time.sleep(behaviour.delay)
                if isinstance(behaviour, Fail):
                    payload = {"error": {"message": f"fake failure {behaviour.status}", "type": "fake", "code": None}}
                    headers = {"retry-after": str(behaviour.retry_after)} if behaviour.retry_after is not None else {}
                    self._send(behaviour.status, payload, headers)
                    return
                if isinstance(behaviour, Transcription):
                    self._send(200, fake._transcription(behaviour), {})
                    return
                if body.get("stream"):
                    self._stream(behaviour, body)
                    return
                # Unstreamed, a paced answer comes whole once the model would have written it all.
                pieces = len(re.findall(r"\S+\s*|\s+", behaviour.text or "")) if behaviour.text else 3
                time.sleep(behaviour.first_token_delay + behaviour.chunk_delay * max(pieces - 1, 0))
                self._send(200, fake._completion(behaviour, body), {})

            def _stream(self, answer: Answer, body: dict[str, Any]) -> None:
                _, chunks, usage = fake._chunks(answer, body)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.flush()
                    time.sleep(answer.first_token_delay)
                    for index, chunk in enumerate(chunks):
                        if answer.break_after is not None and index >= answer.break_after:
                            # Gone mid-body: no last chunk of the chunked encoding, as when a connection drops.
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                        if index and answer.chunk_delay:
                            time.sleep(answer.chunk_delay)
                        self._event(json.dumps(chunk))
                    if usage is not None:
                        self._event(json.dumps(usage))
                    self._event("[DONE]")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _event(self, data: str) -> None:
                event = f"data: {data}\n\n".encode()
                self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                self.wfile.flush()

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                send_json(self, status, json.dumps(payload).encode(), headers)

        return Handler


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """A multipart form's fields: text as str, a file as {"filename", "content"}."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        fields[name] = {"filename": filename, "content": payload} if filename else payload.decode()
    return fields
