"""Server-side sessions held in memory only.

A source's session holds her source id and, while she is logged in, the
private key derived from her codename that opens the Legal Centre's replies.
Neither may touch disk, so sessions live in memory: the cookie carries a
random, signed session id. A restart logs everyone out, which is the safe
failure.

Secrets are kept *sealed* (:meth:`ServerSession.seal`): encrypted under a
random 32-byte key that only her cookie carries, new with every session id
(so new at every log-in). The server holds the ciphertext, her browser the
key; a memory image without her cookie opens nothing.

Sessions that matter (a log-in, a fresh codename, kept files: whatever the
app's ``protected`` test says) are *protected*: a new session evicts only
unprotected ones, so a flood of anonymous requests logs nobody out. Views
that need no state create no session at all.

Two stores keep the same contract (:class:`SessionStore`): this module's,
for one process (tests, the CLI), and
:class:`securedrop_like.shared_sessions.SharedSessionStore`, in memory shared
by a server's worker processes.

Time here is ``time.monotonic``: it measures idle and absolute lifetimes
without ever recording a wall-clock time of anything a source did.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask, Request, Response, request, session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from crypto import SECRET_KEY_BYTES, CryptoError, new_secret_key, open_secret, seal_secret

from .errors import Busy
from .hosts import host_name

COOKIE_NAME = "sesim_session"
# On the https clearnet mirror: only ever sent over https, to this host, path /.
SECURE_COOKIE_NAME = "__Host-sesim_session"
SEALED_KEY = "_sealed"


class SessionsFull(Exception):
    """Every session in the store is protected: a new one cannot be stored."""


class SessionStore(Protocol):
    """Where sessions live. Every method is safe to call from any thread.

    ``new_id`` reserves an id for a new session, evicting the least recently
    used unprotected session if the store is full, and raises
    :class:`SessionsFull` if every session in it is protected; ``get``
    returns the data of a live session (and counts the call as activity) or
    None if the id is unknown or expired; ``put`` stores data under an id
    from ``new_id`` (``protected`` says whether eviction must spare it) and
    returns False if that id is no longer live; ``delete`` ends a session and
    passes its data to ``on_discard`` (which wipes the uploads it kept);
    ``forget`` ends one without that, as its data moves to a new id;
    ``sweep`` ends every expired session and wipes what it held.
    """

    on_discard: Callable[[dict[str, Any]], None] | None

    @property
    def capacity(self) -> int: ...
    def new_id(self, protected: bool = False) -> str: ...
    def get(self, sid: str) -> dict[str, Any] | None: ...
    def put(self, sid: str, data: dict[str, Any], protected: bool = False) -> bool: ...
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
    protected: bool = False


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

    def new_id(self, protected: bool = False) -> str:
        """A fresh random id, reserved (with no data yet) until ``put``."""
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        evicted = None
        with self._lock:
            if len(self._entries) >= self.capacity:
                victim = self._victim(now)
                if victim is None:
                    raise SessionsFull()
                evicted = self._entries.pop(victim).data
            self._entries[sid] = _Entry({}, now, now, protected)
        self._discard(evicted)
        return sid

    def _victim(self, now: float) -> str | None:
        """Oldest-used first, sparing live protected sessions (lock held)."""
        for sid, entry in self._entries.items():
            if not entry.protected or self._expired(entry, now):
                return sid
        return None

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

    def put(self, sid: str, data: dict[str, Any], protected: bool = False) -> bool:
        now = self.clock()
        with self._lock:
            entry = self._entries.get(sid)
            if entry is None:
                return False
            entry.data = data
            entry.seen = now
            entry.protected = protected
            self._entries.move_to_end(sid)
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
    """One request's view of a session. Besides the dict, it holds the cookie's
    key (``cookie_key``: her browser's half, never stored on the server)."""

    def __init__(
        self,
        sid: str | None,
        data: dict[str, Any] | None = None,
        cookie_key: bytes | None = None,
        store: SessionStore | None = None,
    ) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.sid = sid
        self.modified = False
        self.rotate = False
        self.ended = False
        self.kept: dict[str, Any] = {}
        # The request came with a genuine cookie carrying this key (its slot may be gone).
        self.from_cookie = cookie_key is not None
        self.cookie_key = cookie_key or new_secret_key()
        self.new_sid: str | None = None  # reserved by regenerate()
        self._store = store

    # -- ids ------------------------------------------------------------------------------
    def regenerate(self) -> None:
        """Give the session a new id and a new cookie key (on log-in: no session
        fixation, and nothing sealed before opens after).

        The new id is reserved at once as a protected session, before the view
        does anything that cannot be undone (such as storing her report), so
        that it can always be kept: :class:`~securedrop_like.errors.Busy` if
        every session slot holds a protected session.
        """
        if self._store is not None:
            if self.new_sid is not None:
                self._store.forget(self.new_sid)
                self.new_sid = None
            try:
                self.new_sid = self._store.new_id(protected=True)
            except SessionsFull:
                raise Busy(retry_after=30) from None
        old_key, self.cookie_key = self.cookie_key, new_secret_key()
        sealed = self.get(SEALED_KEY)
        if sealed:
            self[SEALED_KEY] = {
                name: _b64(seal_secret(self.cookie_key, plain, name.encode()))
                for name, plain in _open_all(old_key, sealed).items()
            }
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
        self.cookie_key = new_secret_key()

    # -- sealed secrets -------------------------------------------------------------------
    def seal(self, name: str, value: bytes) -> None:
        """Keep ``value`` in the session encrypted under the cookie's key."""
        sealed = dict(self.get(SEALED_KEY) or {})
        sealed[name] = _b64(seal_secret(self.cookie_key, value, name.encode()))
        self[SEALED_KEY] = sealed

    def unseal(self, name: str) -> bytes | None:
        """The value sealed under ``name``; None if there is none or it does not
        open with this request's cookie."""
        text = (self.get(SEALED_KEY) or {}).get(name)
        if not isinstance(text, str):
            return None
        try:
            return open_secret(self.cookie_key, _unb64(text), name.encode())
        except (CryptoError, ValueError):
            return None

    def has_sealed(self, name: str) -> bool:
        return name in (self.get(SEALED_KEY) or {})

    def drop_sealed(self, name: str) -> None:
        """Forget a sealed value (the slot's bytes are overwritten when it is saved)."""
        sealed = self.get(SEALED_KEY) or {}
        if name not in sealed:
            return  # untouched: a read-only page writes no session
        rest = {k: v for k, v in sealed.items() if k != name}
        if rest:
            self[SEALED_KEY] = rest
        else:
            del self[SEALED_KEY]

    # -- what a CSRF token is bound to ------------------------------------------------------
    def csrf_binding(self) -> bytes | None:
        """A value only this session's browser can present again (derived from the
        cookie key), or None for a request that has, and will get, no session."""
        live = bool(self.kept) if self.ended else (self.from_cookie or bool(self) or self.rotate)
        if not live:
            return None
        return hashlib.sha256(b"sesim csrf binding\0" + self.cookie_key).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _open_all(key: bytes, sealed: dict[str, Any]) -> dict[str, bytes]:
    opened = {}
    for name, text in sealed.items():
        try:
            opened[name] = open_secret(key, _unb64(str(text)), name.encode())
        except (CryptoError, ValueError):
            continue  # under another key: nothing to carry over
    return opened


def server_session() -> ServerSession:
    """Flask's ``session`` with its type: for views that seal or rotate."""
    current = session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(current, ServerSession):  # pragma: no cover - our own interface
        raise TypeError("the app does not use MemorySessionInterface")
    return current


class MemorySessionInterface(SessionInterface):
    """Flask session interface over a :class:`SessionStore`.

    ``protected(data)`` says which sessions eviction must spare (by default
    none). ``mirror_host`` is the https clearnet mirror's host name: requests
    to it get the ``__Host-`` cookie with ``Secure``.
    """

    def __init__(
        self,
        store: SessionStore,
        secret: bytes,
        protected: Callable[[dict[str, Any]], bool] | None = None,
        mirror_host: str = "",
    ) -> None:
        self.store = store
        self.protected = protected or (lambda data: False)
        self.mirror_host = mirror_host
        # The cookie is "<id>.<key>.<HMAC-SHA256(id.key)>": the id and key are
        # random, so all the MAC must do is stop anyone choosing or changing
        # them; a keyed hash per purpose.
        self._mac_key = hmac.new(secret, b"sesim-session-id", hashlib.sha256).digest()

    def _mac(self, signed: str) -> str:
        return hmac.new(self._mac_key, signed.encode(), hashlib.sha256).hexdigest()

    def on_mirror(self, request: Request) -> bool:
        return bool(self.mirror_host) and host_name(request.host) == self.mirror_host

    def _cookie(self, app: Flask, request: Request) -> tuple[str, bool]:
        """The cookie's name and whether it is Secure, for this request."""
        if self.on_mirror(request):
            return SECURE_COOKIE_NAME, True
        return COOKIE_NAME, bool(app.config.get("SESSION_COOKIE_SECURE", False))

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        raw = request.cookies.get(self._cookie(app, request)[0])
        # Only ASCII: a crafted cookie must be no session, never a 500
        # (compare_digest refuses non-ASCII str, and a surrogate cannot encode).
        if raw and len(raw) < 300 and raw.isascii():
            signed, _, mac = raw.rpartition(".")
            sid, _, key_text = signed.rpartition(".")
            key = b""
            if sid and hmac.compare_digest(mac.encode(), self._mac(signed).encode()):
                try:
                    key = _unb64(key_text)
                except ValueError:
                    key = b""
            if len(key) == SECRET_KEY_BYTES:
                data = self.store.get(sid)
                if data is not None:
                    return ServerSession(sid, data, key, self.store)
                return ServerSession(None, None, key, self.store)
        return ServerSession(None, store=self.store)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)  # noqa: S101 - our own interface
        if session.ended or not session:
            for sid in (session.sid, session.new_sid):
                if sid:
                    self.store.delete(sid)
            if session.ended and session.kept:
                fresh = ServerSession(None, session.kept, session.cookie_key, self.store)
                if self._store_new(app, fresh, response):
                    return
            if session.sid or session.ended:
                self._delete_cookie(app, response)
            return
        if not session.modified and not session.rotate:
            return
        data = dict(session)
        protected = self.protected(data)
        if session.rotate:
            if session.sid:
                self.store.forget(session.sid)
            session.sid, session.new_sid = session.new_sid, None
            if session.sid is not None and self.store.put(session.sid, data, protected):
                self._set_cookie(app, session, response)
                return
            session.sid = None
        elif session.sid is not None and self.store.put(session.sid, data, protected):
            # Same id: the browser already holds the cookie; no need to re-sign it.
            return
        if not self._store_new(app, session, response) and session.from_cookie:
            self._delete_cookie(app, response)

    def _store_new(self, app: Flask, session: ServerSession, response: Response) -> bool:
        """Store a session under a new id and send its cookie; False if every slot
        is protected (a light session is then simply not kept)."""
        data = dict(session)
        protected = self.protected(data)
        try:
            session.sid = self.store.new_id(protected)
        except SessionsFull:
            return False
        if not self.store.put(session.sid, data, protected):  # pragma: no cover - evicted at once
            return False
        self._set_cookie(app, session, response)
        return True

    def _set_cookie(self, app: Flask, session: ServerSession, response: Response) -> None:
        assert session.sid is not None  # noqa: S101 - set just before
        name, secure = self._cookie(app, request)
        signed = f"{session.sid}.{_b64(session.cookie_key)}"
        cookie = f"{signed}.{self._mac(signed)}"
        # No Expires/Max-Age: a browser-session cookie that dies with the
        # browser (Tor Browser forgets it at "New Identity").
        response.set_cookie(name, cookie, httponly=True, samesite="Strict", secure=secure, path="/")

    def _delete_cookie(self, app: Flask, response: Response) -> None:
        name, secure = self._cookie(app, request)
        response.delete_cookie(name, path="/", httponly=True, samesite="Strict", secure=secure)
