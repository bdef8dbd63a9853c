"""``sesim serve intake``: one process — werkzeug's threaded server (no access log,
timeouts: ``securedrop_like.serve.make_quiet_server``) answering the providers'
webhooks, and the courier's threads (the joiner, the outbox delivery, the
channel modules' loops such as the IMAP poller).

Like the other servers it turns core dumps off first (it holds the channel key,
which opens every sealed address), refuses a weak Argon2id, and logs through the
formatter that keeps addresses and times out. Its store is the instance's, with
the in-process group-commit writer; SQLite's locking orders it against the other
servers' writers. SIGTERM and Ctrl-C stop it cleanly: the server stops taking
requests, the courier's loops end, the store closes.

Put it behind a TLS-terminating reverse proxy (the providers call https://); it
listens on 127.0.0.1 by default.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from securedrop_like.config import Config, check_kdf, warn_if_weak_kdf
from securedrop_like.hardening import harden_process
from securedrop_like.intake_store import IntakeStore
from securedrop_like.logs import configure_logging
from securedrop_like.serve import QuietRequestHandler, make_quiet_server, serve_in_process

from .app import create_app
from .base import Intake
from .courier import make_courier
from .settings import load_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8084


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # serve_in_process ends on it, as on Ctrl-C


def run(
    config: Config,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    handler: type[QuietRequestHandler] = QuietRequestHandler,
    courier_options: dict[str, Any] | None = None,
    started: Callable[[Any], None] | None = None,
) -> None:
    """Serve the intake app and run the courier until SIGTERM or Ctrl-C.
    Raises ConfigError (bad settings, missing secret or key) before listening."""
    harden_process()  # before anything secret is read
    check_kdf(config)
    configure_logging()
    warn_if_weak_kdf()
    checked = load_settings(config)
    from securedrop_like.channels import channel_private_key

    channel_key = channel_private_key(config)
    store = IntakeStore.open(config)
    try:
        ctx = Intake(config, store)
        app = create_app(config, ctx, settings=checked)
        courier = make_courier(
            ctx,
            app,
            channel_key,
            checked.modules,
            checked.join_window_seconds,
            **{"outbox_max_days": checked.outbox_max_days, **(courier_options or {})},
        )
        server = make_quiet_server(host, port, app, handler)
        previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
        courier.start()
        try:
            if started is not None:
                started(server)
            serve_in_process(server, "Intake")
        finally:
            courier.stop()
            signal.signal(signal.SIGTERM, previous)
    finally:
        store.close()
