"""The session table's cost after issue 8: a kernel-released lock, sealed secrets, a bounded scan.

A read-and-write of one session through the shared table with its ``flock``
lock, against the same table under a ``multiprocessing.Lock`` (the lock it
had before, which a killed worker could hold forever); and the seal and
unseal of her private key against a plain read of the key's hex. Ratios, in
this run on this machine.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Callable

from bench.common import Results, Workspace
from crypto import new_secret_key, open_secret, seal_secret
from securedrop_like import shared_sessions
from securedrop_like.shared_sessions import SharedSegment, SharedSessionStore

ROUNDS = 20_000


def _per_op_us(fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        samples.append((time.perf_counter() - start) / rounds)
    return statistics.median(samples) * 1e6


def sessions(ws: Workspace, results: Results) -> None:
    data = {"lang": "az", "source_id": "0" * 32, "_sealed": {"private_key": "x" * 100}}
    figures = {}
    for name, lock in (("flock", None), ("multiprocessing.Lock", multiprocessing.Lock())):
        segment = SharedSegment(2000)
        if lock is not None:
            segment.lock = lock  # type: ignore[assignment]
        store = SharedSessionStore(segment, 1800, 10800)
        sid = store.new_id(protected=True)
        store.put(sid, data, protected=True)

        def round_trip(store: SharedSessionStore = store, sid: str = sid) -> None:
            store.put(sid, store.get(sid) or data, protected=True)

        figures[name] = _per_op_us(round_trip)
    ratio = figures["flock"] / figures["multiprocessing.Lock"]
    results.add(
        "session get+put, flock lock (vs multiprocessing.Lock)",
        f"{figures['flock']:.1f} µs ({ratio:.2f}×)",
    )
    full_table(results)
    key, raw = new_secret_key(), new_secret_key()
    sealed = seal_secret(key, raw, b"private_key")
    hexed = raw.hex()
    unseal = _per_op_us(lambda: open_secret(key, sealed, b"private_key"))
    plain = _per_op_us(lambda: bytes.fromhex(hexed))
    seal = _per_op_us(lambda: seal_secret(key, raw, b"private_key"))
    results.add(
        "private key unseal / seal per request (vs reading it as hex)",
        f"{unseal:.1f} / {seal:.1f} µs (hex {plain:.2f} µs)",
    )


def full_table(results: Results, slots: int = 20_000) -> None:
    """A new session on a full table of light sessions (a flood of language
    switches): the bounded scan against a scan of the whole table (review L7)."""
    segment = SharedSegment(slots)
    store = SharedSessionStore(segment, 1800, 10800)
    for _ in range(slots):
        store.put(store.new_id(), {"lang": "az"})

    def new_session() -> None:
        store.put(store.new_id(), {"lang": "az"})

    bounded = _per_op_us(new_session, 300)
    scan = shared_sessions.VICTIM_SCAN
    shared_sessions.VICTIM_SCAN = slots
    try:
        whole = _per_op_us(new_session, 30)
    finally:
        shared_sessions.VICTIM_SCAN = scan
    results.add(
        f"new session on a full {slots:,}-slot table, bounded scan (vs whole table)",
        f"{bounded:.0f} µs (whole table {whole / 1000:.1f} ms, {whole / bounded:.0f}× slower)",
    )
