"""The workstation's local web app: read cases, reply, draft public entries.

It runs on the reviewer's offline laptop, bound to 127.0.0.1 (server.py),
in ONE process that holds the unlocked key in memory (:class:`Workstation`).
The key is unlocked through the page (the passphrase is typed in a form,
used once, never stored or logged) and wiped by the lock button or after
``idle_minutes`` without a request. Only the browser that unlocked it may
use it: the unlock binds a random token to that browser's session cookie; any
other local client (another user of the laptop, a web page trying DNS
rebinding) sees the unlock page.

Every response carries the project's strict headers (CSP ``default-src
'none'`` with own styles and images, no-store, no referrer, no framing);
every POST carries a CSRF token; a Host other than 127.0.0.1/localhost/[::1]
is refused before anything runs. No JavaScript.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, g, redirect, request, session, url_for
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

from securedrop_like import web_errors
from securedrop_like.config import Config
from securedrop_like.hosts import init_host_check
from securedrop_like.i18n import init_i18n
from securedrop_like.logs import configure_logging
from securedrop_like.security import init_security

if TYPE_CHECKING:
    from .casestore import CaseStore
    from .keys import Unlocked

log = logging.getLogger(__name__)

EXTENSION = "sesim_workstation"
SESSION_OWNER = "ws_owner"
DEFAULT_IDLE_MINUTES = 15
MAX_UPLOAD = 2 * 1024 * 1024 * 1024  # an export bundle may carry many files
# Pages anyone on the loopback may see while the workstation is locked.
OPEN_ENDPOINTS = frozenset({"ws.unlock", "ws.unlock_form", "lang.switch", "static", "ws.staff_css"})


@dataclass
class ImportJob:
    """An import running in a background thread, shown by a progress page."""

    id: str
    name: str
    done: int = 0
    total: int = 0
    finished: bool = False
    error: str | None = None
    result: Any = None
    thread: threading.Thread | None = field(default=None, repr=False)


class Locked(Exception):
    """The workstation was locked while something was using the key."""


class Workstation:
    """The one process's state: the unlocked key, the open case store, imports."""

    def __init__(self, home: Path, idle_seconds: float, clock: Callable[[], float]) -> None:
        self.home = home
        self.idle_seconds = idle_seconds
        self.clock = clock
        self.guard = threading.RLock()
        self.unlocked: Unlocked | None = None
        self.store: CaseStore | None = None
        self.owner: str | None = None  # the token bound to the unlocking browser
        self.open_to_any = False  # created already unlocked (the demo): no owner
        self.last_seen = 0.0
        self.jobs: dict[str, ImportJob] = {}
        self.refused: dict[str, Exception] = {}  # files the sandbox would not render
        self.generation = 0  # bumped at each lock: a running import stops
        self._watch: threading.Thread | None = None

    @property
    def is_unlocked(self) -> bool:
        return self.unlocked is not None and self.store is not None

    def unlock(self, passphrase: str) -> str:
        """Unlock with the passphrase; the new owner token. Raises the keys
        module's WrongPassphrase (a WorkstationError) on a wrong one."""
        from .keys import unlock

        unlocked = unlock(self.home, passphrase)
        return self.adopt(unlocked)

    def adopt(self, unlocked: Unlocked, *, open_to_any: bool = False) -> str:
        from .casestore import CaseStore

        with self.guard:
            self.lock()
            try:
                self.store = CaseStore.open(self.home, unlocked)
            except BaseException:
                unlocked.wipe()
                raise
            self.unlocked = unlocked
            self.owner = secrets.token_urlsafe(32)
            self.open_to_any = open_to_any
            self.last_seen = self.clock()
            self._start_watch()
            return self.owner

    def lock(self) -> None:
        """Wipe the key and close the store (waits a little for a running import)."""
        with self.guard:
            self.generation += 1
            for job in list(self.jobs.values()):
                if job.thread is not None and job.thread.is_alive():
                    job.thread.join(timeout=30)
            self.jobs.clear()
            self.refused.clear()
            if self.store is not None:
                with contextlib.suppress(Exception):
                    self.store.close()
            if self.unlocked is not None:
                self.unlocked.wipe()
            self.store = None
            self.unlocked = None
            self.owner = None
            self.open_to_any = False

    def allowed(self, token: Any) -> bool:
        """Whether a request with this session token may use the unlocked key."""
        if not self.is_unlocked:
            return False
        if self.open_to_any:
            return True
        return (
            isinstance(token, str)
            and self.owner is not None
            and hmac.compare_digest(token.encode(), self.owner.encode())
        )

    def touch(self) -> None:
        self.last_seen = self.clock()

    def expire_if_idle(self) -> bool:
        """Lock if nothing came for ``idle_seconds``; True if it locked now."""
        with self.guard:
            if self.is_unlocked and self.clock() - self.last_seen > self.idle_seconds:
                if any(j.thread and j.thread.is_alive() for j in self.jobs.values()):
                    return False  # an import keeps it open; its page refreshes
                self.lock()
                return True
        return False

    def _start_watch(self) -> None:
        """A daemon thread that locks an idle workstation even if no request comes."""
        if self._watch is not None and self._watch.is_alive():
            return

        def watch() -> None:
            while True:
                time.sleep(min(30.0, max(1.0, self.idle_seconds / 4)))
                self.expire_if_idle()

        self._watch = threading.Thread(target=watch, name="workstation-idle", daemon=True)
        self._watch.start()

    def opened(self) -> tuple[CaseStore, Unlocked]:
        """The open store and the unlocked key; :class:`Locked` if locked meanwhile."""
        store, unlocked = self.store, self.unlocked
        if store is None or unlocked is None:
            raise Locked()
        return store, unlocked

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        store = self.store
        if store is None:
            raise Locked()
        with store.connection() as conn:
            yield conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        store = self.store
        if store is None:
            raise Locked()
        with store.transaction() as conn:
            yield conn


