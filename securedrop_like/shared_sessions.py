"""Sessions in memory shared by the server's worker processes, never on disk.

One process of Python threads uses one core, whatever the machine has. To
use them all, the server forks several workers; a source's session must then
be readable by whichever worker her next request reaches. It still must never
touch disk, so it lives in an anonymous shared memory mapping made by the
master before it forks (``mmap(-1, …)``: no file, no name, gone with the last
process). The mapping is left out of core dumps (``MADV_DONTDUMP``) and
locked in RAM where the system allows (``mlock``), so it is not written to
swap either.

The mapping is a table of fixed-size slots. A session id is
``<slot>.<random token>``; the slot keeps only a SHA-256 of the token, the
idle and absolute clocks (``time.monotonic``, which all processes share,
rounded down to :func:`~securedrop_like.sessions.time_bucket`: a memory
image turns a monotonic time into wall-clock time, so only 5-minute buckets
are kept), a use counter for LRU order, how much it is *protected* (a
log-in or a fresh codename; or only kept files), a keyed hash naming its
owner (given at log-in, see sessions.py), and the session's data as JSON,
which the interface seals but for the ids of kept files. A freed slot is
overwritten with zeros. When the table is full, the least recently used
*unprotected* session is evicted (for a log-in, else the least recently used
one that only keeps files); if there is no such slot, a new session is
refused (:class:`~securedrop_like.sessions.SessionsFull`), so a flood of
anonymous requests never logs anyone out, and a flood of failed forms (at
most a quarter of the table) keeps nobody from logging in.

The use counter may stay exact: it counts stateful requests, not time, and
nothing records how many requests came when, so it orders sessions without
dating any of them.

One lock guards the table across processes: an ``flock`` on a lock file that
each process opens itself, so the kernel releases it when its holder dies,
even by SIGKILL (plus a thread lock for the threads of one process).

The master zeroes expired slots with :func:`sweep_expired` (or
:meth:`ServerShared.sweep_sessions`), called at least once a minute.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import hashlib
import hmac
import json
import logging
import mmap
import os
import secrets
import struct
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .sessions import (
    KEPT,
    LOGGED_IN,
    PER_OWNER,
    SessionsFull,
    coarse,
    rank,
    time_bucket,
    weak_cap,
)

log = logging.getLogger(__name__)

# used, protection rank, token hash, created, seen (both coarse), last use (a counter,
# for LRU), data length, owner (a keyed hash, or zeros)
_HEADER = struct.Struct("<BB6x32sddQI4x16s")
_NO_OWNER = bytes(16)
_COUNTER = struct.Struct("<Q")  # the use counter, at the start of the mapping
_BASE = 64
SLOT_BYTES = 8192
DATA_BYTES = SLOT_BYTES - _HEADER.size
LOCK_NAME = "sessions.lock"
VICTIM_SCAN = 64  # slots a new id looks at once it has an unprotected candidate (see _victim)


class SessionTooLarge(ValueError):
    """A session's data does not fit its slot (the caller keeps less in it)."""


# -- the cross-process lock ---------------------------------------------------------------------

_LOCKS: weakref.WeakSet[ProcessLock] = weakref.WeakSet()
_SEGMENTS: weakref.WeakSet[SharedSegment] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for lock in list(_LOCKS):
        lock._reset_after_fork()
    # Memory locks are not inherited over fork: a worker locks its own view too.
    for segment in list(_SEGMENTS):
        if segment.locked_in_ram:
            _protect_memory(segment.memory, len(segment.memory), quiet=True)


os.register_at_fork(after_in_child=_after_fork_in_child)


