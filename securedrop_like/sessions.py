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

Sessions that matter are *protected*, in two ranks (whatever the app's
``protected`` test says): :data:`LOGGED_IN` (a log-in, a fresh codename) and
:data:`KEPT` (only files kept for a failed form). A new session evicts the
least recently used unprotected one; a new log-in may also evict the least
recently used session that only keeps files; so a flood of anonymous
requests logs nobody out, and a flood of failed forms keeps nobody out.
Sessions that only keep files may take at most a quarter of the store
(:meth:`SessionStore.reserve` says when there is no room: her files are then
not kept and she is told). One source has at most :data:`PER_OWNER`
sessions: a new log-in of hers ends her least recently used one. Views that
need no state create no session at all.

The store never holds her source id or any other key in the clear: the
interface seals everything but the keys the server itself must read (the
ids of kept files) under the cookie's key when it stores a session, and
opens it when her next request comes (:class:`MemorySessionInterface`). The
owner of a session is known to the store only as a keyed hash of the secret
her codename gives (her private key), which nothing on the server can
compute without her codename.

Two stores keep the same contract (:class:`SessionStore`): this module's,
for one process (tests, the CLI), and
:class:`securedrop_like.shared_sessions.SharedSessionStore`, in memory shared
by a server's worker processes.

Time here is ``time.monotonic``, and a store keeps it only rounded down to
:func:`time_bucket` (5 minutes for the source's 30-minute idle limit): a
memory image converts a monotonic time to wall-clock time, so nothing finer
than the bucket is kept. A session may therefore end up to one bucket before
its idle or absolute limit, never after.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
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
# At rest, the session's keys other than the interface's clear keys are sealed
# under this name (see MemorySessionInterface).
AT_REST_NAME = "_data"
AT_REST_PAD = 512  # the sealed value's plaintext is padded to a multiple of this

# How much a session matters: eviction spares the higher ranks (see the module docstring).
UNPROTECTED, KEPT, LOGGED_IN = 0, 1, 2
PER_OWNER = 3  # live sessions of one source; a new log-in ends her least recently used one
WEAK_SHARE = 4  # sessions that only keep files: at most 1/WEAK_SHARE of the store
TIME_BUCKET_SECONDS = 300.0


def rank(protected: bool | int) -> int:
    """A protection rank from a ``protected`` test's answer (True: a log-in)."""
    if protected is True:
        return LOGGED_IN
    return max(UNPROTECTED, min(LOGGED_IN, int(protected)))


def time_bucket(idle_seconds: float) -> float:
    """The granularity a store keeps times at: 5 minutes, or a sixth of a short idle limit."""
    return min(TIME_BUCKET_SECONDS, max(idle_seconds / 6, 1e-3))


def coarse(t: float, bucket: float) -> float:
    """``t`` rounded down to a multiple of ``bucket``."""
    return math.floor(t / bucket) * bucket


def weak_cap(capacity: int) -> int:
    return max(1, capacity // WEAK_SHARE)


class SessionsFull(Exception):
    """Every session in the store is protected: a new one cannot be stored."""


class SessionStore(Protocol):
    """Where sessions live. Every method is safe to call from any thread.

    ``new_id`` reserves an id for a new session of rank ``protected``
    (:data:`UNPROTECTED`, :data:`KEPT`, :data:`LOGGED_IN`; True means a
    log-in), evicting the least recently used unprotected session if the
    store is full (for a log-in, else the least recently used :data:`KEPT`
    one), and raises :class:`SessionsFull` if there is no room (for a
    :data:`KEPT` one, also when such sessions already take their share);
    ``reserve`` raises a live session's rank the same way (False if there is
    no room or the id is gone); ``get`` returns the data of a live session
    (and counts the call as activity) or None if the id is unknown or
    expired; ``put`` stores data under an id from ``new_id`` and returns
    False if that id is no longer live; with ``owner`` (a keyed hash naming
    her, given at log-in) it ends her least recently used sessions beyond
    :data:`PER_OWNER`; ``delete`` ends a session and passes its data to
    ``on_discard`` (which wipes the uploads it kept); ``forget`` ends one
    without that, as its data moves to a new id, and says whether it was
    live; ``sweep`` ends every expired session and wipes what it held.
    ``seals_at_rest``: the interface seals the data it stores (see
    :class:`MemorySessionInterface`).
    """

    on_discard: Callable[[dict[str, Any]], None] | None
    seals_at_rest: bool

    @property
    def capacity(self) -> int: ...
    def new_id(self, protected: bool | int = False, replacing: str | None = None) -> str: ...
    def reserve(self, sid: str, protected: bool | int) -> bool: ...
    def get(self, sid: str) -> dict[str, Any] | None: ...
    def put(
        self,
        sid: str,
        data: dict[str, Any],
        protected: bool | int = False,
        owner: bytes | None = None,
    ) -> bool: ...
    def delete(self, sid: str) -> None: ...
    def forget(self, sid: str) -> bool: ...
    def sweep(self) -> int: ...
    def live_data(self) -> list[dict[str, Any]]: ...
    def __len__(self) -> int: ...


@dataclass
class _Entry:
    data: dict[str, Any]
    created: float
    seen: float = field(default=0.0)
    protected: int = UNPROTECTED
    owner: bytes = b""


class MemorySessionStore:
    """A bounded, thread-safe map of session id → data with idle and absolute expiry.

    For one process (tests, the CLI): it holds the sessions as Python objects,
    so the interface does not seal them at rest (``seals_at_rest``); a
    server's workers share :class:`~securedrop_like.shared_sessions.SharedSessionStore`.
    """

    seals_at_rest = False

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
        self.bucket = time_bucket(idle_seconds)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _now(self) -> float:
        return self.clock()  # exact for the checks; kept only coarse

    def new_id(self, protected: bool | int = False, replacing: str | None = None) -> str:
        """A fresh random id, reserved (with no data yet) until ``put``. If the
        session ``replacing`` (whose data moves to the new id) is evicted for it,
        its data is not discarded."""
        level = rank(protected)
        sid = secrets.token_urlsafe(32)
        now = self._now()
        stamp = coarse(now, self.bucket)
        evicted = None
        with self._lock:
            if level == KEPT and not self._weak_room(now):
                raise SessionsFull()
            if len(self._entries) >= self.capacity:
                victim = self._victim(now, level)
                if victim is None:
                    raise SessionsFull()
                evicted = self._entries.pop(victim).data
                if victim == replacing:
                    evicted = None
            self._entries[sid] = _Entry({}, stamp, stamp, level)
        self._discard(evicted)
        return sid

    def _weak_room(self, now: float) -> bool:
        weak = sum(
            1 for e in self._entries.values() if e.protected == KEPT and not self._expired(e, now)
        )
        return weak < weak_cap(self.capacity)

    def reserve(self, sid: str, protected: bool | int) -> bool:
        level = rank(protected)
        now = self._now()
        with self._lock:
            entry = self._entries.get(sid)
            if entry is None or self._expired(entry, now):
                return False
            if entry.protected >= level:
                return True
            if level == KEPT and not self._weak_room(now):
                return False
            entry.protected = level
        return True

    def _victim(self, now: float, level: int) -> str | None:
        """Oldest-used first: an expired or unprotected session, else (for a log-in)
        one that only keeps files (lock held)."""
        weak = None
        for sid, entry in self._entries.items():
            if not entry.protected or self._expired(entry, now):
                return sid
            if weak is None and entry.protected == KEPT:
                weak = sid
        return weak if level == LOGGED_IN else None

    def _expired(self, entry: _Entry, now: float) -> bool:
        return now - entry.seen > self.idle or now - entry.created > self.absolute

    def get(self, sid: str) -> dict[str, Any] | None:
        now = self._now()
        discarded = None
        with self._lock:
            entry = self._entries.get(sid)
            if entry is None:
                return None
            if self._expired(entry, now):
                del self._entries[sid]
                discarded = entry.data
            else:
                entry.seen = coarse(now, self.bucket)
                self._entries.move_to_end(sid)
                return entry.data
        self._discard(discarded)
        return None

    def put(
        self,
        sid: str,
        data: dict[str, Any],
        protected: bool | int = False,
        owner: bytes | None = None,
    ) -> bool:
        now = self._now()
        evicted: list[dict[str, Any]] = []
        with self._lock:
            entry = self._entries.get(sid)
            if entry is None:
                return False
            if self._expired(entry, now):
                evicted.append(self._entries.pop(sid).data)
            else:
                entry.data = data
                entry.seen = coarse(now, self.bucket)
                entry.protected = rank(protected)
                self._entries.move_to_end(sid)
                if owner:
                    entry.owner = owner
                    hers = [k for k, e in self._entries.items() if e.owner == owner and k != sid]
                    for other in hers[: max(0, len(hers) - (PER_OWNER - 1))]:
                        evicted.append(self._entries.pop(other).data)
        for gone in evicted:
            self._discard(gone)
        return sid in self._entries

    def delete(self, sid: str) -> None:
        with self._lock:
            entry = self._entries.pop(sid, None)
        if entry is not None:
            self._discard(entry.data)

    def forget(self, sid: str) -> bool:
        """Drop a session id without discarding its data (it moves to a new id);
        whether it was live."""
        now = self._now()
        with self._lock:
            entry = self._entries.pop(sid, None)
        if entry is not None and self._expired(entry, now):
            self._discard(entry.data)
            return False
        return entry is not None

    def sweep(self) -> int:
        """Drop every expired session; returns how many."""
        now = self._now()
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
        self.new_sid: str | None = None  # reserved by regenerate() or make_room()
        # The request opened a live session: if it is gone when the request ends
        # (Quick exit in another tab, the sweep, an eviction), nothing is stored.
        self.opened_live = sid is not None
        self.sealed_now: set[str] = set()  # names sealed during this request
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
            was_live = self._own_slot_live()
            try:
                self.new_sid = self._store.new_id(LOGGED_IN, replacing=self.sid)
            except SessionsFull:
                raise Busy(retry_after=30) from None
            if was_live and not self._own_slot_live():
                # The new id took her own (unprotected) slot: the data moves on,
                # nothing ended elsewhere. (A Quick exit between the two checks,
                # microseconds apart, would go unnoticed.)
                self.sid = None
                self.opened_live = False
        old_key, self.cookie_key = self.cookie_key, new_secret_key()
        sealed = self.get(SEALED_KEY)
        if sealed:
            self[SEALED_KEY] = {
                name: _seal_text(self.cookie_key, name, plain)
                for name, plain in _open_all(old_key, sealed).items()
            }
        self.rotate = True
        self.modified = True

    def _own_slot_live(self) -> bool:
        """Whether the session this request opened is still live (a read that
        changes nothing)."""
        if self.sid is None or self._store is None:
            return False
        return self._store.reserve(self.sid, UNPROTECTED)

    def make_room(self, protected: bool | int) -> bool:
        """Make sure this session can be stored with at least this protection rank
        (for files kept for her: :data:`KEPT`, which may take only a share of the
        store); False if there is no room, and then nothing may rely on it."""
        if self._store is None or self.ended:
            return True
        if self.new_sid is not None:  # reserved for her log-in (or already made room)
            return True
        if self.sid is not None:
            return self._store.reserve(self.sid, protected)
        try:
            self.new_sid = self._store.new_id(protected)
        except SessionsFull:
            return False
        self.rotate = True  # stored under the reserved id, with its cookie
        return True

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
        sealed[name] = _seal_text(self.cookie_key, name, value)
        self[SEALED_KEY] = sealed
        self.sealed_now.add(name)

    def unseal(self, name: str) -> bytes | None:
        """The value sealed under ``name``; None if there is none or it does not
        open with this request's cookie."""
        return _open_text(self.cookie_key, name, (self.get(SEALED_KEY) or {}).get(name))

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


def _seal_text(key: bytes, name: str, value: bytes) -> str:
    """``value`` sealed under ``key`` and bound to ``name``, as session text."""
    return _b64(seal_secret(key, value, name.encode()))


def _open_text(key: bytes, name: str, text: Any) -> bytes | None:
    """What :func:`_seal_text` sealed; None if it does not open under ``key``."""
    if not isinstance(text, str):
        return None
    try:
        return open_secret(key, _unb64(text), name.encode())
    except (CryptoError, ValueError):
        return None


def _open_all(key: bytes, sealed: dict[str, Any]) -> dict[str, bytes]:
    """Every sealed value that opens under ``key`` (the rest: nothing to carry over)."""
    opened = {name: _open_text(key, name, text) for name, text in sealed.items()}
    return {name: plain for name, plain in opened.items() if plain is not None}


def server_session() -> ServerSession:
    """Flask's ``session`` with its type: for views that seal or rotate."""
    current = session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(current, ServerSession):  # pragma: no cover - our own interface
        raise TypeError("the app does not use MemorySessionInterface")
    return current


class MemorySessionInterface(SessionInterface):
    """Flask session interface over a :class:`SessionStore`.

    ``protected(data)`` says how much eviction must spare a session (a rank,
    or True for a log-in; by default nothing). ``mirror_host`` is the https
    clearnet mirror's host name: requests to it get the ``__Host-`` cookie
    with ``Secure``.

    At rest (a store with ``seals_at_rest``), every key but ``clear_keys``
    (what the server itself must read, such as the ids of kept files) is
    sealed under the cookie's key as one value (the sealed secrets with it, so
    not even their names show), and opened when her next request comes:
    views keep using ``session["source_id"]``.
    ``owner_name`` is the sealed secret that names her (the source's private
    key): when a request seals it, the store is given a keyed hash of it, so
    that one source has at most :data:`PER_OWNER` sessions.
    """

    def __init__(
        self,
        store: SessionStore,
        secret: bytes,
        protected: Callable[[dict[str, Any]], bool | int] | None = None,
        mirror_host: str = "",
        clear_keys: frozenset[str] = frozenset(),
        owner_name: str | None = None,
    ) -> None:
        self.store = store
        self.protected = protected or (lambda data: False)
        self.mirror_host = mirror_host
        self.clear_keys = clear_keys - {SEALED_KEY}
        self.owner_name = owner_name
        # The cookie is "<id>.<key>.<HMAC-SHA256(id.key)>": the id and key are
        # random, so all the MAC must do is stop anyone choosing or changing
        # them; a keyed hash per purpose.
        self._mac_key = hmac.new(secret, b"sesim-session-id", hashlib.sha256).digest()
        self._owner_key = hmac.new(secret, b"sesim-session-owner", hashlib.sha256).digest()

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
                    return ServerSession(sid, self._opened(data, key), key, self.store)
                return ServerSession(None, None, key, self.store)
        return ServerSession(None, store=self.store)

    # -- what the store holds ----------------------------------------------------------------
    def _at_rest(self, session: ServerSession, data: dict[str, Any]) -> dict[str, Any]:
        """The data as the store keeps it: all but the clear keys sealed as one value
        (the sealed secrets too, so not even their names show)."""
        if not getattr(self.store, "seals_at_rest", False):
            return data
        hidden = {k: v for k, v in data.items() if k not in self.clear_keys}
        stored = {k: v for k, v in data.items() if k in self.clear_keys}
        if hidden:
            plain = json.dumps(hidden, separators=(",", ":")).encode()
            # Padded, so that its length does not tell a fresh codename (a new
            # reporter) from a plain log-in.
            plain += b" " * (-len(plain) % AT_REST_PAD)
            stored[SEALED_KEY] = {AT_REST_NAME: _seal_text(session.cookie_key, AT_REST_NAME, plain)}
        return stored

    def _opened(self, data: dict[str, Any], key: bytes) -> dict[str, Any]:
        """The data of a stored session as the views see it (see :meth:`_at_rest`)."""
        sealed = data.get(SEALED_KEY)
        if not isinstance(sealed, dict) or AT_REST_NAME not in sealed:
            return data
        opened = {k: v for k, v in data.items() if k in self.clear_keys}
        try:
            plain = open_secret(key, _unb64(str(sealed[AT_REST_NAME])), AT_REST_NAME.encode())
            hidden = json.loads(plain)
        except (CryptoError, ValueError):
            return opened  # not under this cookie's key: as if it held nothing more
        if isinstance(hidden, dict):
            opened.update({k: v for k, v in hidden.items() if k not in self.clear_keys})
        return opened

    def _owner(self, session: ServerSession) -> bytes | None:
        """A keyed hash of the secret that names her, when this request sealed it."""
        if self.owner_name is None or self.owner_name not in session.sealed_now:
            return None
        secret = session.unseal(self.owner_name)
        if secret is None:
            return None
        return hmac.new(self._owner_key, secret, hashlib.sha256).digest()[:16]

    # -- saving --------------------------------------------------------------------------------
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
        prepared = self._prepare(session)
        protected, stored, owner = prepared
        if session.rotate:
            if session.sid and not self.store.forget(session.sid) and session.opened_live:
                # Her session ended while this request ran (Quick exit in another
                # tab, the sweep, an eviction): it must not come back under a new id.
                self._abandon(app, session, response)
                return
            session.sid, session.new_sid = session.new_sid, None
            if session.sid is not None and self.store.put(session.sid, stored, protected, owner):
                self._set_cookie(app, session, response)
                return
            session.sid = None
            if session.opened_live:
                self._abandon(app, session, response)
                return
        elif session.sid is not None:
            if self.store.put(session.sid, stored, protected, owner):
                # Same id: the browser already holds the cookie; no need to re-sign it.
                return
            self._abandon(app, session, response)  # ended while this request ran
            return
        if not self._store_new(app, session, response, prepared) and session.from_cookie:
            self._delete_cookie(app, response)

    def _prepare(self, session: ServerSession) -> tuple[int, dict[str, Any], bytes | None]:
        """What a session is stored as: its rank, its data at rest, its owner hash."""
        data = dict(session)
        return rank(self.protected(data)), self._at_rest(session, data), self._owner(session)

    def _abandon(self, app: Flask, session: ServerSession, response: Response) -> None:
        """Store nothing for a session that ended while its request ran; drop its cookie."""
        for sid in (session.sid, session.new_sid):
            if sid:
                self.store.delete(sid)
        session.sid = session.new_sid = None
        self._delete_cookie(app, response)

    def _store_new(
        self,
        app: Flask,
        session: ServerSession,
        response: Response,
        prepared: tuple[int, dict[str, Any], bytes | None] | None = None,
    ) -> bool:
        """Store a session under a new id and send its cookie; False if there is no
        room for it (a light session is then simply not kept)."""
        protected, stored, owner = prepared or self._prepare(session)
        try:
            session.sid = self.store.new_id(protected)
        except SessionsFull:
            return False
        if not self.store.put(session.sid, stored, protected, owner):
            return False  # pragma: no cover - evicted at once
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
