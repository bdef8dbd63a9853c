"""A local HTTP server standing in for a provider's outbound API (Twilio's REST API,
Meta's Send API, X's direct-message API, an SMS aggregator): it records every
request byte for byte so a test can check it against the documented format,
and answers what the test tells it to. 127.0.0.1 only; stops with its context."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    target: str  # the request target as sent: path and query
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)


# (status, content type, body) for a recorded request
Answer = Callable[[Recorded], tuple[int, str, bytes]]


def _ok(_: Recorded) -> tuple[int, str, bytes]:
    return 200, "application/json", b"{}"


@dataclass
class Recorder:
    url: str  # http://127.0.0.1:PORT
    requests: list[Recorded] = field(default_factory=list)
    answer: Answer = _ok
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        """The first ``count`` requests, waiting up to ``timeout`` seconds for them."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests[:count])
            time.sleep(0.02)
        with self.lock:
            raise AssertionError(f"expected {count} requests, got {len(self.requests)}")


@contextmanager
def recorder(answer: Answer = _ok) -> Iterator[Recorder]:
    """A recording server on a free port of 127.0.0.1 for the ``with`` block."""
    rec = Recorder(url="", answer=answer)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Recorded(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            with rec.lock:
                rec.requests.append(seen)
            status, ctype, data = rec.answer(seen)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="recorder", daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
