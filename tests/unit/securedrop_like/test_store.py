"""Ciphertext storage: encrypted spooling into nameless files, blobs as chunked rows,
claiming, deleting, the move of older versions' files into the database."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto import (
    ContextMismatch,
    EnvelopeContext,
    PrivateKey,
    decrypt_bytes,
    read_envelope_context,
)
from securedrop_like import db
from securedrop_like import store as store_module
from securedrop_like.errors import MissingBlob
from securedrop_like.instance import open_instance
from securedrop_like.store import (
    CHUNK_BYTES,
    BlobReader,
    EncryptingSpool,
    new_id,
    read_chunks,
    wipe_file,
)
from tests.conftest import Instance

MARKER = b"PLAINTEXT-MARKER-the-name-of-the-official"


@pytest.fixture
def reviewer() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture
def conn(instance: Instance) -> Iterator[db.Connection]:
    connection = db.Database.for_config(instance.config).open()
    yield connection
    connection.close()


class Capture:
    """An ingest that keeps what the spool hands over (the writer's side)."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.data: dict[str, bytes] = {}
        self.fail = fail

    def __call__(self, spool: EncryptingSpool) -> None:
        if self.fail is not None:
            raise self.fail
        self.data[spool.item_id] = b"".join(
            b"".join(batch) for batch in read_chunks(spool.file, spool.size)
        )


def spool_of(
    folder: Path, reviewer: PrivateKey, ingest: Capture, limit: int = 10**7
) -> EncryptingSpool:
    return EncryptingSpool(folder, [reviewer.public_key], limit, ingest)


def test_new_ids_are_distinct_128_bit_hex() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 32 and int(i, 16) >= 0 and i == i.lower() for i in ids)


def test_a_spool_hands_over_only_ciphertext_and_leaves_no_name_on_disk(
    tmp_path: Path, reviewer: PrivateKey
) -> None:
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o700)
    before = os.stat(folder)
    ingest = Capture()
    body = MARKER + os.urandom(150_000) + MARKER
    spool = spool_of(folder, reviewer, ingest)
    for start in range(0, len(body), 8192):  # as Werkzeug does, chunk by chunk
        assert spool.write(body[start : start + 8192]) == len(body[start : start + 8192])
        assert list(folder.iterdir()) == []  # an O_TMPFILE file: no directory entry
    assert spool.tell() == len(body)
    spool.seek(0)  # end of the uploaded part
    assert spool.finished and spool.ingested and not spool.too_large and not spool.failed
    stored = ingest.data[spool.item_id]
    assert MARKER not in stored
    assert spool.size == len(stored) > len(body)
    assert read_envelope_context(stored) == EnvelopeContext.file(spool.item_id)
    assert decrypt_bytes(stored, reviewer, expected=EnvelopeContext.file(spool.item_id)) == body
    with pytest.raises(ContextMismatch):  # bound to this upload's id: nowhere else
        decrypt_bytes(stored, reviewer, expected=EnvelopeContext.file(new_id()))
    after = os.stat(folder)
    assert list(folder.iterdir()) == []
    # The folder's times say nothing about the upload.
    assert (after.st_mtime_ns, after.st_ctime_ns) == (before.st_mtime_ns, before.st_ctime_ns)


def test_a_spool_cannot_be_read_back(tmp_path: Path, reviewer: PrivateKey) -> None:
    spool = spool_of(tmp_path, reviewer, Capture())
    assert spool.writable() and not spool.readable() and not spool.seekable()
    with pytest.raises(OSError, match="cannot be read"):
        spool.read()
    spool.discard()


def test_an_empty_part_is_not_copied_unless_asked(tmp_path: Path, reviewer: PrivateKey) -> None:
    ingest = Capture()
    spool = spool_of(tmp_path, reviewer, ingest)
    spool.seek(0)
    assert spool.finished and not spool.ingested and ingest.data == {}
    spool.ingest_now()  # an empty file she chose on purpose
    expected = EnvelopeContext.file(spool.item_id)
    assert decrypt_bytes(ingest.data[spool.item_id], reviewer, expected=expected) == b""


def test_a_spool_past_its_limit_keeps_nothing_and_keeps_accepting_writes(
    tmp_path: Path, reviewer: PrivateKey
) -> None:
    ingest = Capture()
    spool = spool_of(tmp_path, reviewer, ingest, limit=10)
    assert spool.write(b"123456") == 6
    assert spool.write(b"7890X") == 5  # one byte over
    assert spool.too_large and spool.plain_size == 6
    # Werkzeug keeps writing the rest of the part, then seeks and closes: no errors.
    assert spool.write(b"more" * 1000) == 4000
    spool.seek(0)
    spool.close()
    assert not spool.finished and ingest.data == {}


@pytest.mark.parametrize("how", ["discard", "close", "too large"])
def test_an_upload_given_up_zeroes_its_envelope_buffers(
    tmp_path: Path, reviewer: PrivateKey, how: str
) -> None:
    """The plaintext waiting in the envelope's chunk buffer is zeroed (the writer is
    aborted, so no final chunk is written either)."""
    spool = spool_of(tmp_path, reviewer, Capture(), limit=len(MARKER) + 10)
    spool.write(MARKER)
    writer = spool._envelope
    assert writer is not None and MARKER in bytes(writer._buf)
    if how == "discard":
        spool.discard()
    elif how == "close":
        spool.close()
    else:
        spool.write(b"x" * 11)
    assert spool._envelope is None
    assert writer._status == "aborted" and not any(writer._buf)


