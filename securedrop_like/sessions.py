"""Server-side sessions held in memory only.

A source's session holds her source id and, while she is logged in, the
private key derived from her codename that opens the Legal Centre's replies.
Neither may touch disk, so sessions live in memory: the cookie carries only
a random, signed session id. A restart logs everyone out, which is the safe
failure. Two stores keep the same contract (:class:`SessionStore`): this
module's, for one process (tests, the CLI), and
:class:`securedrop_like.shared_sessions.SharedSessionStore`, in memory shared
by a server's worker processes.

Time here is ``time.monotonic``: it measures idle and absolute lifetimes
without ever recording a wall-clock time of anything a source did.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

COOKIE_NAME = "sesim_session"


class SessionStore(Protocol):
    """Where sessions live. Every method is safe to call from any thread.

    ``get`` returns the data of a live session (and counts the call as
    activity) or None if the id is unknown or expired; ``put`` stores data
    under an id from ``new_id`` and returns False if that id is no longer
    live; ``delete`` ends a session and passes its data to ``on_discard``
    (which wipes the uploads it kept); ``forget`` ends one without that, as
    its data moves to a new id; ``sweep`` ends every expired session.
    """

    on_discard: Callable[[dict[str, Any]], None] | None

    @property
    def capacity(self) -> int: ...
    def new_id(self) -> str: ...
    def get(self, sid: str) -> dict[str, Any] | None: ...
    def put(self, sid: str, data: dict[str, Any]) -> bool: ...
    def delete(self, sid: str) -> None: ...
    def forget(self, sid: str) -> None: ...
    def sweep(self) -> int: ...
    def live_data(self) -> list[dict[str, Any]]: ...
    def __len__(self) -> int: ...


@dataclass
class _Entry:
    data: dict[str, Any]
    created: float
    seen: float = field(default=0.0)


class MemorySessionStore:
    """A bounded, thread-safe map of session id → data with idle and absolute expiry."""

    def __init__(
        self,
        idle_seconds: float,
        absolute_seconds: float,
        capacity: int,
        clock: Callable[[], float] = time.monotonic,
        on_discard: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.idle = idle_seconds
        self.absolute = absolute_seconds
        self.capacity = capacity
        self.clock = clock
        self.on_discard = on_discard
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def new_id(self) -> str:
        """A fresh random id, reserved (with no data yet) until ``put``."""
        sid = secrets.token_urlsafe(32)
        self._store(sid, {}, create=True)
        return sid

    def _expired(self, entry: _Entry, now: float) -> bool:
        return now - entry.seen > self.idle or now - entry.created > self.absolute

    def get(self, sid: str) -> dict[str, Any] | None:
        now = self.clock()
        discarded = None
        with self._lock:
            entry = self._entries.get(sid)
            if entry is None:
                return None
            if self._expired(entry, now):
                del self._entries[sid]
                discarded = entry.data
            else:
                entry.seen = now
                self._entries.move_to_end(sid)
                return entry.data
        self._discard(discarded)
        return None

    def put(self, sid: str, data: dict[str, Any]) -> bool:
        return self._store(sid, data, create=False)

    def _store(self, sid: str, data: dict[str, Any], create: bool) -> bool:
        now = self.clock()
        evicted: list[dict[str, Any]] = []
        with self._lock:
            entry = self._entries.get(sid)
            if entry is None:
                if not create:
                    return False
                self._entries[sid] = _Entry(data, now, now)
            else:
                entry.data = data
                entry.seen = now
            self._entries.move_to_end(sid)
            # Oldest-used first: bounded memory whatever a crawler does.
            while len(self._entries) > self.capacity:
                evicted.append(self._entries.popitem(last=False)[1].data)
        for data_ in evicted:
            self._discard(data_)
        return True

    def delete(self, sid: str) -> None:
        with self._lock:
            entry = self._entries.pop(sid, None)
        if entry is not None:
            self._discard(entry.data)

    def forget(self, sid: str) -> None:
        """Drop a session id without discarding its data (it moves to a new id)."""
        with self._lock:
            self._entries.pop(sid, None)

    def sweep(self) -> int:
        """Drop every expired session; returns how many."""
        now = self.clock()
        with self._lock:
            dead = [sid for sid, e in self._entries.items() if self._expired(e, now)]
            gone = [self._entries.pop(sid).data for sid in dead]
        for data in gone:
            self._discard(data)
        return len(gone)

    def live_data(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e.data for e in self._entries.values()]

    def _discard(self, data: dict[str, Any] | None) -> None:
        if data is not None and self.on_discard is not None:
            self.on_discard(data)


class ServerSession(CallbackDict[str, Any], SessionMixin):
    def __init__(self, sid: str | None, data: dict[str, Any] | None = None) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.sid = sid
        self.modified = False
        self.rotate = False
        self.ended = False
        self.kept: dict[str, Any] = {}

    def regenerate(self) -> None:
        """Give the session a new id (on log-in: no session fixation)."""
        self.rotate = True
        self.modified = True

    def end(self, keep: dict[str, Any] | None = None) -> None:
        """Forget everything, on the server too (log-out, withdrawal).

        ``keep`` (such as her language) starts a fresh session under a new id.
        """
        self.clear()
        self.ended = True
        self.modified = True
        self.kept = dict(keep or {})


class MemorySessionInterface(SessionInterface):
    """Flask session interface over :class:`MemorySessionStore`."""

    def __init__(self, store: SessionStore, secret: bytes) -> None:
        self.store = store
        # The cookie is "<id>.<HMAC-SHA256(id)>": the id is random, so all the
        # MAC must do is stop anyone choosing one; a keyed hash per purpose.
        self._mac_key = hmac.new(secret, b"sesim-session-id", hashlib.sha256).digest()

    def _mac(self, sid: str) -> str:
        return hmac.new(self._mac_key, sid.encode(), hashlib.sha256).hexdigest()

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        raw = request.cookies.get(COOKIE_NAME)
        if raw and len(raw) < 200:
            sid: str | None
            sid, _, mac = raw.rpartition(".")
            if not sid or not hmac.compare_digest(mac, self._mac(sid)):
                sid = None
            if sid:
                data = self.store.get(sid)
                if data is not None:
                    return ServerSession(sid, data)
        return ServerSession(None)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)  # noqa: S101 - our own interface
        if session.ended or (not session and session.sid is not None):
            if session.sid:
                self.store.delete(session.sid)
            if session.ended and session.kept:
                fresh = ServerSession(None, session.kept)
                fresh.modified = True
                self.save_session(app, fresh, response)
            elif session.sid or session.ended:
                response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Strict")
            return
        if not session.modified and not session.rotate:
            return
        if not session:
            return
        if session.rotate and session.sid:
            with_data = dict(session)
            self.store.forget(session.sid)
            session.sid = None
            session.update(with_data)
        if session.sid is not None and self.store.put(session.sid, dict(session)):
            # Same id: the browser already holds the cookie; no need to re-sign it.
            return
        session.sid = self.store.new_id()
        self.store.put(session.sid, dict(session))
        cookie = f"{session.sid}.{self._mac(session.sid)}"
        # No Expires/Max-Age: a browser-session cookie that dies with the
        # browser (Tor Browser forgets it at "New Identity").
        response.set_cookie(
            COOKIE_NAME,
            cookie,
            httponly=True,
            samesite="Strict",
            secure=app.config.get("SESSION_COOKIE_SECURE", False),
            path="/",
        )
