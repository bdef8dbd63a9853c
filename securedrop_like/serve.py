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
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

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


def serve_in_process(server: Any, label: str) -> None:
    """Serve a single-process werkzeug ``server`` (the workstation, the map) until Ctrl-C,
    with no access log (paths carry ids; readers' addresses are nobody's business)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    host = server.server_address[0]
    shown = f"[{host}]" if ":" in host else host
    print(f"{label} on http://{shown}:{server.server_port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