class ProcessLock:
    """A lock for every thread of every process that opens ``path``.

    ``flock`` on a file descriptor this process opened itself: the kernel
    drops the lock when the holder's descriptor closes, which its death
    (SIGKILL included) does. A descriptor inherited over ``fork`` would share
    the parent's lock, so a child closes it and opens its own on first use.
    ``flock`` writes nothing: the file's times never change.
    """

    def __init__(self, path: Path, owned: bool = False) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()
        if owned:  # a private temp file: removed when the process that made it ends
            weakref.finalize(self, _remove_lock_file, str(path), self._pid)
        _LOCKS.add(self)

    def _reset_after_fork(self) -> None:
        # One thread in the child: the parent's thread lock may have been taken
        # by a thread that does not exist here; the inherited descriptor is the
        # parent's lock.
        self._threads = threading.Lock()
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._pid = os.getpid()

    def _descriptor(self) -> int:
        if self._pid != os.getpid():  # forked without the hook (should not happen)
            self._reset_after_fork()
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    def acquire(self, blocking: bool = True) -> bool:
        if not self._threads.acquire(blocking):
            return False
        try:
            flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
            try:
                fcntl.flock(self._descriptor(), flags)
            except BlockingIOError:
                self._threads.release()
                return False
        except BaseException:
            if self._threads.locked():
                self._threads.release()
            raise
        return True

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def __enter__(self) -> ProcessLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _remove_lock_file(path: str, pid: int) -> None:
    if os.getpid() == pid:
        try:
            os.unlink(path)
        except OSError:
            pass


def session_lock_path(home: Path, part: str) -> Path:
    """Where a server's session lock lives: ``<home>/run/<part>-sessions.lock``
    (``run/`` made 0700 if missing)."""
    run = home / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    path = run / f"{part}-{LOCK_NAME}"
    # Made now, with the table, so its times (and run/'s) record the server's
    # start, never a source's first request.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    return path


# -- keeping the mapping out of core dumps and swap -----------------------------------------------

_MCL_ONFAULT = 1  # mlock2(…, MLOCK_ONFAULT): lock pages as they are touched, not all at once
_lock_refused_logged = False


def _protect_memory(memory: mmap.mmap, size: int, quiet: bool = False) -> bool:
    """``MADV_DONTDUMP`` and ``mlock`` the mapping; True if it is locked.

    Refusals (no privilege, a low RLIMIT_MEMLOCK, an old kernel) are expected
    on small machines: logged once at INFO, without detail, and otherwise
    silent. The sessions then work as before, only swappable.
    """
    global _lock_refused_logged
    dontdump = getattr(mmap, "MADV_DONTDUMP", None)
    if dontdump is not None:
        try:
            memory.madvise(dontdump)
        except OSError:
            pass
    locked = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        anchor = ctypes.c_char.from_buffer(memory)
        address = ctypes.addressof(anchor)
        del anchor  # no exported buffer may outlive this call (the mapping must stay closable)
        mlock2 = getattr(libc, "mlock2", None)
        if mlock2 is not None:
            mlock2.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
            locked = mlock2(address, size, _MCL_ONFAULT) == 0
        if not locked:
            libc.mlock.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
            locked = libc.mlock(address, size) == 0
    except (OSError, AttributeError, TypeError, ValueError):
        locked = False
    if not locked and not quiet and not _lock_refused_logged:
        _lock_refused_logged = True
        log.info("session memory could not be locked in RAM; it may be swapped")
    return locked


class SharedSegment:
    """The shared mapping and its lock. Make it before forking; hand it to every worker.

    ``lock_path`` is the lock file (see :func:`session_lock_path`); without
    it, a private temp file, removed when this process ends.
    """

    def __init__(self, slots: int, lock_path: Path | None = None) -> None:
        if slots < 1:
            raise ValueError("a session table needs at least one slot")
        self.slots = slots
        size = _BASE + slots * SLOT_BYTES
        self.memory = mmap.mmap(-1, size)
        self.locked_in_ram = _protect_memory(self.memory, size)
        _SEGMENTS.add(self)
        owned = lock_path is None
        if lock_path is None:
            fd, name = tempfile.mkstemp(prefix="sesim-sessions-", suffix=".lock")
            os.close(fd)
            lock_path = Path(name)
        self.lock = ProcessLock(lock_path, owned=owned)


def _encode(data: dict[str, Any]) -> bytes:
    """Session data is JSON: strings, numbers, lists and dicts only (a key as hex)."""
    return json.dumps(data, separators=(",", ":")).encode()


def _decode(raw: bytes) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(raw)
    return decoded


