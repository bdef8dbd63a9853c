"""Serving an app with gunicorn, embedded (no shell command line to get wrong).

Several worker processes (one per core) with many threads each. A source's
session, and the key that opens her replies, live in memory the master maps
before forking and every worker shares (see shared_sessions.py); nothing of
it touches disk. The bound on concurrent Argon2id derivations is a semaphore
shared the same way. Every write goes to one writer process, started before
the workers, which commits what all of them send together
(writer_process.py). Each worker builds its app after the fork (no preload).
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from .config import Config
from .gunicorn_worker import HeadFirstWorker, QuietLogger
from .logs import configure_logging
from .shared_sessions import ServerShared
from .writer_process import WriterProcess


class EmbeddedServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.factory()


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
) -> None:
    """Run ``factory(shared)`` in each worker; blocks until the server stops."""
    configure_logging()  # before the writer process forks: it logs the same way
    writer = WriterProcess(config)
    writer.start()
    atexit.register(writer.stop)
    shared = ServerShared.create(
        config.max_sessions, config.max_concurrent_derivations, writer.address, writer.authkey
    )
    options = gunicorn_options(
        host, port, threads or config.server_threads, config.server_head_timeout_seconds
    )
    options["workers"] = workers or config.workers
    try:
        EmbeddedServer(lambda: factory(shared), options).run()
    finally:
        writer.stop()
