"""crypto.pgp: OpenPGP through a real gpg, in throwaway keyrings."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto import CryptoError, DecryptionError, FormatError, OpenPGP


@pytest.fixture(scope="module")
def reviewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpenPGP, str]]:
    with OpenPGP(tmp_path_factory.mktemp("gpg") / "reviewer") as gpg:
        yield gpg, gpg.generate_test_key("Aysel Məmmədova", "aysel@example.org")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenPGP]:
    with OpenPGP(tmp_path_factory.mktemp("gpg") / "server") as gpg:
        yield gpg


def test_keyring_directory_is_created_private(reviewer: tuple[OpenPGP, str]) -> None:
    gpg, _ = reviewer
    assert stat.S_IMODE(gpg.homedir.stat().st_mode) == 0o700


def test_existing_keyring_directory_is_made_private(tmp_path: Path) -> None:
    home = tmp_path / "loose"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    with OpenPGP(home):
        assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_generated_key_has_a_40_hex_fingerprint(reviewer: tuple[OpenPGP, str]) -> None:
    _, fingerprint = reviewer
    assert len(fingerprint) == 40 and int(fingerprint, 16) >= 0


def test_openpgp_round_trips_with_a_generated_key(reviewer: tuple[OpenPGP, str]) -> None:
    gpg, fingerprint = reviewer
    plaintext = "Metroda təqib. Tarix: 2024-05-28.".encode() + bytes(range(256))
    ciphertext = gpg.encrypt(plaintext, fingerprint)
    assert plaintext not in ciphertext
    assert not ciphertext.startswith(b"-----BEGIN")  # binary, not armoured
    assert gpg.decrypt(ciphertext) == plaintext


def test_server_encrypts_to_an_imported_public_key(
    reviewer: tuple[OpenPGP, str], server: OpenPGP
) -> None:
    gpg, fingerprint = reviewer
    assert server.import_public_key(gpg.export_public_key(fingerprint)) == fingerprint
    ciphertext = server.encrypt(b"report", fingerprint)
    assert gpg.decrypt(ciphertext) == b"report"
    with pytest.raises(DecryptionError):
        server.decrypt(ciphertext)  # the server holds no secret key


def test_import_refuses_a_secret_key(server: OpenPGP) -> None:
    armored = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxyz\n-----END PGP PRIVATE KEY BLOCK-----\n"
    with pytest.raises(FormatError):
        server.import_public_key(armored)


def test_import_refuses_garbage(server: OpenPGP) -> None:
    with pytest.raises(CryptoError):
        server.import_public_key("not a key")
    broken = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"
    with pytest.raises(CryptoError):
        server.import_public_key(broken)


def test_decrypting_wrong_data_is_a_crypto_error(reviewer: tuple[OpenPGP, str]) -> None:
    gpg, _ = reviewer
    with pytest.raises(CryptoError):
        gpg.decrypt(b"this is not an OpenPGP message")


def test_decrypting_a_modified_message_is_a_crypto_error(reviewer: tuple[OpenPGP, str]) -> None:
    gpg, fingerprint = reviewer
    ciphertext = bytearray(gpg.encrypt(b"x" * 1000, fingerprint))
    ciphertext[-30] ^= 0x01
    with pytest.raises(CryptoError):
        gpg.decrypt(bytes(ciphertext))


def test_encrypting_to_an_unknown_key_is_a_crypto_error(server: OpenPGP) -> None:
    with pytest.raises(CryptoError):
        server.encrypt(b"x", "0123456789ABCDEF0123456789ABCDEF01234567")


@pytest.mark.parametrize("fingerprint", ["", "ABCD", "--armor", "G" * 40])
def test_malformed_fingerprints_are_refused(server: OpenPGP, fingerprint: str) -> None:
    with pytest.raises(FormatError):
        server.encrypt(b"x", fingerprint)


@pytest.mark.parametrize(
    ("name", "email"),
    [("", "a@example.org"), ("Aysel\n%commit", "a@example.org"), ("Aysel", "a@x\nKey-Type: RSA")],
)
def test_key_generation_refuses_parameter_injection(server: OpenPGP, name: str, email: str) -> None:
    with pytest.raises(FormatError):
        server.generate_test_key(name, email)
