"""A 1 GB export bundle streamed through the staff app's real ``/export`` route.

The bundle is read from the Flask test client as it is produced, never held
whole. The ciphertexts are blobs (chunked rows in the SQLCipher database);
the baseline is reading the same blobs once with hashlib.sha256, in the same
run, and, for scale, the same bytes as plain files. The manifest takes each
blob's SHA-256 recorded when it was written, so the export reads each
ciphertext once (hashing it again as it streams, to catch a change).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import Results, Workspace, reset_peak, rss_kib
from bench.inbox import staff_client
from securedrop_like import models, store
from securedrop_like.bundles import BLOCK_SIZE
from securedrop_like.db import today
from securedrop_like.store import BlobReader, new_id

FILES = 16
FILE_BYTES = 64 * 2**20
WRITE_BLOCK = 2**20


def _content(item_id: str) -> Iterator[bytes]:
    block = os.urandom(WRITE_BLOCK)
    for n in range(FILE_BYTES // WRITE_BLOCK):
        yield item_id.encode() + n.to_bytes(8, "big") + block[40:]


def _write_blobs(conn: Any, ids: list[str]) -> None:
    per = WRITE_BLOCK // store.CHUNK_BYTES
    for item_id in ids:
        conn.execute("BEGIN IMMEDIATE")
        sha = hashlib.sha256()
        for n, data in enumerate(_content(item_id)):
            sha.update(data)
            chunks = [
                data[i : i + store.CHUNK_BYTES] for i in range(0, len(data), store.CHUNK_BYTES)
            ]
            last = n == FILE_BYTES // WRITE_BLOCK - 1
            store.put_chunks(
                conn,
                item_id,
                n * per,
                chunks,
                FILE_BYTES if last else None,
                sha.digest() if last else None,
            )
        conn.execute("UPDATE blobs SET claimed = 1 WHERE id = ?", (item_id,))
        conn.execute("COMMIT")


def _sha256_blobs(conn: Any, ids: list[str]) -> float:
    start = time.perf_counter()
    for item_id in ids:
        sha = hashlib.sha256()
        with BlobReader(conn, item_id) as fh:
            while block := fh.read(BLOCK_SIZE):
                sha.update(block)
    return time.perf_counter() - start


def _sha256_files(folder: Path, ids: list[str]) -> float:
    start = time.perf_counter()
    for item_id in ids:
        sha = hashlib.sha256()
        with (folder / item_id).open("rb") as fh:
            while block := fh.read(BLOCK_SIZE):
                sha.update(block)
    return time.perf_counter() - start


def export(ws: Workspace, results: Results) -> None:
    from tests.conftest import csrf_of

    app, client, db = staff_client(ws, "export")
    services = app.extensions["sesim_staff"]
    source_id, day = new_id(), today()
    ids = [new_id() for _ in range(FILES)]
    files = ws.root / "export-files"
    files.mkdir()
    try:
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
        _write_blobs(conn, ids)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for item_id in ids:
            with (files / item_id).open("wb") as fh:
                for data in _content(item_id):
                    fh.write(data)
        baseline = _sha256_blobs(conn, ids)
        plain = _sha256_files(files, ids)
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
        baseline = min(baseline, _sha256_blobs(conn, ids))
        plain = min(plain, _sha256_files(files, ids))
        conn.close()
    finally:
        services.reports.close()
    mb = received / 1e6
    extra = (peak - idle) / 1024
    results.add(
        f"export bundle, {FILES} × {FILE_BYTES // 2**20} MiB blobs via /export",
        f"{mb / elapsed:.0f} MB/s ({elapsed:.1f} s, first byte after {first_byte:.1f} s)",
    )
    results.add(
        "export time vs one sha256 read of the same blobs",
        f"×{elapsed / baseline:.1f} (baseline {mb / baseline:.0f} MB/s; the hash is stored)",
    )
    results.add(
        "one sha256 read: blobs vs the same bytes as files",
        f"×{baseline / plain:.1f} (files {mb / plain:.0f} MB/s)",
    )
    results.add("export: peak RSS above idle", f"{extra:.1f} MiB", "< 64 MiB", extra < 64)
