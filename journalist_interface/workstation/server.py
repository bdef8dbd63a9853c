"""Serve the workstation app on the loopback interface, and nowhere else.

One process, a few threads: the unlocked key lives in this process's memory
only (it is never written anywhere, so it cannot be shared with a second
worker, and it dies with the process). Core dumps are turned off first.

``run`` refuses any host that is not a loopback address before it opens a
socket: the workstation reads decrypted reports, and a port reachable from a
network would publish them.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer

from securedrop_like.hardening import harden_process
from securedrop_like.serve import QuietRequestHandler, QuietServerMixin, serve_in_process

from .app import DEFAULT_IDLE_MINUTES, create_app
from .keys import Unlocked, key_info

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8082
THREADS = 4  # a pool: each thread keeps one case-store connection, so they stay few


class NotLoopback(ValueError):
    """The host asked for is not a loopback address."""


def check_host(host: str) -> str:
    """The host, if it is a loopback address (127.0.0.0/8, ::1 or localhost);
    else :class:`NotLoopback` with a message for the administrator."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        raise NotLoopback(
            f"--host {host!r} is not an IP address: the workstation only listens on "
            "127.0.0.1 (or another loopback address), never on a network."
        ) from None
    if not address.is_loopback:
        raise NotLoopback(
            f"--host {host} is not a loopback address: the workstation only listens on "
            "127.0.0.1, never on a network (it shows decrypted reports)."
        )
    return str(address)


class PooledServer(QuietServerMixin, BaseWSGIServer):
    """Werkzeug's server with a fixed pool of threads (not one new thread per request:
    each thread opens its own case-store connection, kept until the lock); quiet and with
    timeouts (``securedrop_like.serve.QuietRequestHandler``)."""

    def __init__(self, host: str, port: int, app: Any, threads: int = THREADS) -> None:
        super().__init__(host, port, app, handler=QuietRequestHandler)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="workstation")

    def process_request(self, request: Any, client_address: Any) -> None:
        self.pool.submit(self._process, request, client_address)

    def _process(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def make_workstation_server(app: Any, host: str, port: int) -> PooledServer:
    """The server ``run`` uses (tests start the same one); refuses a non-loopback host."""
    return PooledServer(check_host(host), port, app)


def run(
    home: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    idle_minutes: float = DEFAULT_IDLE_MINUTES,
    unlocked: Unlocked | None = None,
) -> None:
    """Serve the workstation of ``home`` on ``host:port`` until interrupted.

    It starts locked (the reviewer unlocks it in the page); ``unlocked`` (the demo
    only) starts it unlocked and open to any loopback browser until Lock.

    Raises :class:`NotLoopback` before binding anything if ``host`` is not loopback,
    and the keys module's WorkstationError if ``home`` is no workstation home.
    """
    bind = check_host(host)
    key_info(home)  # a folder that is no workstation: say so now, not on the unlock page
    harden_process()
    app = create_app(Path(home), unlocked, idle_minutes=idle_minutes)
    try:
        serve_in_process(make_workstation_server(app, bind, port), "Workstation")
    finally:
        app.extensions["sesim_workstation"].lock()
