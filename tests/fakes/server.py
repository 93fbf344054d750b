import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request (a worker killed or stopped, as the chaos tests and benches do)
        is no error of the fake's; anything else is printed, as socketserver does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port) in a daemon thread, for the fakes of outside services."""

    name = "fake"

    def __init__(self) -> None:
        handler = self._handler_class()
        # Headers and body go out in two writes: with Nagle's algorithm on, the second waits for the
        # client's delayed ACK (40 ms) on every keep-alive request. Real servers don't answer that slowly.
        handler.disable_nagle_algorithm = True
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError


def send_json(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    """Answer with a JSON body; a client that already went away (timeout, killed worker) is no error."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass


def quiet(handler_class: type[BaseHTTPRequestHandler]) -> type[BaseHTTPRequestHandler]:
    def log_message(self: BaseHTTPRequestHandler, format: str, *args: Any) -> None:
        pass

    handler_class.log_message = log_message
    return handler_class
