"""The source interface: where a woman reports, gets a codename and comes back.

No JavaScript anywhere; every page works in Tor Browser at "Safest".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request

from securedrop_like import web_errors
from securedrop_like.config import Config
from securedrop_like.derivation import Deriver
from securedrop_like.hosts import clearnet_host, init_host_check
from securedrop_like.i18n import init_i18n
from securedrop_like.logs import configure_logging
from securedrop_like.security import init_security
from securedrop_like.service import ReportService
from securedrop_like.sessions import (
    KEPT,
    LOGGED_IN,
    SEALED_KEY,
    UNPROTECTED,
    MemorySessionInterface,
    MemorySessionStore,
    SessionStore,
)
from securedrop_like.shared_sessions import ServerShared, SharedSessionStore

from . import channels, titles, uploads, views

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the views need; built once in :func:`create_app`, asked for via :func:`services`."""

    service: ReportService
    deriver: Deriver
    sessions: SessionStore


def protected_session(data: dict[str, Any]) -> int:
    """How much a flood of new sessions must spare this one: a log-in or a sealed
    secret (her key, her fresh codename) never goes while live; a session that
    only keeps files for a failed form gives way to a log-in (and such sessions
    may take only a share of the table, see uploads.keep_pending)."""
    if views.SOURCE_KEY in data or (set(data.get(SEALED_KEY) or {}) - {uploads.PENDING_NAMES}):
        return LOGGED_IN
    if uploads.PENDING_KEY in data:
        return KEPT
    return UNPROTECTED


def session_discarder(service: ReportService) -> Callable[[dict[str, Any]], None]:
    """What to do with an ended session's data: wipe the uploads it kept.

    The store's ``on_discard``; the server's master passes it to
    :meth:`~securedrop_like.shared_sessions.ServerShared.sweep_sessions` too.
    """

    def on_discard(data: dict[str, Any]) -> None:
        try:
            service.discard_uploads(uploads.pending_ids(data))
        except Exception:  # noqa: BLE001 - what is left, the sweep deletes later
            log.warning("kept files of an ended session are left for the sweep")

    return on_discard


def services() -> Services:
    return current_app.extensions["sesim"]  # type: ignore[no-any-return]


def create_app(
    config: Config,
    *,
    service: ReportService | None = None,
    shared: ServerShared | None = None,
    **overrides: Any,
) -> Flask:
    """Build the source app. ``shared`` comes from a server's master process
    (sessions and the derivation bound shared by its workers); without it,
    both live in this process alone."""
    configure_logging()
    app = Flask(__name__)
    app.config.update(
        SESIM=config,
        SECRET_KEY=config.read_secret(config.session_key_path),
        MAX_CONTENT_LENGTH=config.max_request_bytes,
        # Text fields are held in memory while parsing: bound them (4 bytes a character).
        MAX_FORM_MEMORY_SIZE=config.max_text_chars * 4 + 4096,
        MAX_FORM_PARTS=200,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.config.update(overrides)
    app.request_class = uploads.SourceRequest
    svc = service or ReportService.open(
        config,
        shared.writer_address if shared else None,
        shared.writer_authkey if shared else None,
    )

    on_discard = session_discarder(svc)
    idle = config.source_session_idle_minutes * 60
    absolute = config.source_session_absolute_minutes * 60
    clock = overrides.get("SESSION_CLOCK") or time.monotonic
    store: SessionStore
    if shared is not None:
        store = SharedSessionStore(shared.segment, idle, absolute, clock, on_discard)
    else:
        store = MemorySessionStore(idle, absolute, config.max_sessions, clock, on_discard)
    app.session_interface = MemorySessionInterface(
        store,
        app.config["SECRET_KEY"],
        protected_session,
        clearnet_host(config),
        # Kept files' ids stay readable: the master's sweep spares and wipes them.
        clear_keys=frozenset({uploads.PENDING_KEY}),
        # Her private key names her: one source has at most a few sessions.
        owner_name=views.PRIVATE_KEY,
    )
    # The slots are lock files in run/, shared by every process of the instance.
    deriver = Deriver(config)
    app.extensions["sesim"] = Services(svc, deriver, store)
    # No sweep here: a worker (re)starting must not delete another worker's
    # upload in flight or the files a live session keeps. The server's master
    # sweeps (service.UnclaimedSweeper), sparing what sessions refer to.

    init_i18n(app)
    init_security(app)
    init_host_check(app, "source")
    app.register_blueprint(views.bp)
    app.register_blueprint(channels.bp)
    titles.init_titles(app)
    web_errors.init_errors(app)
    app.teardown_request(lambda exc: uploads.discard_unclaimed(request))
    app.jinja_env.globals["config_"] = config
    return app
