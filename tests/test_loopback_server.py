"""The fakes' HTTP server: a client that drops its connection (a worker killed mid-request) prints nothing,
while the fake's own errors still do."""

import socket
import struct
import time
from http.server import BaseHTTPRequestHandler

from tests.fakes.server import LoopbackServer


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        raise ValueError("the fake's own bug")


class _Server(LoopbackServer):
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _Failing


def _reset_mid_request(address: tuple) -> None:
    client = socket.create_connection(address)
    client.sendall(b"GET")  # half a request line, then a reset instead of the rest
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


def test_a_client_gone_mid_request_prints_nothing_but_the_fakes_own_errors_do(capfd):
    server = _Server().start()
    try:
        _reset_mid_request(server._server.server_address)
        time.sleep(0.3)
        assert "ConnectionResetError" not in capfd.readouterr().err

        with socket.create_connection(server._server.server_address) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            client.recv(1)
        time.sleep(0.3)
        assert "the fake's own bug" in capfd.readouterr().err
    finally:
        server.stop()