@dataclass(frozen=True)
class ServerShared:
    """What a server's master makes before forking: the session table, and where
    its workers reach the writer process. (The bound on codename derivations is
    lock files in ``run/``, shared by every process of the instance: derivation.py.)"""

    segment: SharedSegment
    # Where the writer process listens, and the key it checks (writer_process.py).
    writer_address: str | None = None
    writer_authkey: bytes | None = None

    @classmethod
    def create(
        cls,
        slots: int,
        writer_address: str | None = None,
        writer_authkey: bytes | None = None,
        lock_path: Path | None = None,
    ) -> ServerShared:
        return cls(
            SharedSegment(slots, lock_path),
            writer_address,
            writer_authkey,
        )

    def sweep_sessions(
        self,
        idle_seconds: float,
        absolute_seconds: float,
        on_discard: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> int:
        """Zero every expired slot; see :func:`sweep_expired`."""
        return sweep_expired(self.segment, idle_seconds, absolute_seconds, clock, on_discard)


def sweep_expired(
    segment: SharedSegment,
    idle_seconds: float,
    absolute_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    on_discard: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Zero every slot whose session has expired; returns how many.

    For the server's master, at least once a minute (the workers only free an
    expired slot when it is read again or reused). Each freed slot is
    overwritten with zeros, header and all, before ``on_discard`` gets its
    data (the source app's wipes the uploads it kept). Use the idle and
    absolute limits of the app the segment serves.
    """
    store = SharedSessionStore(segment, idle_seconds, absolute_seconds, clock, on_discard)
    return store.sweep()


class SharedSessionStore:
    """The same contract as :class:`~securedrop_like.sessions.MemorySessionStore`."""

    seals_at_rest = True

    def __init__(
        self,
        segment: SharedSegment,
        idle_seconds: float,
        absolute_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_discard: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.segment = segment
        self.idle = idle_seconds
        self.absolute = absolute_seconds
        self.clock = clock
        self.on_discard = on_discard
        self.bucket = time_bucket(idle_seconds)
        self._hand = 0

    @property
    def capacity(self) -> int:
        return self.segment.slots

    def _now(self) -> float:
        return self.clock()  # exact for the checks; _write_header keeps it only coarse

    # -- slots ------------------------------------------------------------------------
    def _read(self, slot: int) -> tuple[int, int, bytes, float, float, int, int, bytes]:
        offset = _BASE + slot * SLOT_BYTES
        return _HEADER.unpack_from(self.segment.memory, offset)

    def _write_header(
        self,
        slot: int,
        protected: int,
        token_hash: bytes,
        created: float,
        seen: float,
        length: int,
        owner: bytes,
    ) -> None:
        """Write a live slot's header, stamping it as the most recently used (lock held).
        Times are written coarse (callers pass ``_now()`` or a stored time)."""
        memory = self.segment.memory
        (use,) = _COUNTER.unpack_from(memory, 0)
        _COUNTER.pack_into(memory, 0, use + 1)
        offset = _BASE + slot * SLOT_BYTES
        _HEADER.pack_into(
            memory,
            offset,
            1,
            protected,
            token_hash,
            coarse(created, self.bucket),
            coarse(seen, self.bucket),
            use + 1,
            length,
            owner,
        )

    def _data(self, slot: int, length: int) -> bytes:
        start = _BASE + slot * SLOT_BYTES + _HEADER.size
        return bytes(self.segment.memory[start : start + length])

    def _zero(self, slot: int) -> None:
        start = _BASE + slot * SLOT_BYTES
        self.segment.memory[start : start + SLOT_BYTES] = bytes(SLOT_BYTES)

    def _expired(self, created: float, seen: float, now: float) -> bool:
        return now - seen > self.idle or now - created > self.absolute

    def _free(self, slot: int) -> bytes | None:
        """Zero a slot (lock held); returns the data it held, for on_discard."""
        used, _, _, _, _, _, length, _ = self._read(slot)
        data = self._data(slot, length) if used and length else None
        self._zero(slot)
        return data

    @staticmethod
    def _parse(sid: str) -> tuple[int, bytes] | None:
        slot_text, dot, token = sid.partition(".")
        if not dot or not token or len(slot_text) > 8:
            return None
        try:
            slot = int(slot_text, 16)
        except ValueError:
            return None
        return slot, hashlib.sha256(token.encode()).digest()

    def _owned(self, sid: str) -> int | None:
        """The slot of a session id (lock held), else None; it may have expired."""
        parsed = self._parse(sid)
        if parsed is None or not 0 <= parsed[0] < self.segment.slots:
            return None
        slot, token_hash = parsed
        used, _, stored, _, _, _, _, _ = self._read(slot)
        if not used or not hmac.compare_digest(stored, token_hash):
            return None
        return slot

    def _victim(self, now: float, level: int) -> int | None:
        """A slot for a new session (lock held): free or expired, else the least
        recently used unprotected one, else (for a log-in) the least recently used
        one that only keeps files; None if there is none.

        The scan starts at the hand (just after the last slot given out, so the
        slots ahead of it are the ones reused longest ago) and stops after
        :data:`VICTIM_SCAN` slots once it has an unprotected candidate: on a
        full table of light sessions (a flood) a new id costs a bounded scan
        under the lock, not the whole table, and the least recently used of
        those slots goes (an approximate LRU). Only when none of them is
        unprotected does it scan on."""
        slots = self.segment.slots
        lru, lru_use = None, 0
        weak, weak_use = None, 0
        for step in range(slots):
            if lru is not None and step >= VICTIM_SCAN:
                break
            slot = (self._hand + step) % slots
            used, protected, _, created, seen, use, _, _ = self._read(slot)
            if not used or self._expired(created, seen, now):
                return slot
            if not protected and (lru is None or use < lru_use):
                lru, lru_use = slot, use
            elif protected == KEPT and (weak is None or use < weak_use):
                weak, weak_use = slot, use
        if lru is None and level == LOGGED_IN:
            return weak
        return lru

    def _weak_room(self, now: float) -> bool:
        """Whether one more session that only keeps files fits its share (lock held)."""
        weak = 0
        for slot in range(self.segment.slots):
            used, protected, _, created, seen, _, _, _ = self._read(slot)
            if used and protected == KEPT and not self._expired(created, seen, now):
                weak += 1
        return weak < weak_cap(self.segment.slots)

    # -- the store contract -------------------------------------------------------------
    def __len__(self) -> int:
        with self.segment.lock:
            return sum(1 for s in range(self.segment.slots) if self._read(s)[0])

    def new_id(self, protected: bool | int = False, replacing: str | None = None) -> str:
        """Claim a slot (free, expired, or else the least recently used unprotected
        one, or for a log-in one that only keeps files) for a new session;
        :class:`SessionsFull` if there is none, or if a session that only keeps
        files would take more than its share."""
        level = rank(protected)
        now = self._now()
        token = secrets.token_urlsafe(32)
        token_hash = hashlib.sha256(token.encode()).digest()
        with self.segment.lock:
            if level == KEPT and not self._weak_room(now):
                raise SessionsFull()
            chosen = self._victim(now, level)
            if chosen is None:
                raise SessionsFull()
            self._hand = (chosen + 1) % self.segment.slots
            moving = replacing is not None and self._owned(replacing) == chosen
            discarded = self._free(chosen)
            if moving:  # the request's own session: its data moves to the new id
                discarded = None
            self._write_header(chosen, level, token_hash, now, now, 0, _NO_OWNER)
        self._discard(discarded)
        return f"{chosen:x}.{token}"

    def reserve(self, sid: str, protected: bool | int) -> bool:
        """Raise a live session's protection rank; False if it is gone or there is no room."""
        level = rank(protected)
        now = self._now()
        with self.segment.lock:
            slot = self._owned(sid)
            if slot is None:
                return False
            _, current, token_hash, created, seen, _, length, owner = self._read(slot)
            if self._expired(created, seen, now):
                return False
            if current >= level:
                return True
            if level == KEPT and not self._weak_room(now):
                return False
            self._write_header(slot, level, token_hash, created, now, length, owner)
        return True

    def get(self, sid: str) -> dict[str, Any] | None:
        now = self._now()
        discarded = None
        with self.segment.lock:
            slot = self._owned(sid)
            if slot is None:
                return None
            _, protected, token_hash, created, seen, _, length, owner = self._read(slot)
            if self._expired(created, seen, now):
                discarded = self._free(slot)
                raw = None
            else:
                self._write_header(slot, protected, token_hash, created, now, length, owner)
                raw = self._data(slot, length)
        if raw is None:
            self._discard(discarded)
            return None
        return _decode(raw) if raw else {}

    def put(
        self,
        sid: str,
        data: dict[str, Any],
        protected: bool | int = False,
        owner: bytes | None = None,
    ) -> bool:
        """Store a session's data; False if the id is no longer live (ended,
        evicted or expired). With ``owner``, her least recently used sessions
        beyond :data:`~securedrop_like.sessions.PER_OWNER` end."""
        raw = _encode(data)
        if len(raw) > DATA_BYTES:
            raise SessionTooLarge(f"session data of {len(raw)} bytes")
        now = self._now()
        discarded: list[bytes | None] = []
        with self.segment.lock:
            slot = self._owned(sid)
            if slot is None:
                return False
            _, _, token_hash, created, seen, _, old, stored_owner = self._read(slot)
            if self._expired(created, seen, now):
                discarded.append(self._free(slot))
                live = False
            else:
                live = True
                start = _BASE + slot * SLOT_BYTES + _HEADER.size
                memory = self.segment.memory
                memory[start : start + len(raw)] = raw
                if old > len(raw):  # leave nothing of the longer old data behind
                    memory[start + len(raw) : start + old] = bytes(old - len(raw))
                tag = owner[: len(_NO_OWNER)].ljust(len(_NO_OWNER), b"\0") if owner else None
                self._write_header(
                    slot, rank(protected), token_hash, created, now, len(raw), tag or stored_owner
                )
                if tag is not None:
                    discarded += self._end_oldest_of(tag, slot)
        for gone in discarded:
            self._discard(gone)
        return live

    def _end_oldest_of(self, owner: bytes, keep: int) -> list[bytes | None]:
        """Free her least recently used slots beyond PER_OWNER (lock held)."""
        hers = []
        for slot in range(self.segment.slots):
            used, _, _, _, _, use, _, tag = self._read(slot)
            if used and slot != keep and hmac.compare_digest(tag, owner):
                hers.append((use, slot))
        hers.sort()
        return [self._free(slot) for _, slot in hers[: max(0, len(hers) - (PER_OWNER - 1))]]

    def delete(self, sid: str) -> None:
        with self.segment.lock:
            slot = self._owned(sid)
            discarded = self._free(slot) if slot is not None else None
        self._discard(discarded)

    def forget(self, sid: str) -> bool:
        """Drop a session id without discarding its data (it moves to a new id);
        whether it was live (an expired one's data is discarded)."""
        now = self._now()
        with self.segment.lock:
            slot = self._owned(sid)
            if slot is None:
                return False
            _, _, _, created, seen, _, _, _ = self._read(slot)
            expired = self._expired(created, seen, now)
            data = self._free(slot)
        if expired:
            self._discard(data)
        return not expired

    def sweep(self) -> int:
        """Zero every expired slot, then pass each one's data to ``on_discard``."""
        now = self._now()
        gone = []
        with self.segment.lock:
            for slot in range(self.segment.slots):
                used, _, _, created, seen, _, _, _ = self._read(slot)
                if used and self._expired(created, seen, now):
                    gone.append(self._free(slot))
        for raw in gone:
            self._discard(raw)
        return len(gone)

    def live_data(self) -> list[dict[str, Any]]:
        now = self._now()
        out = []
        with self.segment.lock:
            for slot in range(self.segment.slots):
                used, _, _, created, seen, _, length, _ = self._read(slot)
                if used and not self._expired(created, seen, now):
                    out.append(self._data(slot, length))
        return [_decode(raw) if raw else {} for raw in out]

    def _discard(self, raw: bytes | None) -> None:
        if raw and self.on_discard is not None:
            self.on_discard(_decode(raw))
