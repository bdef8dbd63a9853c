"""The Legal Centre's staff interface: log in with 2FA, see who wrote, by designation.

It never holds a key that opens a report: there is no report text to show,
only metadata (designations, days, sizes, flags).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask

from securedrop_like import designations, web_errors
from securedrop_like.config import Config
from securedrop_like.db import Database
from securedrop_like.hosts import init_host_check
from securedrop_like.i18n import current_language, init_i18n
from securedrop_like.logs import configure_logging
from securedrop_like.security import init_security
from securedrop_like.serve import Task
from securedrop_like.service import ReportService
from securedrop_like.sessions import (
    LOGGED_IN,
    UNPROTECTED,
    MemorySessionInterface,
    MemorySessionStore,
    SessionStore,
)
from securedrop_like.shared_sessions import ServerShared, SharedSessionStore

from . import actions, admin, auth, inbox_views, replies
from .accounts import StaffAccounts
from .services import StaffServices


def _designation_label(designation: str) -> str:
    return designations.label(designation, current_language())


def create_app(
    config: Config,
    *,
    shared: ServerShared | None = None,
    accounts: StaffAccounts | None = None,
    **overrides: Any,
) -> Flask:
    configure_logging()
    app = Flask(__name__)
    app.config.update(
        SESIM=config,
        SECRET_KEY=config.read_secret(config.session_key_path),
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.config.update(overrides)
    app.request_class = replies.SpoolingRequest
    replies.prepare_spool(config.home)
    db = Database.for_config(config)
    idle, absolute = _limits(config)
    clock = overrides.get("SESSION_CLOCK") or time.monotonic
    store: SessionStore
    if shared is not None:
        store = SharedSessionStore(shared.segment, idle, absolute, clock)
    else:
        store = MemorySessionStore(idle, absolute, config.max_sessions, clock)
    # A logged-in staff session is never evicted by a flood of new ones. In the
    # shared table every key of a staff session is sealed under her cookie's key.
    app.session_interface = MemorySessionInterface(
        store,
        app.config["SECRET_KEY"],
        lambda data: LOGGED_IN if auth.STAFF_ID in data else UNPROTECTED,
    )
    reports = ReportService.open(
        config,
        shared.writer_address if shared else None,
        shared.writer_authkey if shared else None,
    )
    app.extensions["sesim_staff"] = StaffServices(db, accounts or StaffAccounts(db), store, reports)
    init_i18n(app)
    init_security(app)
    init_host_check(app, "staff")
    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox_views.bp)
    app.register_blueprint(actions.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(replies.bp)
    web_errors.init_errors(app)
    auth.init_errors(app)
    app.jinja_env.globals["config_"] = config
    app.jinja_env.globals["designation_label"] = _designation_label
    return app


STAFF_SESSION_SWEEP_SECONDS = 30.0


def _limits(config: Config) -> tuple[float, float]:
    """A staff session's idle and absolute limits, in seconds."""
    return config.staff_session_idle_minutes * 60.0, config.staff_session_absolute_minutes * 60.0


def server_tasks(config: Config) -> list[Task]:
    """The master's periodic tasks for a staff server: expired sessions are
    zeroed within a minute, not when their slot happens to be reused."""
    idle, absolute = _limits(config)

    def sessions_task(shared: ServerShared) -> None:
        shared.sweep_sessions(idle, absolute)

    return [(STAFF_SESSION_SWEEP_SECONDS, sessions_task)]
