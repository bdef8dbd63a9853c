"""Known-answer vectors pin envelope format versions 1 and 2.

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
    ContextMismatch,
    DecryptionError,
    EnvelopeContext,
    EnvelopeReader,
    PrivateKey,
    PublicKey,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
    envelope_size,
    read_envelope_context,
    read_recipient_ids,
    source_key_hash,
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


def test_version_1_vectors_open_with_an_expected_context_too() -> None:
    # Legacy: a version 1 envelope carries no context, so whatever the caller
    # expects, it opens (FORMAT.md, "Where the context travels").
    vector = VECTORS[1]
    key = PrivateKey.from_seed(bytes.fromhex(vector["decrypt_with"]))
    ciphertext = bytes.fromhex(vector["ciphertext"])
    expected = EnvelopeContext.report("ab" * 16)
    check_plaintext(vector, decrypt_bytes(ciphertext, key, expected=expected))
    reader = EnvelopeReader(io.BytesIO(ciphertext), key, expected=expected)
    assert reader.version == 1 and reader.context is None
    assert read_envelope_context(ciphertext) is None


# -- version 2 -------------------------------------------------------------------------

V2_VECTORS = envelope_vectors(2)
V2_IDS = [vector["name"] for vector in V2_VECTORS]


def context_of(vector: dict[str, str]) -> EnvelopeContext:
    source = vector.get("context_source_public_key")
    return EnvelopeContext.for_item(
        vector["context_kind"],
        vector["context_item_id"],
        PublicKey(bytes.fromhex(source)) if source else None,
    )


def plaintext_size(vector: dict[str, str]) -> int:
    if "plaintext" in vector:
        return len(bytes.fromhex(vector["plaintext"]))
    return int(vector["plaintext_size"])


def test_version_2_vector_file_has_the_expected_cases() -> None:
    assert V2_IDS == [
        "report-empty",
        "report-short-text",
        "message-short",
        "file-two-chunks-and-a-tail",
        "reply-opened-by-the-source",
        "reply-opened-by-a-reviewer",
    ]
    assert {vector["context_kind"] for vector in V2_VECTORS} == {
        "report",
        "message",
        "file",
        "reply",
    }


@pytest.mark.parametrize("vector", V2_VECTORS, ids=V2_IDS)
def test_version_2_vector_decrypts_with_its_context(vector: dict[str, str]) -> None:
    key = PrivateKey.from_seed(bytes.fromhex(vector["decrypt_with"]))
    assert key.public_key.raw.hex() == vector["decrypt_with_public_key"]
    ciphertext = bytes.fromhex(vector["ciphertext"])
    expected = context_of(vector)
    check_plaintext(vector, decrypt_bytes(ciphertext, key, expected=expected))
    out = io.BytesIO()
    written = decrypt_stream(io.BytesIO(ciphertext), out, key, expected=expected)
    assert written == len(out.getvalue())
    check_plaintext(vector, out.getvalue())
    reader = EnvelopeReader(io.BytesIO(ciphertext), key, expected=expected)
    assert reader.version == 2 and reader.context == expected


@pytest.mark.parametrize("vector", V2_VECTORS, ids=V2_IDS)
def test_version_2_vector_needs_its_context(vector: dict[str, str]) -> None:
    key = PrivateKey.from_seed(bytes.fromhex(vector["decrypt_with"]))
    ciphertext = bytes.fromhex(vector["ciphertext"])
    with pytest.raises(ContextMismatch, match="expected context"):
        decrypt_bytes(ciphertext, key)
    other_id = EnvelopeContext.for_item(vector["context_kind"], "0" * 32, _source_of(vector))
    with pytest.raises(ContextMismatch, match="another item"):
        decrypt_bytes(ciphertext, key, expected=other_id)


def _source_of(vector: dict[str, str]) -> PublicKey | None:
    source = vector.get("context_source_public_key")
    return PublicKey(bytes.fromhex(source)) if source else None


@pytest.mark.parametrize("vector", V2_VECTORS, ids=V2_IDS)
def test_version_2_vector_has_the_documented_layout(vector: dict[str, str]) -> None:
    ciphertext = bytes.fromhex(vector["ciphertext"])
    ids = vector["recipient_key_ids"].split(",")
    assert len(ciphertext) == envelope_size(plaintext_size(vector), len(ids), version=2)
    assert read_recipient_ids(ciphertext) == ids
    assert read_recipient_ids(io.BytesIO(ciphertext)) == ids
    assert read_envelope_context(ciphertext) == context_of(vector)
    if "context_source_hash" in vector:
        source = _source_of(vector)
        assert source is not None
        assert source_key_hash(source).hex() == vector["context_source_hash"]


@pytest.mark.parametrize("vector", V2_VECTORS, ids=V2_IDS)
def test_our_writer_writes_the_same_version_2_header_as_the_spec(
    vector: dict[str, str],
) -> None:
    # Everything in the header that is not random (magic, version, count,
    # context block, key ids) matches the independent generator's bytes.
    ciphertext = bytes.fromhex(vector["ciphertext"])
    n = len(vector["recipient_key_ids"].split(","))
    recipients = [PublicKey(bytes.fromhex(pk)) for pk in _public_keys_in_slot_order(vector)]
    ours = encrypt_bytes(b"", recipients, context=context_of(vector))
    assert ours[:60] == ciphertext[:60]
    for i in range(n):
        assert ours[60 + 88 * i : 68 + 88 * i] == ciphertext[60 + 88 * i : 68 + 88 * i]


def _public_keys_in_slot_order(vector: dict[str, str]) -> list[str]:
    seeds = [bytes([i]) * 32 for i in (0x11, 0x22, 0x33, 0x5A)]
    by_id = {PrivateKey.from_seed(seed).public_key.key_id: seed for seed in seeds}
    return [
        PrivateKey.from_seed(by_id[key_id]).public_key.raw.hex()
        for key_id in vector["recipient_key_ids"].split(",")
    ]


@pytest.mark.parametrize("vector", V2_VECTORS, ids=V2_IDS)
def test_version_2_vector_does_not_open_with_another_key(
    vector: dict[str, str], mallory: PrivateKey
) -> None:
    with pytest.raises(DecryptionError, match="not addressed"):
        decrypt_bytes(bytes.fromhex(vector["ciphertext"]), mallory, expected=context_of(vector))