def test_a_failed_write_or_ingest_marks_the_spool_failed_without_raising(
    tmp_path: Path, reviewer: PrivateKey
) -> None:
    full = OSError(28, "No space left on device")
    spool = spool_of(tmp_path, reviewer, Capture(fail=full))
    spool.write(b"x" * 100)
    spool.seek(0)
    assert spool.failed and not spool.ingested
    broken = spool_of(tmp_path, reviewer, Capture())

    class FullFile:
        def write(self, data: bytes) -> int:
            raise full

    broken._envelope._sink = FullFile()  # type: ignore[union-attr]  # the disk fills up
    assert broken.write(os.urandom(200_000)) == 200_000
    broken.seek(0)
    assert broken.failed and not broken.finished


def test_blobs_are_chunked_rows_read_back_one_chunk_at_a_time(conn: db.Connection) -> None:
    blob_id = new_id()
    data = os.urandom(CHUNK_BYTES * 2 + 123)
    chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
    conn.execute("BEGIN")
    store_module.put_chunks(conn, blob_id, 0, chunks[:2], None, None)
    store_module.put_chunks(conn, blob_id, 2, chunks[2:], len(data), hashlib.sha256(data).digest())
    conn.execute("COMMIT")
    rows = conn.execute("SELECT n, length(data) FROM blob_chunks WHERE blob_id = ?", (blob_id,))
    assert rows.fetchall() == [(0, CHUNK_BYTES), (1, CHUNK_BYTES), (2, 123)]
    with BlobReader(conn, blob_id) as reader:
        assert reader.size == len(data)
        pieces = iter(lambda: reader.read(65536), b"")
        assert b"".join(pieces) == data
    assert store_module.blob_sha256(conn, blob_id) == hashlib.sha256(data).hexdigest()
    assert store_module.unclaimed_ids(conn) == {blob_id}


def test_an_unfinished_blob_cannot_be_read_or_claimed(conn: db.Connection) -> None:
    blob_id = new_id()
    store_module.put_chunks(conn, blob_id, 0, [b"half"], None, None)
    with pytest.raises(FileNotFoundError):
        BlobReader(conn, blob_id)
    assert store_module.claim(conn, {blob_id: 4}) == [blob_id]


def test_claim_takes_all_or_none_and_never_twice(conn: db.Connection) -> None:
    here, gone = new_id(), new_id()
    store_module.insert_blob(conn, here, b"ciphertext", claimed=False)
    assert store_module.claim(conn, {here: 10, gone: 3}) == [gone]
    assert store_module.unclaimed_ids(conn) == {here}  # nothing claimed
    assert store_module.claim(conn, {here: 99}) == [here]  # another size: not hers
    assert store_module.claim(conn, {here: 10}) == []
    assert store_module.claim(conn, {here: 10}) == [here]  # already claimed
    assert store_module.delete_unclaimed(conn, [here]) == 0  # a claimed one stays
    assert store_module.delete_blobs(conn, [here, gone]) == 1
    assert conn.execute("SELECT count(*) FROM blob_chunks").fetchone()[0] == 0


def test_appending_to_a_blob_that_is_gone_is_refused(conn: db.Connection) -> None:
    blob_id = new_id()
    store_module.put_chunks(conn, blob_id, 0, [b"a"], None, None)
    store_module.delete_unclaimed(conn, [blob_id])
    with pytest.raises(MissingBlob):
        store_module.put_chunks(conn, blob_id, 1, [b"b"], 2, b"")


def test_files_of_older_versions_move_into_the_database_and_are_wiped(
    instance: Instance, conn: db.Connection
) -> None:
    """Schema 3: every store/ file an item refers to becomes a claimed blob; the file
    is wiped, the tree removed; a file nothing refers to is wiped only."""
    source_id, item_id, orphan = new_id(), new_id(), new_id()
    day = "2026-01-01"
    conn.execute(
        "INSERT INTO sources (id, lookup_id, public_key, designation, created_day,"
        " activity_day) VALUES (?, ?, ?, ?, ?, ?)",
        (source_id, new_id(), b"k" * 32, "d1", day, day),
    )
    conn.execute(
        "INSERT INTO items (id, source_id, seq, kind, day, size) VALUES (?, ?, 1, 'file', ?, ?)",
        (item_id, source_id, day, CHUNK_BYTES + 5),
    )
    legacy = instance.config.store_dir
    content = os.urandom(CHUNK_BYTES + 5)
    for blob, body in ((item_id, content), (orphan, b"nobody's")):
        (legacy / blob[:2]).mkdir(parents=True, exist_ok=True)
        (legacy / blob[:2] / blob).write_bytes(body)
    open_instance(instance.home)
    assert not legacy.exists()
    with BlobReader(conn, item_id) as reader:
        assert reader.read(-1) == content
    assert store_module.blob_sha256(conn, item_id) == hashlib.sha256(content).hexdigest()
    assert store_module.unclaimed_ids(conn) == set()
    assert conn.execute("SELECT id FROM blobs").fetchall() == [(item_id,)]
    open_instance(instance.home)  # again: nothing to do


def test_wipe_file_overwrites_the_content_with_zeros_before_unlinking(tmp_path: Path) -> None:
    path = tmp_path / "victim"
    content = b"\xaa" * (store_module._WIPE_CHUNK + 12345)  # more than one chunk
    path.write_bytes(content)
    same_inode = tmp_path / "hard-link"
    os.link(path, same_inode)
    assert wipe_file(path) is True
    assert not path.exists()
    assert same_inode.read_bytes() == bytes(len(content))


def test_wipe_file_of_a_missing_file_returns_false(tmp_path: Path) -> None:
    assert wipe_file(tmp_path / "never-was") is False
