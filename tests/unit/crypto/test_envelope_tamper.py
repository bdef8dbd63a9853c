"""Envelopes that were changed, cut, reordered, extended or misaddressed never decrypt.

The envelopes tampered with here are version 1 (written with the legacy writer): the
offsets below follow its header, and version 1 is still read, so it must still refuse
every change. Version 2's header and context are tampered with in
test_envelope_context.py."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    CHUNK_SIZE,
    CryptoError,
    DecryptionError,
    EnvelopeContext,
    EnvelopeReader,
    FormatError,
    PrivateKey,
    PublicKey,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
)
from crypto.envelope import legacy_v1_encrypt_bytes
from tests.unit.crypto.conftest import key_from_byte

ALICE, BOB, MALLORY = key_from_byte(0x0A), key_from_byte(0x0B), key_from_byte(0x0C)
SEALED_CHUNK = CHUNK_SIZE + 17
CTX = EnvelopeContext.report("0123456789abcdef0123456789abcdef")


def header_size(n_recipients: int) -> int:
    return 35 + 88 * n_recipients


# Built once: a small envelope (checked exhaustively) and a three-chunk one.
SMALL = legacy_v1_encrypt_bytes(b"ten bytes!", [ALICE.public_key])
BIG_PLAINTEXT = bytes(range(256)) * (2 * CHUNK_SIZE // 256) + b"tail" * 25
BIG = legacy_v1_encrypt_bytes(BIG_PLAINTEXT, [ALICE.public_key, BOB.public_key])
BIG_BODY = header_size(2)
CHUNKS = [BIG[BIG_BODY + i * SEALED_CHUNK : BIG_BODY + (i + 1) * SEALED_CHUNK] for i in range(3)]
assert len(CHUNKS[0]) == len(CHUNKS[1]) == SEALED_CHUNK and len(CHUNKS[2]) == 100 + 17


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def test_untouched_envelopes_decrypt() -> None:
    assert decrypt_bytes(SMALL, ALICE) == b"ten bytes!"
    assert decrypt_bytes(BIG, BOB) == BIG_PLAINTEXT


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_envelope_rejects_any_flipped_byte_of_a_small_envelope(mask: int) -> None:
    for index in range(len(SMALL)):
        with pytest.raises((DecryptionError, FormatError)):
            decrypt_bytes(flip(SMALL, index, mask), ALICE)


@settings(max_examples=150, deadline=None)
@given(index=st.integers(0, len(BIG) - 1), mask=st.integers(1, 255), reader=st.sampled_from([0, 1]))
def test_envelope_rejects_any_flipped_byte_of_a_multi_chunk_envelope(
    index: int, mask: int, reader: int
) -> None:
    with pytest.raises((DecryptionError, FormatError)):
        decrypt_bytes(flip(BIG, index, mask), (ALICE, BOB)[reader])


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, BIG_BODY - 1), mask=st.integers(1, 255))
def test_envelope_rejects_any_flipped_header_byte(index: int, mask: int) -> None:
    with pytest.raises((DecryptionError, FormatError)):
        decrypt_bytes(flip(BIG, index, mask), BOB)


def test_envelope_rejects_every_truncation_of_a_small_envelope() -> None:
    for length in range(len(SMALL)):
        with pytest.raises(DecryptionError):
            decrypt_bytes(SMALL[:length], ALICE)


def test_envelope_rejects_truncated_stream() -> None:
    with pytest.raises(DecryptionError):
        decrypt_bytes(BIG[:-1], ALICE)


def test_envelope_rejects_a_cut_exactly_at_a_chunk_boundary() -> None:
    for n_chunks in (0, 1, 2):
        with pytest.raises(DecryptionError, match="truncated"):
            decrypt_bytes(BIG[: BIG_BODY + n_chunks * SEALED_CHUNK], ALICE)


@pytest.mark.parametrize("dropped", [0, 1, 2])
def test_envelope_rejects_a_dropped_chunk(dropped: int) -> None:
    body = b"".join(chunk for i, chunk in enumerate(CHUNKS) if i != dropped)
    with pytest.raises(DecryptionError):
        decrypt_bytes(BIG[:BIG_BODY] + body, ALICE)


def test_envelope_rejects_two_swapped_chunks() -> None:
    swapped = BIG[:BIG_BODY] + CHUNKS[1] + CHUNKS[0] + CHUNKS[2]
    with pytest.raises(DecryptionError):
        decrypt_bytes(swapped, ALICE)


def test_envelope_rejects_a_repeated_chunk() -> None:
    replayed = BIG[:BIG_BODY] + CHUNKS[0] + CHUNKS[0] + CHUNKS[1] + CHUNKS[2]
    with pytest.raises(DecryptionError):
        decrypt_bytes(replayed, ALICE)


@pytest.mark.parametrize("extra", [b"\x00", b"more data", SMALL])
def test_envelope_rejects_trailing_data(extra: bytes) -> None:
    # The final chunk has no length field: appended bytes become part of it
    # and it no longer authenticates.
    with pytest.raises(DecryptionError):
        decrypt_bytes(SMALL + extra, ALICE)
    with pytest.raises(DecryptionError):
        decrypt_stream(io.BytesIO(BIG + extra), io.BytesIO(), BOB)


def test_envelope_rejects_the_wrong_key() -> None:
    with pytest.raises(DecryptionError, match="not addressed to this key"):
        decrypt_bytes(BIG, MALLORY)


def test_envelope_rejects_a_slot_relabelled_for_another_key() -> None:
    # Put Mallory's key id on Alice's slot: the id matches, the seal does not open.
    forged = SMALL[:11] + bytes.fromhex(MALLORY.public_key.key_id) + SMALL[19:]
    with pytest.raises(DecryptionError, match="does not open"):
        decrypt_bytes(forged, MALLORY)


def test_envelope_rejects_a_header_with_a_recipient_removed() -> None:
    only_alice = BIG[:10] + b"\x01" + BIG[11 : 11 + 88] + BIG[11 + 176 :]
    with pytest.raises(DecryptionError):
        decrypt_bytes(only_alice, ALICE)


def test_envelope_rejects_a_body_spliced_under_another_header() -> None:
    other = legacy_v1_encrypt_bytes(b"ten bytes?", [ALICE.public_key])
    spliced = other[: header_size(1)] + SMALL[header_size(1) :]
    with pytest.raises(DecryptionError):
        decrypt_bytes(spliced, ALICE)


@pytest.mark.parametrize("magic", [b"SESIMENW", b"\x00" * 8, b"-----BEG"])
def test_envelope_rejects_wrong_magic(magic: bytes) -> None:
    with pytest.raises(FormatError, match="magic"):
        decrypt_bytes(magic + SMALL[8:], ALICE)


@pytest.mark.parametrize("version", [0, 3, 256, 0xFFFF])
def test_envelope_rejects_unknown_version(version: int) -> None:
    with pytest.raises(FormatError, match="version"):
        decrypt_bytes(SMALL[:8] + version.to_bytes(2, "big") + SMALL[10:], ALICE)


@pytest.mark.parametrize("count", [0, 33, 255])
def test_envelope_rejects_an_impossible_recipient_count(count: int) -> None:
    with pytest.raises(FormatError, match="recipient count"):
        decrypt_bytes(SMALL[:10] + bytes([count]) + SMALL[11:], ALICE)


@pytest.mark.parametrize("data", [b"", b"SES", b"SESIMENV\x00"])
def test_envelope_reports_a_cut_header_as_truncation(data: bytes) -> None:
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt_bytes(data, ALICE)


def test_envelope_rejects_non_envelope_input() -> None:
    with pytest.raises(FormatError):
        decrypt_bytes(b"%PDF-1.7 hello", ALICE)


def test_encryption_refuses_zero_recipients() -> None:
    with pytest.raises(CryptoError, match="1 to 32 recipients"):
        encrypt_bytes(b"x", [], context=CTX)


def test_encryption_refuses_too_many_recipients() -> None:
    keys = [key_from_byte(i).public_key for i in range(33)]
    assert (
        decrypt_bytes(encrypt_bytes(b"x", keys[:32], context=CTX), key_from_byte(31), expected=CTX)
        == b"x"
    )
    with pytest.raises(CryptoError, match="1 to 32 recipients"):
        encrypt_bytes(b"x", keys, context=CTX)


def test_encryption_refuses_a_duplicate_recipient() -> None:
    with pytest.raises(CryptoError, match="twice"):
        encrypt_bytes(b"x", [ALICE.public_key, PublicKey(ALICE.public_key.raw)], context=CTX)


def test_encryption_refuses_something_that_is_not_a_public_key() -> None:
    with pytest.raises(CryptoError):
        encrypt_bytes(b"x", [ALICE.public_key.raw], context=CTX)  # type: ignore[list-item]


def test_encryption_refuses_a_low_order_public_key() -> None:
    with pytest.raises(CryptoError, match="cannot seal"):
        encrypt_bytes(b"x", [PublicKey(bytes(32))], context=CTX)


def test_reader_stays_failed_after_an_error() -> None:
    reader = EnvelopeReader(io.BytesIO(BIG[:-1]), ALICE)
    assert len(reader.read_chunk() or b"") == CHUNK_SIZE
    assert len(reader.read_chunk() or b"") == CHUNK_SIZE
    with pytest.raises(DecryptionError):
        reader.read_chunk()
    with pytest.raises(DecryptionError, match="already failed"):
        reader.read_chunk()
    assert not reader.complete


def test_decryption_refuses_something_that_is_not_a_private_key() -> None:
    with pytest.raises(CryptoError):
        decrypt_bytes(SMALL, ALICE.public_key)  # type: ignore[arg-type]
    with pytest.raises(CryptoError):
        decrypt_bytes("text", ALICE)  # type: ignore[arg-type]


def test_private_key_type_is_what_decrypts() -> None:
    assert isinstance(ALICE, PrivateKey)
