"""Known-answer vectors pin envelope format version 1.

The vectors were built by data/make_vectors.py straight from libsodium, not
with the crypto package, so these tests check the implementation against
an independent reading of FORMAT.md, and any change that would stop old
envelopes from decrypting fails here.
"""

from __future__ import annotations

import hashlib
import io

import pytest

from crypto import (
    DecryptionError,
    PrivateKey,
    decrypt_bytes,
    decrypt_stream,
    envelope_size,
    read_recipient_ids,
)
from tests.unit.crypto.vectors import envelope_vectors

VECTORS = envelope_vectors()
IDS = [vector["name"] for vector in VECTORS]


def check_plaintext(vector: dict[str, str], plaintext: bytes) -> None:
    if "plaintext" in vector:
        assert plaintext == bytes.fromhex(vector["plaintext"])
    else:
        assert len(plaintext) == int(vector["plaintext_size"])
        assert hashlib.sha256(plaintext).hexdigest() == vector["plaintext_sha256"]


def test_vector_file_has_the_expected_cases() -> None:
    assert IDS == [
        "empty",
        "short-text",
        "two-recipients-second-decrypts",
        "one-full-chunk-then-empty-final",
    ]


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_envelope_vector_decrypts_to_its_plaintext(vector: dict[str, str]) -> None:
    key = PrivateKey.from_seed(bytes.fromhex(vector["decrypt_with"]))
    assert key.public_key.raw.hex() == vector["decrypt_with_public_key"]
    check_plaintext(vector, decrypt_bytes(bytes.fromhex(vector["ciphertext"]), key))


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_envelope_vector_decrypts_as_a_stream(vector: dict[str, str]) -> None:
    key = PrivateKey.from_seed(bytes.fromhex(vector["decrypt_with"]))
    out = io.BytesIO()
    written = decrypt_stream(io.BytesIO(bytes.fromhex(vector["ciphertext"])), out, key)
    assert written == len(out.getvalue())
    check_plaintext(vector, out.getvalue())


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_envelope_vector_has_the_documented_size_and_recipients(vector: dict[str, str]) -> None:
    ciphertext = bytes.fromhex(vector["ciphertext"])
    ids = vector["recipient_key_ids"].split(",")
    size = (
        len(bytes.fromhex(vector["plaintext"]))
        if "plaintext" in vector
        else int(vector["plaintext_size"])
    )
    assert len(ciphertext) == envelope_size(size, len(ids))
    assert read_recipient_ids(ciphertext) == ids
    assert read_recipient_ids(io.BytesIO(ciphertext)) == ids


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_envelope_vector_does_not_open_with_another_key(
    vector: dict[str, str], mallory: PrivateKey
) -> None:
    with pytest.raises(DecryptionError, match="not addressed"):
        decrypt_bytes(bytes.fromhex(vector["ciphertext"]), mallory)
