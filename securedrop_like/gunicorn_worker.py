"""The gunicorn worker and logger the server runs with (see serve.gunicorn_options).

:class:`HeadFirstWorker`, a gthread worker that no slow client can starve.
gunicorn's gthread worker hands a connection to a thread as soon as its
first byte arrives; the thread then blocks reading the rest of the request
head. Sixteen clients sending a header byte a second took every thread and
no page answered (Tor does not prevent this: an attacker opens circuits).
This worker reads every request head itself, in its non-blocking main loop,
up to the blank line that ends it (at most :data:`HEAD_LIMIT` bytes, within
``head_timeout`` seconds of the connection's accept), and only then gives
the connection and the bytes it read to a thread, whose gunicorn parser
reads them back from its unreader. The same holds for a kept-alive
connection's next request (its deadline counts from its first byte). At most
``head_connections`` connections wait in that phase; beyond, the oldest is
closed. TLS connections (never ours: tor or a front terminates it) keep
gthread's way.

Request bodies are still read in the threads: a woman's upload over Tor is
legitimately slow, and a deadline short enough to stop an attacker would cut
her off. The application reads the body as it parses the form.

The worker also makes every malformed framing a 400 (a garbled chunk size,
a missing chunk terminator or a body cut short raised inside the
application's form parsing and answered 500) and refuses a malformed request
with a fixed log line: gunicorn's own logs the client's address and echoes
what it sent.

:class:`QuietLogger`, gunicorn's logger with the project's formatter and
filter (securedrop_like.logs) on each of its handlers: no time, no address,
no request data, no exception text; and no access log at all.
"""

from __future__ import annotations

import contextlib
import errno
import resource
import selectors
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

import gunicorn.http.wsgi
from gunicorn import glogging, http, util
from gunicorn.config import Setting
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker
from werkzeug.exceptions import BadRequest

from .logs import MALFORMED_REQUEST, REQUEST_FAILED, install

HEAD_LIMIT = 64 * 1024  # bytes: a request line and its headers, with room to spare
FD_RESERVE = 128  # descriptors slow heads may never take (see HeadFirstWorker.__init__)
MIN_HEADS = 16
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Connection: close\r\nContent-Length: 0\r\n\r\n"
)


def _positive_float(value: Any) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(f"must be positive: {value!r}")
    return number


def _positive_int(value: Any) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"must be positive: {value!r}")
    return number


# Two settings of our own. gunicorn registers every Setting subclass when it is
# defined, so `cfg.set("head_timeout", …)` works once this module is imported
# (serve.py imports it before it builds the configuration).
class HeadTimeout(Setting):  # type: ignore[misc]
    name = "head_timeout"
    section = "Worker Processes"
    validator = _positive_float
    type = float
    default = 30.0
    desc = """\
        Seconds a client has, from the first byte of a request, to send the
        whole request head; then the connection is closed (HeadFirstWorker).
        """


class HeadConnections(Setting):  # type: ignore[misc]
    name = "head_connections"
    section = "Worker Processes"
    validator = _positive_int
    type = int
    default = 1000
    desc = """\
        How many connections may be sending a request head at once in one
        worker; beyond, the oldest is closed (HeadFirstWorker).
        """


class ServerlessResponse(gunicorn.http.wsgi.Response):  # type: ignore[misc]
    """gunicorn's response without its ``Server: gunicorn`` header."""

    def default_headers(self) -> list[str]:
        return [h for h in super().default_headers() if not h.lower().startswith("server:")]


# gunicorn writes the Server header in Response.default_headers() and offers
# no setting for it. wsgi.create() builds its response from the module's
# ``Response`` name at call time, and only this worker's code path calls it:
# replacing that name here, at import (in the master, before any worker is
# forked), is the one place that covers every response without copying
# ThreadWorker.handle_request. Error responses (util.write_error) carry no
# Server header. The integration test looks for the header in every response.
gunicorn.http.wsgi.Response = ServerlessResponse


def _head_complete(buf: bytes | bytearray) -> bool:
    """Whether the parser can read the whole head without waiting for the client."""
    if b"\r\n\r\n" in buf:
        return True
    # A bare LF never ends a head the parser accepts; it refuses it at once.
    return buf.count(b"\n") != buf.count(b"\r\n")


_STATUS: list[tuple[type[Exception], int, str]] = [
    (http_errors.LimitRequestLine, 414, "URI Too Long"),
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (http_errors.UnsupportedTransferCoding, 501, "Not Implemented"),
    (http_errors.ExpectationFailed, 417, "Expectation Failed"),
    (http_errors.ForbiddenProxyRequest, 403, "Forbidden"),
]


def _client_status(exc: BaseException) -> tuple[int, str] | None:
    """The 4xx for what a client sent wrong; None for a failure of ours."""
    if isinstance(exc, (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName)):
        return None  # a header the application sent
    if isinstance(exc, http_errors.ConfigurationProblem):
        return None
    for kind, status, reason in _STATUS:
        if isinstance(exc, kind):
            return status, reason
    if isinstance(exc, (http_errors.ParseException, http_errors.NoMoreData)):
        return 400, "Bad Request"
    return None


