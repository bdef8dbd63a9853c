"""Ciphertext storage: encrypted spooling, size limits, wiping, orphan sweeps, safe paths."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crypto import PrivateKey, decrypt_bytes
from securedrop_like import store as store_module
from securedrop_like.store import CiphertextStore, EncryptingSpool, new_id, wipe_file

MARKER = b"PLAINTEXT-MARKER-the-name-of-the-official"


@pytest.fixture
def reviewer() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture
def store(tmp_path: Path) -> CiphertextStore:
    root = tmp_path / "store"
    root.mkdir(mode=0o700)  # as init_instance leaves it
    return CiphertextStore(root)


def spool_of(store: CiphertextStore, reviewer: PrivateKey, limit: int = 10**7) -> EncryptingSpool:
    return store.spool([reviewer.public_key], limit)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_ids_are_distinct_128_bit_hex() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 32 and int(i, 16) >= 0 and i == i.lower() for i in ids)


def test_path_for_places_a_file_under_its_first_two_hex_digits(
    store: CiphertextStore,
) -> None:
    item_id = new_id()
    assert store.path_for(item_id) == store.root / item_id[:2] / item_id


@pytest.mark.parametrize(
    "bad",
    [
        "../etc",
        "../../../../../../../../etc/passwd",
        "..%2f" + "0" * 27,
        "0" * 30 + "/x",
        "/" + "0" * 31,
        "0" * 31,
        "0" * 33,
        "A" * 32,
        "g" * 32,
        "",
    ],
)
def test_path_for_rejects_anything_but_a_store_id(store: CiphertextStore, bad: str) -> None:
    with pytest.raises(ValueError, match="not a store id"):
        store.path_for(bad)


def test_a_spool_writes_only_ciphertext_that_the_reviewer_can_open(
    store: CiphertextStore, reviewer: PrivateKey
) -> None:
    body = MARKER + os.urandom(150_000) + MARKER
    spool = spool_of(store, reviewer)
    for start in range(0, len(body), 8192):  # as Werkzeug does, chunk by chunk
        assert spool.write(body[start : start + 8192]) == len(body[start : start + 8192])
    assert spool.tell() == len(body)
    spool.seek(0)  # end of the uploaded part
    assert spool.finished and not spool.too_large and not spool.discarded
    stored = spool.path.read_bytes()
    assert MARKER not in stored
    assert spool.size == len(stored) > len(body)
    assert spool.plain_size == len(body)
    assert decrypt_bytes(stored, reviewer) == body
    assert mode_of(spool.path) == 0o600
    assert mode_of(spool.path.parent) == 0o700
    assert spool.path == store.path_for(spool.item_id)


def test_a_spool_cannot_be_read_back(store: CiphertextStore, reviewer: PrivateKey) -> None:
    spool = spool_of(store, reviewer)
    assert spool.writable() and not spool.readable() and not spool.seekable()
    with pytest.raises(OSError, match="cannot be read"):
        spool.read()
    spool.discard()


def test_a_spool_accepts_exactly_its_limit(store: CiphertextStore, reviewer: PrivateKey) -> None:
    spool = spool_of(store, reviewer, limit=10)
    spool.write(b"12345")
    spool.write(b"67890")
    spool.seek(0)
    assert not spool.too_large and spool.finished
    assert decrypt_bytes(spool.path.read_bytes(), reviewer) == b"1234567890"


def test_a_spool_past_its_limit_wipes_the_partial_file_and_keeps_accepting_writes(
    store: CiphertextStore, reviewer: PrivateKey
) -> None:
    spool = spool_of(store, reviewer, limit=10)
    assert spool.write(b"123456") == 6
    assert spool.path.exists()
    assert spool.write(b"7890X") == 5  # one byte over
    assert spool.too_large and spool.discarded
    assert not spool.path.exists()
    assert spool.plain_size == 6
    # Werkzeug keeps writing the rest of the part, then seeks and closes: no errors.
    assert spool.write(b"more" * 1000) == 4000
    spool.seek(0)
    spool.flush()
    spool.close()
    assert not spool.finished
    assert not spool.path.exists()
    assert list(store.ids()) == []


def test_discard_wipes_a_finished_spool(store: CiphertextStore, reviewer: PrivateKey) -> None:
    spool = spool_of(store, reviewer)
    spool.write(b"abandoned form")
    spool.seek(0)
    assert spool.path.exists()
    spool.discard()
    assert spool.discarded
    assert not spool.path.exists()


def test_discard_wipes_an_unfinished_spool(store: CiphertextStore, reviewer: PrivateKey) -> None:
    spool = spool_of(store, reviewer)
    spool.write(b"half an upload")
    spool.discard()
    assert not spool.path.exists()
    spool.discard()  # twice is harmless


def test_closing_an_unfinished_spool_wipes_it(store: CiphertextStore, reviewer: PrivateKey) -> None:
    spool = spool_of(store, reviewer)
    spool.write(b"cut off")
    spool.close()
    assert not spool.finished
    assert not spool.path.exists()


def test_wipe_file_overwrites_the_content_with_zeros_before_unlinking(tmp_path: Path) -> None:
    path = tmp_path / "victim"
    content = b"\xaa" * (store_module._WIPE_CHUNK + 12345)  # more than one chunk
    path.write_bytes(content)
    same_inode = tmp_path / "hard-link"
    os.link(path, same_inode)
    assert wipe_file(path) is True
    assert not path.exists()
    assert same_inode.read_bytes() == bytes(len(content))


def test_wipe_file_zeroes_before_it_unlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "victim"
    path.write_bytes(b"secret ciphertext")
    seen: list[bytes] = []
    real_unlink = Path.unlink

    def spy(self: Path, missing_ok: bool = False) -> None:
        seen.append(self.read_bytes())
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", spy)
    assert wipe_file(path)
    assert seen == [bytes(len(b"secret ciphertext"))]


def test_wipe_file_of_a_missing_file_returns_false(tmp_path: Path) -> None:
    assert wipe_file(tmp_path / "never-was") is False


def test_write_bytes_stores_privately_and_never_overwrites(store: CiphertextStore) -> None:
    item_id = new_id()
    store.write_bytes(item_id, b"ciphertext")
    with store.open(item_id) as fh:
        assert fh.read() == b"ciphertext"
    assert store.size(item_id) == len(b"ciphertext")
    assert mode_of(store.path_for(item_id)) == 0o600
    with pytest.raises(FileExistsError):
        store.write_bytes(item_id, b"replacement")
    with store.open(item_id) as fh:
        assert fh.read() == b"ciphertext"


def test_delete_counts_only_files_that_existed(store: CiphertextStore) -> None:
    present, absent = new_id(), new_id()
    store.write_bytes(present, b"x")
    assert store.delete([present, absent]) == 1
    assert not store.path_for(present).exists()


def test_sweep_removes_only_ids_that_nothing_refers_to(store: CiphertextStore) -> None:
    known, kept, orphan = new_id(), new_id(), new_id()
    for item_id in (known, kept, orphan):
        store.write_bytes(item_id, b"x")
    assert set(store.ids()) == {known, kept, orphan}
    assert store.sweep({known}, keep={kept}) == 1
    assert set(store.ids()) == {known, kept}
    assert store.sweep({known, kept}) == 0


def test_an_empty_or_missing_store_has_no_ids(tmp_path: Path) -> None:
    assert list(CiphertextStore(tmp_path / "nowhere").ids()) == []
    assert CiphertextStore(tmp_path / "nowhere").sweep(set()) == 0


def test_sweep_survives_a_stray_file_and_still_wipes_orphans(store: CiphertextStore) -> None:
    orphan = new_id()
    store.write_bytes(orphan, b"x")
    (store.path_for(orphan).parent / "notes.txt").write_text("left by an admin")
    assert store.sweep(set()) == 1
    assert not store.path_for(orphan).exists()
