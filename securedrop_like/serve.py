"""Serving an app with gunicorn, embedded (no shell command line to get wrong).

One process with many threads: a source's session, and the key that opens
her replies, live in that process's memory only (see sessions.py), and the
group-commit writer batches every thread's writes. Argon2id and libsodium
release the GIL, so the threads still use both cores for the heavy work.
The app is built inside the worker (no preload) so that its writer thread is
not lost to a fork.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


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


def gunicorn_options(host: str, port: int, threads: int = 16) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        # Uploads over Tor are slow; the worker heartbeat must not kill them.
        "timeout": 900,
        "graceful_timeout": 10,
        "keepalive": 5,
        # No access log: it would record addresses, paths and exact times.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": False,
        "proc_name": "sesim",
        "forwarded_allow_ips": "",
        "proxy_allow_ips": "",
    }


def serve(factory: Callable[[], Any], host: str, port: int, threads: int = 16) -> None:
    EmbeddedServer(factory, gunicorn_options(host, port, threads)).run()
