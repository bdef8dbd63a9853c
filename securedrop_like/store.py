"""Ciphertext storage: every ciphertext is chunked rows inside the SQLCipher database.

A file per item would record the moment it arrived in its mtime and ctime
(and in its folder's), which no one can set back; a seized disk would undo
the days-only database. So a ciphertext too large to sit inline in its item
row is a *blob*: a ``blobs`` row (random id, size, SHA-256, claimed or not)
and its ``blob_chunks`` rows of :data:`CHUNK_BYTES`, keyed by the random id,
in tables without rowids, so neither names, nor file times, nor row order say
when anything came. An item and its ciphertext commit in one transaction.

An upload is never held whole in memory and never touches disk as plaintext:
:class:`EncryptingSpool` is handed to Werkzeug's multipart parser as the file
object for each uploaded part, so every chunk the parser reads is encrypted
(crypto envelope, 64 KiB chunks) into an anonymous ``O_TMPFILE`` file in the
instance's ``spool/`` folder: no name, no directory entry, no time changed
anywhere, and the kernel frees it if the process dies. When the part ends the
ciphertext is copied into the database in bounded batches through the writer
as an *unclaimed* blob; the submission's insert claims it in the transaction
that writes its item, and refuses (:class:`~securedrop_like.errors.MissingBlob`)
if it is gone. Unclaimed blobs that nothing refers to are swept (see
``service.UnclaimedSweeper``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from crypto import EnvelopeContext, EnvelopeWriter, PublicKey

from .errors import MissingBlob

Connection = Any  # sqlcipher3 ships no type information

# Rows of this size: large enough that a blob is few rows, small enough that a
# reader holds one at a time (see bench/export.py for what this costs).
CHUNK_BYTES = 256 * 1024
# Chunks sent to the writer per command while an upload is copied in.
INGEST_BATCH = 4
_WIPE_CHUNK = 1024 * 1024
log = logging.getLogger(__name__)


def new_id() -> str:
    """A random 128-bit identifier, hex. Reveals nothing, orders nothing."""
    return secrets.token_hex(16)


def _is_id(name: str) -> bool:
    return len(name) == 32 and all(c in "0123456789abcdef" for c in name)


def wipe_fd(fd: int) -> None:
    """Overwrite the whole file behind ``fd`` with zeros, fsync it, close ``fd``.

    On journalling or copy-on-write file systems and on SSDs the old blocks
    may survive elsewhere; what we spool is ciphertext anyway, so this is one
    more layer, not the guarantee.
    """
    try:
        remaining = os.fstat(fd).st_size
        zeros = bytes(min(remaining, _WIPE_CHUNK))
        offset = 0
        while offset < remaining:
            offset += os.pwrite(fd, zeros[: min(remaining - offset, _WIPE_CHUNK)], offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def wipe_file(path: Path) -> bool:
    """Overwrite a file with zeros, fsync, then unlink it. Returns False if absent.

    Used to move the ciphertext files of older versions into the database.
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    wipe_fd(fd)
    path.unlink(missing_ok=True)
    return True


# -- SQL (write functions run inside the writer's transaction) --------------------------


def put_chunks(
    conn: Connection,
    blob_id: str,
    first: int,
    chunks: Sequence[bytes],
    size: int | None,
    sha256: bytes | None,
) -> None:
    """Append chunks ``first, first+1, …`` to an unclaimed blob (created with chunk 0);
    ``size`` and ``sha256`` are given with the last batch, which completes it."""
    if not _is_id(blob_id):
        raise ValueError("not a blob id")
    if first == 0:
        conn.execute(
            "INSERT INTO blobs (id, size, sha256, claimed) VALUES (?, NULL, NULL, 0)", (blob_id,)
        )
    elif (
        conn.execute(
            "SELECT 1 FROM blobs WHERE id = ? AND claimed = 0 AND size IS NULL", (blob_id,)
        ).fetchone()
        is None
    ):
        raise MissingBlob([blob_id])
    conn.executemany(
        "INSERT INTO blob_chunks (blob_id, n, data) VALUES (?, ?, ?)",
        [(blob_id, first + k, data) for k, data in enumerate(chunks)],
    )
    if size is not None:
        conn.execute("UPDATE blobs SET size = ?, sha256 = ? WHERE id = ?", (size, sha256, blob_id))


def insert_blob(conn: Connection, blob_id: str, data: bytes, claimed: bool = True) -> None:
    """A whole ciphertext held in memory (a sealed report or reply), as one blob."""
    conn.execute(
        "INSERT INTO blobs (id, size, sha256, claimed) VALUES (?, ?, ?, ?)",
        (blob_id, len(data), hashlib.sha256(data).digest(), int(claimed)),
    )
    view = memoryview(data)
    conn.executemany(
        "INSERT INTO blob_chunks (blob_id, n, data) VALUES (?, ?, ?)",
        [
            (blob_id, n, bytes(view[start : start + CHUNK_BYTES]))
            for n, start in enumerate(range(0, max(len(data), 1), CHUNK_BYTES))
        ],
    )


