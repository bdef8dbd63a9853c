"""The in-process servers (the map's and the workstation's, securedrop_like/serve.py) over
real sockets on 127.0.0.1: an idle or trickling client is cut off; nothing they print
names an address or a time, or the software behind them."""

from __future__ import annotations

import datetime
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from journalist_interface.workstation.server import PooledServer
from securedrop_like.serve import QuietRequestHandler, QuietThreadedServer

#: Each read waits at most this long in these tests; each request at most DEADLINE.
TIMEOUT = 1.0
DEADLINE = 3.0
#: How long a test waits for the server to end a connection before calling it a failure.
BOUND = 20.0


class ShortHandler(QuietRequestHandler):
    timeout = TIMEOUT
    request_deadline = DEADLINE


def hello_or_raise(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    if environ["PATH_INFO"] == "/raise":
        raise RuntimeError("boom from /raise at 127.0.0.1")
    if environ["REQUEST_METHOD"] == "POST":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"got %d" % len(body)]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def _threaded(app: Any) -> Any:
    return QuietThreadedServer("127.0.0.1", 0, app, handler=ShortHandler)


def _pooled(app: Any) -> Any:
    server = PooledServer("127.0.0.1", 0, app)
    server.RequestHandlerClass = ShortHandler
    return server


@pytest.fixture(params=[_threaded, _pooled], ids=["map", "workstation"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    server = request.param(hello_or_raise)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=BOUND)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=BOUND)


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (or BOUND passes: a failure)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError(f"the server kept the connection open; got {data!r}") from None
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def test_an_idle_connection_is_closed(port: int) -> None:
    with _connect(port) as idle, _connect(port) as half:
        half.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n{")
        assert _read_all(idle) == b""  # no request at all: closed without a word
        _read_all(half)  # half a body: closed (what it answered does not matter)


def test_a_trickling_sender_is_cut_off_at_the_deadline(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < BOUND:
            try:
                sock.sendall(b"x")  # one byte per half timeout: never idle for long
            except OSError:
                closed = True
                break
            sock.settimeout(TIMEOUT / 2)
            try:
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed = True
                break
        assert closed, "a 1-byte trickle held the connection"


def test_a_prompt_client_is_served(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200") and b"got 5" in answer


def test_nothing_identifying_is_printed_or_sent(
    port: int, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = []
    for raw in (
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
        b"GET /raise HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ):
        with _connect(port) as sock:
            sock.sendall(raw)
            answers.append(_read_all(sock))
    assert answers[-1].startswith(b"HTTP/1.1 200")
    assert answers[3].startswith(b"HTTP/1.1 500")
    printed = capfd.readouterr()
    text = printed.out + printed.err + caplog.text
    today = datetime.datetime.now()
    for secret in (
        "127.0.0.1", today.strftime("%d/%b/%Y"), today.strftime("%Y-%m-%d"), "GARBAGE",
        "aaaaaaaa", "boom", "Traceback", "Werkzeug", "Python",
    ):  # fmt: skip
        assert secret not in text, (secret, text)
    assert "sesim: a request failed (RuntimeError)" in text  # something, for the operator
    for answer in answers:
        head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        servers = [h for h in head.split("\r\n") if h.lower().startswith("server:")]
        assert servers in ([], ["Server: sesim"]), head