class _FramedInput:
    """``wsgi.input`` whose framing errors are a 400 (werkzeug's BadRequest).

    gunicorn decodes the chunked (or length-delimited) body lazily, as the
    application reads it, so a garbled chunk size or a body cut short raises
    gunicorn's parse errors inside Flask's form parsing, where they were an
    unexpected error (500). werkzeug raises BadRequest itself when a
    Content-Length body ends early; this gives chunked bodies the same
    answer. gunicorn marks the body as failed, so the connection then closes.
    """

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except (http_errors.ParseException, http_errors.NoMoreData) as exc:
            raise BadRequest() from exc

    def read(self, size: int | None = None) -> bytes:
        return self._call(self._raw.read, size)  # type: ignore[no-any-return]

    def readline(self, size: int | None = None) -> bytes:
        return self._call(self._raw.readline, size)  # type: ignore[no-any-return]

    def readlines(self, size: int | None = None) -> list[bytes]:
        return self._call(self._raw.readlines, size)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def framing_errors_are_400(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "wsgi.input" in environ:
            environ["wsgi.input"] = _FramedInput(environ["wsgi.input"])
        return app(environ, start_response)

    return wrapped


class HeadFirstWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, with every request head read in the main loop (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections sending a head, oldest first (their deadlines in the same order).
        self.heads: OrderedDict[TConn, float] = OrderedDict()
        self._stop_at: float | None = None
        # Slow heads may not take the descriptors the threads need (a cold
        # worker opens templates, its database connections, the writer's
        # socket): keep FD_RESERVE of the process's limit out of their reach.
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        room = soft - FD_RESERVE if soft != resource.RLIM_INFINITY else self.cfg.head_connections
        self.max_heads = max(MIN_HEADS, min(self.cfg.head_connections, room))

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi: Any = framing_errors_are_400(self.wsgi)

    # -- the head-reading phase, all in the main thread ----------------------

    def accept(self, listener: socket.socket) -> None:
        if self.cfg.is_ssl:  # TLS is not ours to read here; we never serve it.
            super().accept(listener)
            return
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                # Out of descriptors (many slow clients, a low LimitNOFILE):
                # gthread would die here; the oldest head makes room instead.
                if self.heads:
                    self._drop_head(next(iter(self.heads)))
                return
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking
        conn.head = bytearray()
        self._await_head(conn)

    def enqueue_req(self, conn: TConn) -> None:
        # Every way to a thread comes here: a kept-alive connection that turned
        # readable, or one whose pipelined bytes are already buffered. Its head
        # is read here first, unless it already was.
        if getattr(conn, "head_ready", False):
            conn.head_ready = False
            super().enqueue_req(conn)
            return
        conn.sock.setblocking(False)
        conn.head = bytearray(conn.parser.unreader.take_buffered() if conn.parser else b"")
        self._await_head(conn)

    def _await_head(self, conn: TConn) -> None:
        if _head_complete(conn.head):
            self._head_done(conn)
            return
        if len(conn.head) >= HEAD_LIMIT:  # pipelined bytes already too many
            self.heads[conn] = 0.0
            self._refuse_too_large(conn)
            return
        while len(self.heads) >= self.max_heads:
            oldest = next(iter(self.heads))
            self._drop_head(oldest)
        self.heads[conn] = time.monotonic() + self.cfg.head_timeout
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_head, conn))
        # A kept-alive connection comes here because it turned readable: its
        # request is most often whole already, so read now rather than after
        # one more turn of the loop (a fresh one just finds nothing yet).
        self._read_head(conn, conn.sock)

    def _read_head(self, conn: TConn, _sock: socket.socket) -> None:
        if conn not in self.heads:  # dropped earlier in this same batch of events
            return
        try:
            data = conn.sock.recv(HEAD_LIMIT - len(conn.head))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop_head(conn)
            return
        conn.head += data
        if _head_complete(conn.head):
            self.poller.unregister(conn.sock)
            del self.heads[conn]
            self._head_done(conn)
        elif len(conn.head) >= HEAD_LIMIT:
            self._refuse_too_large(conn)

    def _refuse_too_large(self, conn: TConn) -> None:
        with contextlib.suppress(OSError):
            conn.sock.send(_TOO_LARGE)
        self.log.warning(MALFORMED_REQUEST)
        self._drop_head(conn)

    def _head_done(self, conn: TConn) -> None:
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(conn.head))
        conn.head = bytearray()
        conn.data_ready = True  # the thread must not wait for data again
        conn.head_ready = True
        self.enqueue_req(conn)

    def _drop_head(self, conn: TConn) -> None:
        if self.heads.pop(conn, None) is None:
            return  # already dropped
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        # Called on every turn of ThreadWorker.run()'s loop, while serving and
        # while stopping: the place to close heads past their deadline. A
        # stopping worker gives the heads in progress gthread's linger for
        # kept-alive connections (their requests get "Connection: close").
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and self._stop_at is None:
            self._stop_at = now + STOP_KEEPALIVE_LINGER
        stopped = self._stop_at is not None and now >= self._stop_at
        while self.heads:
            conn, deadline = next(iter(self.heads.items()))
            if deadline > now and not stopped:
                break
            self._drop_head(conn)

    # -- in the threads ------------------------------------------------------

    def _keepalive_after(self, conn: TConn, keepalive: bool) -> bool:
        # Draining a body the application did not read can meet its bad framing
        # after the response went out: close, do not write a second response.
        try:
            return bool(super()._keepalive_after(conn, keepalive))
        except (http_errors.ParseException, http_errors.NoMoreData):
            return False

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        # gunicorn's own logs "Invalid request from ip=…: <what was sent>" and
        # echoes the request line in the page: a fixed event and a fixed page here.
        answer = _client_status(exc)
        if answer is None:
            self.log.error(REQUEST_FAILED, exc_info=exc)  # its type only (logs.py)
            status, reason = 500, "Internal Server Error"
        else:
            self.log.warning(MALFORMED_REQUEST)
            status, reason = answer
        with contextlib.suppress(Exception):  # the client is gone: nothing to tell it
            util.write_error(client, status, reason, "")


class QuietLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger through the project's formatter and filter; no access log."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                install(handler)
        self.access_log.disabled = True

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None  # addresses, paths and exact times: never written

    def now(self) -> str:
        return ""


__all__ = ["HeadFirstWorker", "QuietLogger", "ServerlessResponse"]