def claim(conn: Connection, wanted: dict[str, int]) -> list[str]:
    """Mark complete unclaimed blobs (id -> expected size) as claimed; returns the ids
    that are missing, incomplete, already claimed or of another size (then none is
    claimed)."""
    if not wanted:
        return []
    ids = list(wanted)
    marks = ", ".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT id, size FROM blobs WHERE claimed = 0 AND size IS NOT NULL AND id IN ({marks})",  # noqa: S608
        ids,
    ).fetchall()
    found = {r[0]: r[1] for r in rows}
    missing = [i for i in ids if found.get(i) != wanted[i]]
    if missing:
        return missing
    conn.execute(f"UPDATE blobs SET claimed = 1 WHERE id IN ({marks})", ids)  # noqa: S608
    return []


def delete_blobs(conn: Connection, ids: Iterable[str]) -> int:
    """Delete blobs; their chunks go with them (``ON DELETE CASCADE``, foreign keys
    are on in every connection) and ``secure_delete`` zeroes the freed pages."""
    return sum(conn.execute("DELETE FROM blobs WHERE id = ?", (i,)).rowcount for i in ids)


def delete_unclaimed(conn: Connection, ids: Iterable[str]) -> int:
    """Delete those of ``ids`` that are still unclaimed (never an item's ciphertext)."""
    return sum(
        conn.execute("DELETE FROM blobs WHERE id = ? AND claimed = 0", (i,)).rowcount
        for i in ids
    )


def unclaimed_ids(conn: Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT id FROM blobs WHERE claimed = 0").fetchall()}


def blob_sha256(conn: Connection, blob_id: str) -> str | None:
    row = conn.execute("SELECT sha256 FROM blobs WHERE id = ?", (blob_id,)).fetchone()
    return bytes(row[0]).hex() if row and row[0] is not None else None


class BlobReader:
    """A blob read chunk by chunk: one chunk in memory at a time."""

    def __init__(self, conn: Connection, blob_id: str) -> None:
        row = conn.execute("SELECT size FROM blobs WHERE id = ?", (blob_id,)).fetchone()
        if row is None or row[0] is None:
            raise FileNotFoundError("no such ciphertext")
        self._conn = conn
        self.blob_id = blob_id
        self.size = int(row[0])
        self._n = 0
        self._buffer = b""
        self._offset = 0
        self._closed = False

    def _next_chunk(self) -> bool:
        row = self._conn.execute(
            "SELECT data FROM blob_chunks WHERE blob_id = ? AND n = ?", (self.blob_id, self._n)
        ).fetchone()
        if row is None:
            return False
        self._n += 1
        self._buffer = bytes(row[0])
        self._offset = 0
        return True

    def read(self, size: int = -1, /) -> bytes:
        if self._closed:
            raise ValueError("read from a closed blob")
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK_BYTES), b""))
        if self._offset >= len(self._buffer) and not self._next_chunk():
            return b""
        piece = self._buffer[self._offset : self._offset + size]
        self._offset += len(piece)
        return piece

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._closed = True
        self._buffer = b""

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- uploads ---------------------------------------------------------------------------


