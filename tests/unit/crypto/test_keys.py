"""crypto.keys: X25519 keys, their armour and key files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crypto import (
    CryptoError,
    FormatError,
    PrivateKey,
    PublicKey,
    read_private_key_file,
    read_public_key_file,
    write_private_key_file,
    write_public_key_file,
)

# RFC 7748 section 6.1: Alice's X25519 private and public key.
RFC7748_PRIVATE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
RFC7748_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")


def test_private_key_derives_the_rfc7748_public_key() -> None:
    key = PrivateKey(RFC7748_PRIVATE)
    assert key.public_key.raw == RFC7748_PUBLIC
    assert key.unsafe_raw() == RFC7748_PRIVATE


def test_public_key_text_is_prefixed_unpadded_base64url() -> None:
    text = PublicKey(RFC7748_PUBLIC).to_text()
    assert text == "sesim-x25519-pk:hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"


def test_key_id_is_the_start_of_a_personalised_blake2b() -> None:
    import hashlib

    expected = hashlib.blake2b(RFC7748_PUBLIC, digest_size=32, person=b"sesim-keyid")
    assert PublicKey(RFC7748_PUBLIC).key_id == expected.hexdigest()[:16]


def test_public_key_text_round_trips(alice: PrivateKey) -> None:
    text = alice.public_key.to_text()
    assert PublicKey.from_text(text) == alice.public_key
    assert PublicKey.from_text(f"  {text}\n") == alice.public_key


def test_private_key_text_round_trips(alice: PrivateKey) -> None:
    text = alice.to_text()
    assert text.startswith("sesim-x25519-sk:")
    assert PrivateKey.from_text(text).unsafe_raw() == alice.unsafe_raw()


def test_generated_keys_differ_and_match_their_public_half() -> None:
    one, two = PrivateKey.generate(), PrivateKey.generate()
    assert one.unsafe_raw() != two.unsafe_raw()
    assert PrivateKey(one.unsafe_raw()).public_key == one.public_key


def test_from_seed_is_deterministic_and_not_the_seed_itself() -> None:
    seed = bytes(range(32))
    assert PrivateKey.from_seed(seed).public_key == PrivateKey.from_seed(seed).public_key
    assert PrivateKey.from_seed(seed).unsafe_raw() != seed


def test_public_keys_compare_and_hash_by_value(alice: PrivateKey, bob: PrivateKey) -> None:
    copy = PublicKey(alice.public_key.raw)
    assert copy == alice.public_key and hash(copy) == hash(alice.public_key)
    assert alice.public_key != bob.public_key
    assert alice.public_key != alice.public_key.raw
    assert len({copy, alice.public_key, bob.public_key}) == 2


def test_private_key_repr_shows_no_key_material(alice: PrivateKey) -> None:
    shown = repr(alice) + str(alice)
    assert alice.unsafe_raw().hex() not in shown
    assert alice.to_text().split(":")[1] not in shown
    assert "secret" in repr(alice)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_keys_reject_raw_bytes_of_the_wrong_length(size: int) -> None:
    with pytest.raises(FormatError):
        PublicKey(bytes(size))
    with pytest.raises(FormatError):
        PrivateKey(bytes(size))
    with pytest.raises(FormatError):
        PrivateKey.from_seed(bytes(size))


def test_keys_reject_a_str_instead_of_bytes() -> None:
    with pytest.raises(FormatError):
        PublicKey("x" * 32)  # type: ignore[arg-type]


BAD_PUBLIC_TEXTS = [
    "",
    "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo",  # no prefix
    "sesim-x25519-sk:hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo",  # private prefix
    "sesim-x25519-pk:hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTm",  # too short
    "sesim-x25519-pk:hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmoA",  # too long
    "sesim-x25519-pk:hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=",  # padded
    "sesim-x25519-pk:hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo",  # standard alphabet
    "sesim-x25519-pk:hSDwCYkwp1R0i33ctD73Wg2_Og0m OBr066SpjqqbTm",  # inner space
    "sesim-x25519-pk:hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmp",  # non-canonical bits
    "SESIM-X25519-PK:hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo",  # wrong case
]


@pytest.mark.parametrize("text", BAD_PUBLIC_TEXTS)
def test_public_key_from_text_rejects_malformed_armour(text: str) -> None:
    with pytest.raises(FormatError):
        PublicKey.from_text(text)


def test_private_key_from_text_rejects_a_public_key(alice: PrivateKey) -> None:
    with pytest.raises(FormatError):
        PrivateKey.from_text(alice.public_key.to_text())


def test_private_key_file_is_created_0600_whatever_the_umask(
    tmp_path: Path, alice: PrivateKey, permissive_umask: None
) -> None:
    path = tmp_path / "reviewer.sk"
    write_private_key_file(path, alice)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_private_key_file(path).unsafe_raw() == alice.unsafe_raw()


def test_private_key_file_is_never_created_with_wider_permissions(
    tmp_path: Path, alice: PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: list[int] = []
    real_open = os.open

    def spy(path: str, flags: int, mode: int = 0o777) -> int:
        modes.append(mode)
        assert flags & os.O_EXCL and flags & os.O_CREAT
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", spy)
    write_private_key_file(tmp_path / "k", alice)
    assert modes == [0o600]


def test_private_key_file_refuses_to_overwrite(tmp_path: Path, alice: PrivateKey) -> None:
    path = tmp_path / "reviewer.sk"
    path.write_text("precious\n")
    with pytest.raises(CryptoError, match="overwrite"):
        write_private_key_file(path, alice)
    assert path.read_text() == "precious\n"


def test_private_key_file_refuses_to_follow_a_dangling_symlink(
    tmp_path: Path, alice: PrivateKey
) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(CryptoError):
        write_private_key_file(tmp_path / "link", alice)
    assert not target.exists()


def test_public_key_file_has_a_comment_header_and_round_trips(
    tmp_path: Path, alice: PrivateKey
) -> None:
    path = tmp_path / "aysel.pub"
    write_public_key_file(
        path, alice.public_key, comment="Səsim reviewer submission public key: Aysel"
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == [
        "# Səsim reviewer submission public key: Aysel",
        alice.public_key.to_text(),
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert read_public_key_file(path) == alice.public_key


def test_key_file_comment_cannot_inject_a_second_line(tmp_path: Path, alice: PrivateKey) -> None:
    with pytest.raises(FormatError):
        write_public_key_file(tmp_path / "k.pub", alice.public_key, comment="a\nsesim-x25519-pk:x")
    assert not (tmp_path / "k.pub").exists()


def test_key_file_reader_skips_comments_and_blank_lines(tmp_path: Path, bob: PrivateKey) -> None:
    path = tmp_path / "bob.pub"
    path.write_text(f"# one\n\n#two\n{bob.public_key.to_text()}\n\n", encoding="utf-8")
    assert read_public_key_file(path) == bob.public_key


@pytest.mark.parametrize(
    "content",
    ["", "# only a comment\n", "{key}\n{key}\n", "garbage\n", b"\xff\xfe".decode("latin-1")],
)
def test_key_file_reader_rejects_files_without_exactly_one_key(
    tmp_path: Path, bob: PrivateKey, content: str
) -> None:
    path = tmp_path / "bad.pub"
    path.write_text(content.format(key=bob.public_key.to_text()), encoding="utf-8")
    with pytest.raises(FormatError):
        read_public_key_file(path)


def test_key_file_reader_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.pub"
    path.write_bytes(b"\xff\xfe\n")
    with pytest.raises(FormatError):
        read_public_key_file(path)


def test_reading_a_missing_key_file_is_a_crypto_error(tmp_path: Path) -> None:
    with pytest.raises(CryptoError):
        read_private_key_file(tmp_path / "missing")


def test_private_key_file_does_not_read_as_a_public_key(tmp_path: Path, alice: PrivateKey) -> None:
    path = tmp_path / "k"
    write_private_key_file(path, alice)
    with pytest.raises(FormatError):
        read_public_key_file(path)


def test_private_key_cannot_be_pickled_or_copied(alice: PrivateKey) -> None:
    import copy
    import pickle

    with pytest.raises(CryptoError):
        pickle.dumps(alice)
    with pytest.raises(CryptoError):
        copy.deepcopy(alice)
