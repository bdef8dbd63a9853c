"""Serving an app with gunicorn, embedded (no shell command line to get wrong).

Several worker processes (one per core) with many threads each. A source's
session, and the key that opens her replies, live in memory the master maps
before forking and every worker shares (see shared_sessions.py); nothing of
it touches disk. The bound on concurrent Argon2id derivations is a set of
lock files in the instance's run/ folder (derivation.py). Every write goes
to one writer process, started before the workers, which commits what all of
them send together (writer_process.py). Each worker builds its app after the
fork (no preload).

The master supervises: its loop (a gunicorn Arbiter, see
:class:`SupervisingArbiter`) starts a new writer on the same socket and key
when the writer dies, and runs the periodic tasks given to :func:`serve`
(for example the session sweeper). Every server process turns core dumps
off first (hardening.py).
"""

from __future__ import annotations

import atexit
import io
import logging
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

from .config import Config, check_kdf, warn_if_weak_kdf
from .gunicorn_worker import HeadFirstWorker, QuietLogger
from .hardening import harden_process
from .logs import configure_logging
from .shared_sessions import ServerShared, session_lock_path
from .writer_process import WriterProcess, WriterUnavailable

log = logging.getLogger(__name__)

# A task run by the master every ``interval`` seconds: ``fn(shared)``.
Task = tuple[float, Callable[[ServerShared], object]]
WRITER_RESTART_BACKOFF = 1.0  # seconds between two attempts to restart the writer


class EmbeddedServer(BaseApplication):  # type: ignore[misc]
    def __init__(
        self,
        factory: Callable[[], Any],
        options: dict[str, Any],
        supervisor: Supervisor | None = None,
    ) -> None:
        self.factory = factory
        self.options = options
        self.supervisor = supervisor
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        harden_process()  # in the worker, before the app holds anything
        return self.factory()

    def run(self) -> None:
        try:
            SupervisingArbiter(self, self.supervisor).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr, flush=True)
            sys.exit(1)


class Supervisor:
    """What the master looks after besides its workers: the writer and periodic tasks."""

    def __init__(
        self, writer: WriterProcess, shared: ServerShared, tasks: Sequence[Task] = ()
    ) -> None:
        self.writer = writer
        self.shared = shared
        now = time.monotonic()
        self.tasks = [(float(interval), fn, now + float(interval)) for interval, fn in tasks]
        self._next_restart = 0.0

    def tick(self) -> None:
        """One pass: restart a dead writer, run the tasks that are due. Never raises."""
        try:
            self._keep_writer()
        except Exception as exc:  # noqa: BLE001 - the master must outlive any failure here
            log.error("writer supervision failed: %s", type(exc).__name__)
        now = time.monotonic()
        for n, (interval, fn, due) in enumerate(self.tasks):
            if now < due:
                continue
            self.tasks[n] = (interval, fn, now + interval)
            try:
                fn(self.shared)
            except Exception as exc:  # noqa: BLE001 - the type only: a message could carry data
                log.error("a periodic task failed: %s", type(exc).__name__)

    def _keep_writer(self) -> None:
        if self.writer.alive() or time.monotonic() < self._next_restart:
            return
        self._next_restart = time.monotonic() + WRITER_RESTART_BACKOFF
        log.error("the writer process stopped; starting a new one")
        try:
            self.writer.restart()
        except WriterUnavailable:
            log.error("the writer process could not be restarted; trying again")


class SupervisingArbiter(Arbiter):  # type: ignore[misc]
    """gunicorn's master loop, which also supervises the writer and runs tasks.

    gunicorn reaps every child with ``waitpid(-1)``, the writer included, so
    :meth:`WriterProcess.alive` treats "not our child any more" as dead.
    """

    def __init__(self, app: EmbeddedServer, supervisor: Supervisor | None) -> None:
        super().__init__(app)
        self.supervisor = supervisor

    def manage_workers(self) -> None:
        super().manage_workers()
        if self.supervisor is not None:
            self.supervisor.tick()


def gunicorn_options(
    host: str, port: int, threads: int = 16, head_timeout: float = 30.0
) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": 1,
        # gthread that reads each request head in its main loop, so slow
        # clients cannot take the threads (gunicorn_worker.py).
        "worker_class": HeadFirstWorker,
        "threads": threads,
        "head_timeout": head_timeout,
        "head_connections": 1000,
        # Room for every head in reading beside the threads' and kept-alive
        # connections: at worker_connections the worker stops accepting.
        "worker_connections": 2000,
        # Uploads over Tor are slow; the worker heartbeat must not kill them.
        "timeout": 900,
        "graceful_timeout": 10,
        "keepalive": 5,
        # No access log: it would record addresses, paths and exact times.
        "accesslog": None,
        "errorlog": "-",
        # No time, no address, no request data in gunicorn's own log lines.
        "logger_class": QuietLogger,
        "loglevel": "warning",
        "preload_app": False,
        "proc_name": "sesim",
        "forwarded_allow_ips": "",
        "proxy_allow_ips": "",
    }