def anonymous_file(folder: Path) -> BinaryIO:
    """A file with no name in ``folder`` (O_TMPFILE): no directory entry, no
    folder time changed, freed by the kernel when the last descriptor closes,
    even if the process dies. Where the file system cannot, one unlinked at
    once (so it has a name only while it is still empty)."""
    folder.mkdir(mode=0o700, exist_ok=True)
    try:
        fd = os.open(folder, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            raise
        path = folder / new_id()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        path.unlink()
    return os.fdopen(fd, "w+b")


Ingest = Callable[["EncryptingSpool"], None]


class EncryptingSpool:
    """A write-only file object that encrypts an upload as it is written.

    Werkzeug calls ``write`` for every chunk of an uploaded part and
    ``seek(0)`` when the part ends; we take that as the end of the file, finish
    the envelope (version 2, bound to a ``file`` item with id :attr:`item_id`)
    and hand the ciphertext to ``ingest``, which copies it into the database
    as an unclaimed blob with that id. An upload given up (too large, failed,
    discarded, closed) aborts its envelope, which zeroes its buffers. Bytes beyond
    ``max_plain_bytes`` are not kept: the spool records ``too_large`` so the
    view can say so while keeping the rest of what she typed. A write that
    fails (a full disk) sets ``failed``; nothing is raised into the parser,
    so the form's text still arrives.
    """

    def __init__(
        self,
        folder: Path,
        recipients: Sequence[PublicKey],
        max_plain_bytes: int,
        ingest: Ingest,
    ) -> None:
        self.item_id = new_id()
        self.max_plain_bytes = max_plain_bytes
        self.plain_size = 0
        self.size = 0
        self.too_large = False
        self.failed = False
        self.finished = False
        self.discarded = False
        self.ingested = False
        self._ingest = ingest
        self._envelope: EnvelopeWriter | None = None
        self._fh: BinaryIO | None = None
        try:
            self._fh = anonymous_file(folder)
            context = EnvelopeContext.file(self.item_id)
            self._envelope = EnvelopeWriter(self._fh, recipients, context=context)
        except OSError:
            self._fail()

    @property
    def file(self) -> BinaryIO:
        """The finished ciphertext (for ``ingest``)."""
        if self._fh is None:
            raise ValueError("the spool is closed")
        return self._fh

    # -- the file-object protocol Werkzeug uses ---------------------------------
    def write(self, data: bytes) -> int:
        if self.too_large or self.failed or self._envelope is None:
            return len(data)
        if self.plain_size + len(data) > self.max_plain_bytes:
            self.too_large = True
            self._drop()
            return len(data)
        try:
            self._envelope.write(data)
        except OSError:
            self._fail()
            return len(data)
        self.plain_size += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset == 0 and whence == 0:
            self.finish()
        return 0

    def tell(self) -> int:
        return self.plain_size

    def read(self, size: int = -1) -> bytes:
        raise OSError("an encrypting spool cannot be read back")

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        return None

    def close(self) -> None:
        """Closing drops the anonymous file (the kernel frees it)."""
        self._drop()

    # -- our own ----------------------------------------------------------------
    def finish(self) -> None:
        """End the envelope and copy the ciphertext into the database. An empty
        part (a form sent with no file chosen) is not copied unless
        :meth:`ingest_now` is called: most forms carry one."""
        if self.finished or self._envelope is None or self._fh is None:
            return
        try:
            self._envelope.close()
            self._fh.flush()
            self.size = self._fh.tell()
        except OSError:
            self._fail()
            return
        self._envelope = None
        self.finished = True
        if self.plain_size:
            self.ingest_now()

    def ingest_now(self) -> None:
        if self.ingested or not self.finished or self._fh is None:
            return
        try:
            self._ingest(self)
        except Exception as exc:  # noqa: BLE001 - the view says "could not save"
            log.warning("an upload could not be stored: %s", type(exc).__name__)
            self._fail()
            return
        self.ingested = True
        self._drop()

    def _fail(self) -> None:
        self.failed = True
        self._drop()

    def _drop(self) -> None:
        if self._envelope is not None:  # unfinished: zero its buffers, write no final chunk
            self._envelope.abort()
        self._envelope = None
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None

    def discard(self) -> None:
        """Forget the upload (abandoned or refused). An ingested blob stays
        unclaimed and is deleted by the caller or the sweep."""
        self._drop()
        self.discarded = True


def read_chunks(fh: BinaryIO, size: int) -> Iterator[list[bytes]]:
    """A finished spool's ciphertext from its start, in batches for the writer."""
    fh.seek(0)
    remaining = size
    batch: list[bytes] = []
    while remaining > 0:
        data = fh.read(min(CHUNK_BYTES, remaining))
        if not data:
            raise OSError("the spooled ciphertext is shorter than written")
        remaining -= len(data)
        batch.append(data)
        if len(batch) == INGEST_BATCH or remaining == 0:
            yield batch
            batch = []


# -- files of older versions -----------------------------------------------------------


def import_legacy_files(conn: Connection, store_dir: Path) -> int:
    """Move the ciphertext files of versions before schema 3 (``store/<2 hex>/<id>``)
    into the database, wipe each once committed, then remove the empty tree.

    Each file is its own transaction, so a crash loses nothing: a file whose
    blob already exists is simply wiped on the next run. A file no item refers
    to (an orphan of the old design) is wiped without being imported.
    """
    if not store_dir.is_dir():
        return 0
    moved = 0
    for sub in sorted(p for p in store_dir.iterdir() if p.is_dir()):
        for path in sorted(sub.iterdir()):
            if not (_is_id(path.name) and path.name.startswith(sub.name) and path.is_file()):
                continue
            item_id = path.name
            wanted = conn.execute(
                "SELECT 1 FROM items WHERE id = ? AND inline IS NULL", (item_id,)
            ).fetchone()
            exists = conn.execute("SELECT 1 FROM blobs WHERE id = ?", (item_id,)).fetchone()
            if wanted and not exists:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    _import_file(conn, item_id, path)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                moved += 1
            wipe_file(path)
        with contextlib.suppress(OSError):
            sub.rmdir()
    with contextlib.suppress(OSError):
        store_dir.rmdir()
    if moved:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return moved


def _import_file(conn: Connection, item_id: str, path: Path) -> None:
    sha = hashlib.sha256()
    size = 0
    n = 0
    conn.execute(
        "INSERT INTO blobs (id, size, sha256, claimed) VALUES (?, NULL, NULL, 1)", (item_id,)
    )
    with path.open("rb") as fh:
        while data := fh.read(CHUNK_BYTES):
            sha.update(data)
            size += len(data)
            conn.execute(
                "INSERT INTO blob_chunks (blob_id, n, data) VALUES (?, ?, ?)", (item_id, n, data)
            )
            n += 1
    conn.execute(
        "UPDATE blobs SET size = ?, sha256 = ? WHERE id = ?", (size, sha.digest(), item_id)
    )
