"""Workstation keys: made once, sealed under the passphrase, never on disk in the clear."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from crypto import read_public_key_file
from journalist_interface.workstation import keys
from tests.unit.workstation.conftest import PASSPHRASE, WEAK, make_home


def _encodings(raw: bytes) -> list[bytes]:
    return [
        raw,
        raw.hex().encode(),
        raw.hex().upper().encode(),
        base64.b64encode(raw),
        base64.b64encode(raw).rstrip(b"="),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
        base64.b32encode(raw).rstrip(b"="),
    ]


def test_init_then_unlock_gives_the_same_keys_and_exports_public_halves(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    info = make_home(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for path in home.rglob("*"):
        want = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == want, path
    assert read_public_key_file(home / "reviewer.pub") == info.submission_public
    assert keys.read_verify_key_file(home / "publication.verify") == info.verify_key
    with keys.unlock(home, PASSPHRASE) as unlocked:
        assert unlocked.submission.public_key == info.submission_public
        assert bytes(unlocked.signing.verify_key) == info.verify_key
        assert len(unlocked.db_key) == 32
        assert unlocked.reviewers() == [info.submission_public]
        sub_raw = unlocked.submission.unsafe_raw()
        seed = bytes(unlocked.signing)
        db_key = unlocked.db_key
    assert unlocked.wiped
    with pytest.raises(keys.WorkstationError):
        unlocked.db_key  # noqa: B018 - the property raises once wiped
    # The private keys (and the derived database key) are in no file, in any encoding.
    on_disk = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    for secret in (sub_raw, seed, db_key):
        for form in _encodings(secret):
            assert form not in on_disk
    # Same passphrase, same database key: it is derived, not random.
    with keys.unlock(home, PASSPHRASE) as again:
        assert again.db_key == db_key


def test_wrong_passphrase_is_refused_clearly(ws_home: Path) -> None:
    with pytest.raises(keys.WrongPassphrase, match="Wrong passphrase"):
        keys.unlock(ws_home, PASSPHRASE + "x")
    with pytest.raises(keys.WrongPassphrase):
        keys.unlock(ws_home, "")


def test_an_existing_home_is_never_overwritten(ws_home: Path, tmp_path: Path) -> None:
    before = (ws_home / "workstation.json").read_bytes()
    with pytest.raises(keys.WorkstationError, match="already exists"):
        make_home(ws_home)
    assert (ws_home / "workstation.json").read_bytes() == before
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(keys.WorkstationError, match="already exists"):
        make_home(empty)


def test_weak_kdf_needs_the_test_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SESIM_TESTING_ALLOW_WEAK_KDF")
    with pytest.raises(keys.WorkstationError, match="under the floor"):
        keys.init_home(tmp_path / "ws", PASSPHRASE, name="A", **WEAK)
    assert not (tmp_path / "ws").exists()


def test_short_passphrase_and_bad_name_refused(tmp_path: Path) -> None:
    with pytest.raises(keys.WorkstationError, match="at least"):
        keys.init_home(tmp_path / "a", "short", name="A", **WEAK)
    with pytest.raises(keys.WorkstationError, match="name"):
        keys.init_home(tmp_path / "b", PASSPHRASE, name="a\nb", **WEAK)


def test_damaged_file_is_a_clear_error(ws_home: Path) -> None:
    path = ws_home / "workstation.json"
    path.write_text(path.read_text().replace('"sealed": "', '"sealed": "AAAA'))
    with pytest.raises(keys.WorkstationError):
        keys.unlock(ws_home, PASSPHRASE)
    path.write_text("{not json")
    with pytest.raises(keys.WorkstationError, match="damaged"):
        keys.unlock(ws_home, PASSPHRASE)


def test_colleagues_are_added_once_and_become_recipients(ws_home: Path, tmp_path: Path) -> None:
    other = make_home(tmp_path / "other", name="Leyla")
    key = keys.add_reviewer(ws_home, other.submission_key_file)
    assert key == other.submission_public
    with pytest.raises(keys.WorkstationError, match="already"):
        keys.add_reviewer(ws_home, other.submission_key_file)
    with pytest.raises(keys.WorkstationError, match="own key"):
        keys.add_reviewer(ws_home, ws_home / "reviewer.pub")
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key\n")
    with pytest.raises(keys.WorkstationError, match="not a Səsim reviewer public key"):
        keys.add_reviewer(ws_home, bad)
    with keys.unlock(ws_home, PASSPHRASE) as unlocked:
        assert unlocked.reviewers() == [unlocked.submission.public_key, other.submission_public]
    assert keys.colleague_names(ws_home)[0][1].endswith("Leyla")


def test_fingerprints_are_words_and_differ_per_key(ws_home: Path, tmp_path: Path) -> None:
    info = keys.key_info(ws_home)
    words = info.submission_fingerprint.split()
    assert len(words) == 8 and all(w.isalpha() or "-" in w for w in words)
    other = make_home(tmp_path / "other")
    assert other.submission_fingerprint != info.submission_fingerprint
    assert keys.fingerprint_words(info.verify_key) == info.verify_fingerprint
    assert keys.fingerprint_words(info.verify_key) == keys.fingerprint_words(info.verify_key)
