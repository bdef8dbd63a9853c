"""The session table's cost after issue 8: a kernel-released lock and sealed secrets.

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
