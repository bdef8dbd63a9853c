"""Sessions in memory shared by the server's worker processes, never on disk.

One process of Python threads uses one core, whatever the machine has. To
use them all, the server forks several workers; a source's session must then
be readable by whichever worker her next request reaches. It still must never
touch disk, so it lives in an anonymous shared memory mapping made by the
master before it forks (``mmap(-1, …)``: no file, no name, gone with the last
process), guarded by one cross-process lock.

The mapping is a table of fixed-size slots. A session id is
``<slot>.<random token>``; the slot keeps only a SHA-256 of the token, the
idle and absolute clocks (``time.monotonic``, which all processes share and
which records no wall-clock time), and the session's data as JSON. A freed
slot is overwritten with zeros. When the table is full, the least recently
used session is evicted, as the in-process store does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import mmap
import multiprocessing
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# used, token hash, created, seen, last use (a counter, for LRU), data length
_HEADER = struct.Struct("<B7x32sddQI4x")
_COUNTER = struct.Struct("<Q")  # the use counter, at the start of the mapping
_BASE = 64
SLOT_BYTES = 8192
DATA_BYTES = SLOT_BYTES - _HEADER.size


class SessionTooLarge(ValueError):
    """A session's data does not fit its slot (the caller keeps less in it)."""


class SharedSegment:
    """The shared mapping and its lock. Make it before forking; hand it to every worker."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("a session table needs at least one slot")
        self.slots = slots
        self.memory = mmap.mmap(-1, _BASE + slots * SLOT_BYTES)
        self.lock = multiprocessing.Lock()


def _encode(data: dict[str, Any]) -> bytes:
    """Session data is JSON: strings, numbers, lists and dicts only (a key as hex)."""
    return json.dumps(data, separators=(",", ":")).encode()


def _decode(raw: bytes) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(raw)
    return decoded


@dataclass(frozen=True)
class ServerShared:
    """What a server's master makes before forking: the session table and the
    cross-process bound on codename derivations (see derivation.py)."""

    segment: SharedSegment
    derivations: Any  # multiprocessing.BoundedSemaphore
    # Where the writer process listens, and the key it checks (writer_process.py).
    writer_address: str | None = None
    writer_authkey: bytes | None = None

    @classmethod
    def create(
        cls,
        slots: int,
        derivations: int,
        writer_address: str | None = None,
        writer_authkey: bytes | None = None,
    ) -> ServerShared:
        return cls(
            SharedSegment(slots),
            multiprocessing.BoundedSemaphore(derivations),
            writer_address,
            writer_authkey,
        )


class SharedSessionStore:
    """The same contract as :class:`~securedrop_like.sessions.MemorySessionStore`."""

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
        self._hand = 0

    @property
    def capacity(self) -> int:
        return self.segment.slots

    # -- slots ------------------------------------------------------------------------
    def _read(self, slot: int) -> tuple[int, bytes, float, float, int, int]:
        offset = _BASE + slot * SLOT_BYTES
        return _HEADER.unpack_from(self.segment.memory, offset)

    def _write_header(
        self, slot: int, used: int, token_hash: bytes, created: float, seen: float, length: int
    ) -> None:
        """Write a slot's header, stamping it as the most recently used (lock held)."""
        memory = self.segment.memory
        (use,) = _COUNTER.unpack_from(memory, 0)
        _COUNTER.pack_into(memory, 0, use + 1)
        offset = _BASE + slot * SLOT_BYTES
        _HEADER.pack_into(memory, offset, used, token_hash, created, seen, use + 1, length)

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
        used, _, _, _, _, length = self._read(slot)
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
        """The slot of a live session id (lock held), else None."""
        parsed = self._parse(sid)
        if parsed is None or not 0 <= parsed[0] < self.segment.slots:
            return None
        slot, token_hash = parsed
        used, stored, _, _, _, _ = self._read(slot)
        if not used or not hmac.compare_digest(stored, token_hash):
            return None
        return slot

    # -- the store contract -------------------------------------------------------------
    def __len__(self) -> int:
        with self.segment.lock:
            return sum(1 for s in range(self.segment.slots) if self._read(s)[0])

    def new_id(self) -> str:
        """Claim a slot (free, expired, or else the least recently used) for a new session."""
        now = self.clock()
        token = secrets.token_urlsafe(32)
        token_hash = hashlib.sha256(token.encode()).digest()
        discarded = None
        slots = self.segment.slots
        with self.segment.lock:
            chosen = None
            for step in range(slots):
                slot = (self._hand + step) % slots
                used, _, created, seen, _, _ = self._read(slot)
                if not used or self._expired(created, seen, now):
                    chosen = slot
                    break
            if chosen is None:  # full of live sessions: evict the least recently used
                chosen = min(range(slots), key=lambda s: self._read(s)[4])
            self._hand = (chosen + 1) % slots
            discarded = self._free(chosen)
            self._write_header(chosen, 1, token_hash, now, now, 0)
        self._discard(discarded)
        return f"{chosen:x}.{token}"

    def get(self, sid: str) -> dict[str, Any] | None:
        now = self.clock()
        discarded = None
        with self.segment.lock:
            slot = self._owned(sid)
            if slot is None:
                return None
            used, token_hash, created, seen, _, length = self._read(slot)
            if self._expired(created, seen, now):
                discarded = self._free(slot)
                raw = None
            else:
                self._write_header(slot, used, token_hash, created, now, length)
                raw = self._data(slot, length)
        if raw is None:
            self._discard(discarded)
            return None
        return _decode(raw) if raw else {}

    def put(self, sid: str, data: dict[str, Any]) -> bool:
        """Store a session's data; False if the id is no longer live (evicted)."""
        raw = _encode(data)
        if len(raw) > DATA_BYTES:
            raise SessionTooLarge(f"session data of {len(raw)} bytes")
        now = self.clock()
        with self.segment.lock:
            slot = self._owned(sid)
            if slot is None:
                return False
            used, token_hash, created, _, _, old = self._read(slot)
            start = _BASE + slot * SLOT_BYTES + _HEADER.size
            memory = self.segment.memory
            memory[start : start + len(raw)] = raw
            if old > len(raw):  # leave nothing of the longer old data behind
                memory[start + len(raw) : start + old] = bytes(old - len(raw))
            self._write_header(slot, used, token_hash, created, now, len(raw))
        return True

    def delete(self, sid: str) -> None:
        with self.segment.lock:
            slot = self._owned(sid)
            discarded = self._free(slot) if slot is not None else None
        self._discard(discarded)

    def forget(self, sid: str) -> None:
        """Drop a session id without discarding its data (it moves to a new id)."""
        with self.segment.lock:
            slot = self._owned(sid)
            if slot is not None:
                self._free(slot)

    def sweep(self) -> int:
        now = self.clock()
        gone = []
        with self.segment.lock:
            for slot in range(self.segment.slots):
                used, _, created, seen, _, _ = self._read(slot)
                if used and self._expired(created, seen, now):
                    gone.append(self._free(slot))
        for raw in gone:
            self._discard(raw)
        return len(gone)

    def live_data(self) -> list[dict[str, Any]]:
        now = self.clock()
        out = []
        with self.segment.lock:
            for slot in range(self.segment.slots):
                used, _, created, seen, _, length = self._read(slot)
                if used and not self._expired(created, seen, now):
                    out.append(self._data(slot, length))
        return [_decode(raw) if raw else {} for raw in out]

    def _discard(self, raw: bytes | None) -> None:
        if raw and self.on_discard is not None:
            self.on_discard(_decode(raw))