def serve(
    factory: Callable[[ServerShared], Any],
    config: Config,
    host: str,
    port: int,
    workers: int | None = None,
    threads: int | None = None,
    tasks: Sequence[Task] = (),
    part: str | None = None,
) -> None:
    """Run ``factory(shared)`` in each worker; blocks until the server stops.

    ``tasks`` are ``(interval_seconds, fn)`` pairs: the master calls
    ``fn(shared)`` every ``interval_seconds`` (checked about once a second); an
    error is logged by its type only and never stops the master. Raises
    :class:`~securedrop_like.config.ConfigError` if the Argon2id settings are
    not the pinned ones. ``part`` ("source", "staff") names the session lock
    file in ``run/``; without it the lock file is private to this server.
    """
    harden_process()
    check_kdf(config)
    configure_logging()  # before the writer process forks: it logs the same way
    warn_if_weak_kdf()  # at every start, so a stray test flag shows in the log
    writer = WriterProcess(config)
    writer.start()
    atexit.register(writer.stop)
    shared = ServerShared.create(
        config.max_sessions,
        writer.address,
        writer.authkey,
        lock_path=session_lock_path(config.home, part) if part else None,
    )
    options = gunicorn_options(
        host, port, threads or config.server_threads, config.server_head_timeout_seconds
    )
    options["workers"] = workers or config.workers
    supervisor = Supervisor(writer, shared, tasks)
    try:
        EmbeddedServer(lambda: factory(shared), options, supervisor).run()
    finally:
        writer.stop()


#: The in-process servers' limits: a read that gets nothing for READ_TIMEOUT seconds, or a
#: request (head and body, or the wait for the next one on a kept-alive connection) not
#: received whole within REQUEST_DEADLINE seconds, ends the connection: an idle or
#: trickling client cannot hold a thread, or an upload slot, for long.
READ_TIMEOUT = 30.0
REQUEST_DEADLINE = 300.0
#: The Server header, and all the server says of itself.
SERVER_NAME = "sesim"


class _DeadlineReader(io.RawIOBase):
    """The connection's input, each read bounded by the handler's idle timeout and by
    what is left of its request deadline (a 1-byte-every-29-seconds sender is cut off)."""

    def __init__(self, handler: QuietRequestHandler) -> None:
        super().__init__()
        self.handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        handler = self.handler
        sock: socket.socket = handler.connection
        left = handler.deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError("the request took too long to arrive")
            sock.settimeout(min(handler.timeout, left))
            return sock.recv_into(buffer)
        finally:
            sock.settimeout(handler.timeout)  # for the answer, if one is still sent


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler with timeouts and without identifying output: no access
    log, no address, no time, no request line or path in any message, no software
    version in the Server header (DESIGN.md: logs carry no IP)."""

    timeout = READ_TIMEOUT  # per read (socketserver sets it on the connection)
    request_deadline: float = REQUEST_DEADLINE
    server_version = SERVER_NAME
    sys_version = ""
    deadline = 0.0

    def setup(self) -> None:
        super().setup()
        self.deadline = time.monotonic() + self.request_deadline
        self.rfile.close()  # the socket's own file: it would keep the socket open
        self.rfile = io.BufferedReader(_DeadlineReader(self))

    def handle_one_request(self) -> None:
        self.deadline = time.monotonic() + self.request_deadline
        super().handle_one_request()

    def version_string(self) -> str:
        return SERVER_NAME

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # no access log

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        # send_error logs "code %d, message %s": the message quotes the request line.
        if format.startswith("code ") and args and isinstance(args[0], int):
            _quiet_line(f"refused a malformed request ({args[0]})")

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        if type == "error":
            _quiet_line("a request failed")


def _quiet_line(text: str) -> None:
    print(f"{SERVER_NAME}: {text}", file=sys.stderr, flush=True)


class QuietServerMixin:
    """For a werkzeug server class: its own messages ("Error on request" with a traceback,
    socketserver's "Exception occurred during processing of request from (address)")
    become one line with the exception's type only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server_version = SERVER_NAME

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        if type == "error":
            _quiet_line(f"a request failed ({_current_error()})")

    def handle_error(self, request: Any, client_address: Any) -> None:
        _quiet_line(f"a request failed ({_current_error()})")


def _current_error() -> str:
    kind = sys.exc_info()[0]
    return kind.__name__ if kind is not None else "error"


class QuietThreadedServer(QuietServerMixin, ThreadedWSGIServer):
    """werkzeug's threaded server (one thread per connection), quiet and with timeouts."""


def make_quiet_server(
    host: str, port: int, app: Any, handler: type[QuietRequestHandler] = QuietRequestHandler
) -> BaseWSGIServer:
    """A threaded in-process server for ``app`` (the map); tests pass a handler subclass
    with short timeouts."""
    return QuietThreadedServer(host, port, app, handler=handler)


def serve_in_process(server: Any, label: str) -> None:
    """Serve a single-process werkzeug ``server`` (the workstation, the map) until Ctrl-C,
    with no access log (paths carry ids; readers' addresses are nobody's business).
    Build ``server`` with :class:`QuietRequestHandler` (and :class:`QuietServerMixin`):
    timeouts, nothing identifying printed. Log lines go through ``logs.configure_logging``
    (no time, no address), so Flask's own handler, which stamps the time, is never added."""
    configure_logging()
    host = server.server_address[0]
    shown = f"[{host}]" if ":" in host else host
    print(f"{label} on http://{shown}:{server.server_port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