class RowIdConverter(BaseConverter):
    """A row id in a URL: 1 to 18 digits, so it always fits SQLite's 64-bit integer."""

    regex = r"[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


def workstation() -> Workstation:
    from flask import current_app

    ws: Workstation = current_app.extensions[EXTENSION]
    return ws


def _gate() -> Response | None:
    """Every page but the unlock page needs the key, unlocked by this browser."""
    ws = workstation()
    ws.expire_if_idle()
    if request.endpoint in OPEN_ENDPOINTS or request.endpoint is None:
        return None
    if not ws.allowed(session.get(SESSION_OWNER)):
        return redirect(url_for("ws.unlock_form"), code=303)
    ws.touch()
    g.unlocked = True
    return None


def create_app(
    home: Path,
    unlocked_or_none: Unlocked | None = None,
    *,
    idle_minutes: float = DEFAULT_IDLE_MINUTES,
    clock: Callable[[], float] = time.monotonic,
    **overrides: Any,
) -> Flask:
    """The workstation app for the workstation folder ``home``.

    With ``unlocked_or_none`` (the demo) it starts unlocked and open to any
    loopback client until locked; without, it starts locked.
    """
    configure_logging()
    app = Flask(__name__)
    app.config.update(
        SESIM=Config(home=Path(home)),
        SECRET_KEY=secrets.token_bytes(32),  # per process: a restart logs everyone out
        MAX_CONTENT_LENGTH=MAX_UPLOAD,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="sesim_workstation",
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.config.update(overrides)
    app.url_map.converters["rowid"] = RowIdConverter
    ws = Workstation(Path(home), idle_minutes * 60.0, clock)
    app.extensions[EXTENSION] = ws
    init_i18n(app)
    init_security(app)
    init_host_check(app, "staff")  # no onion configured: 127.0.0.1, localhost, [::1] only
    app.before_request(_gate)

    from . import views, views_cases, views_publish  # noqa: F401 - their routes join views.bp

    app.register_blueprint(views.bp)
    web_errors.init_errors(app)
    views.init_errors(app)
    if unlocked_or_none is not None:
        ws.adopt(unlocked_or_none, open_to_any=True)
    return app
