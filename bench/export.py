"""A 1 GB export bundle streamed through the staff app's real ``/export`` route.

The bundle is read from the Flask test client as it is produced, never held
whole. The baseline is reading the same files once with hashlib.sha256, in
the same run; the export reads and hashes each ciphertext twice (once to
make the manifest, which comes first, and again as it streams).
"""

from __future__ import annotations

import hashlib
import os
import time

from bench.common import Results, Workspace, reset_peak, rss_kib
from bench.inbox import staff_client
from securedrop_like import models
from securedrop_like.bundles import BLOCK_SIZE
from securedrop_like.db import today
from securedrop_like.store import CiphertextStore, new_id

FILES = 16
FILE_BYTES = 64 * 2**20
WRITE_BLOCK = 2**20


def _write_files(store: CiphertextStore, ids: list[str]) -> None:
    block = os.urandom(WRITE_BLOCK)
    for item_id in ids:
        path = store.path_for(item_id)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with path.open("wb") as fh:
            for n in range(FILE_BYTES // WRITE_BLOCK):
                fh.write(n.to_bytes(8, "big") + block[8:])


def _sha256_files(store: CiphertextStore, ids: list[str]) -> float:
    start = time.perf_counter()
    for item_id in ids:
        sha = hashlib.sha256()
        with store.open(item_id) as fh:
            while block := fh.read(BLOCK_SIZE):
                sha.update(block)
    return time.perf_counter() - start


def export(ws: Workspace, results: Results) -> None:
    from tests.conftest import csrf_of

    app, client, db = staff_client(ws, "export")
    services = app.extensions["sesim_staff"]
    store: CiphertextStore = services.reports.store
    source_id, day = new_id(), today()
    ids = [new_id() for _ in range(FILES)]
    try:
        _write_files(store, ids)
        conn = db.open()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO sources (id, lookup_id, public_key, designation, created_day,"
            " activity_day, next_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (source_id, new_id() * 2, os.urandom(32), models.new_designation(), day, day, 1),
        )
        conn.executemany(
            "INSERT INTO items (id, source_id, seq, kind, day, size)"
            " VALUES (?, ?, ?, 'file', ?, ?)",
            [(item_id, source_id, n, day, FILE_BYTES) for n, item_id in enumerate(ids, 1)],
        )
        conn.execute("COMMIT")
        conn.close()
        baseline = _sha256_files(store, ids)
        token = csrf_of(client.get("/").get_data(as_text=True))
        pid = os.getpid()
        idle, _ = rss_kib(pid)
        reset_peak(pid)
        start = time.perf_counter()
        response = client.post(
            "/export", data={"csrf_token": token, "which": "selected", "item": ids}, buffered=False
        )
        assert response.status_code == 200, response.status_code
        received = 0
        first_byte = 0.0
        last = b""
        for chunk in response.iter_encoded():
            if not received:
                first_byte = time.perf_counter() - start
            received += len(chunk)
            last = chunk
        response.close()
        elapsed = time.perf_counter() - start
        _, peak = rss_kib(pid)
        assert received == int(response.headers["Content-Length"]), received
        assert received > FILES * FILE_BYTES and not last[-1024:].strip(b"\0")
        baseline = min(baseline, _sha256_files(store, ids))
    finally:
        services.reports.close()
        for item_id in ids:
            store.path_for(item_id).unlink(missing_ok=True)
    mb = received / 1e6
    extra = (peak - idle) / 1024
    results.add(
        f"export bundle, {FILES} × {FILE_BYTES // 2**20} MiB via /export",
        f"{mb / elapsed:.0f} MB/s ({elapsed:.1f} s, first byte after {first_byte:.1f} s)",
    )
    results.add(
        "export time vs one sha256 read of the same files",
        f"×{elapsed / baseline:.1f} (baseline {mb / baseline:.0f} MB/s; export hashes twice)",
    )
    results.add("export: peak RSS above idle", f"{extra:.1f} MiB", "< 64 MiB", extra < 64)
