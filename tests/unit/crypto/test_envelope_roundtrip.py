"""Property tests: whatever goes into an envelope comes out, for every recipient."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    CHUNK_SIZE,
    EnvelopeContext,
    EnvelopeWriter,
    PrivateKey,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
    encrypt_stream,
    envelope_size,
    read_recipient_ids,
)
from tests.unit.crypto.conftest import key_from_byte

# What these tests write: a version 2 envelope bound to one report (the format is the
# same for every context; test_envelope_context.py covers the binding itself).
CTX = EnvelopeContext.report("0123456789abcdef0123456789abcdef")


KEYS = [key_from_byte(value) for value in (1, 2, 3, 4)]
BOUNDARY_SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE]


def payload(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


# Sizes near chunk boundaries, where off-by-one bugs live, and arbitrary ones.
sizes = st.one_of(
    st.sampled_from(BOUNDARY_SIZES),
    st.integers(min_value=0, max_value=3 * CHUNK_SIZE + 7),
)
recipient_sets = st.integers(1, len(KEYS)).flatmap(
    lambda n: st.permutations(KEYS).map(lambda keys: keys[:n])
)


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
def test_envelope_round_trips_at_chunk_boundaries(size: int) -> None:
    plaintext = payload(size, size)
    ciphertext = encrypt_bytes(plaintext, [KEYS[0].public_key], context=CTX)
    assert len(ciphertext) == envelope_size(size, 1, version=2)
    assert decrypt_bytes(ciphertext, KEYS[0], expected=CTX) == plaintext


@settings(max_examples=40, deadline=None)
@given(plaintext=st.binary(max_size=2000), recipients=recipient_sets)
def test_every_recipient_decrypts_small_plaintexts(
    plaintext: bytes, recipients: list[PrivateKey]
) -> None:
    ciphertext = encrypt_bytes(plaintext, [key.public_key for key in recipients], context=CTX)
    for key in recipients:
        assert decrypt_bytes(ciphertext, key, expected=CTX) == plaintext


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), size=sizes, recipients=recipient_sets)
def test_every_recipient_decrypts_any_size(
    seed: int, size: int, recipients: list[PrivateKey]
) -> None:
    plaintext = payload(seed, size)
    publics = [key.public_key for key in recipients]
    ciphertext = encrypt_bytes(plaintext, publics, context=CTX)
    assert len(ciphertext) == envelope_size(size, len(recipients), version=2)
    assert read_recipient_ids(ciphertext) == [key.key_id for key in publics]
    for key in recipients:
        assert decrypt_bytes(ciphertext, key, expected=CTX) == plaintext


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), size=sizes, data=st.data())
def test_writer_with_any_write_splits_decrypts_to_the_concatenation(
    seed: int, size: int, data: st.DataObject
) -> None:
    plaintext = payload(seed, size)
    cuts = sorted(data.draw(st.lists(st.integers(0, size), max_size=12)))
    pieces = [plaintext[a:b] for a, b in zip([0, *cuts], [*cuts, size], strict=True)]
    sink = io.BytesIO()
    with EnvelopeWriter(sink, [KEYS[1].public_key], context=CTX) as writer:
        for index, piece in enumerate(pieces):
            # bytes, bytearray and memoryview are all accepted.
            kind = (bytes, bytearray, memoryview)[index % 3]
            writer.write(kind(piece))
    assert writer.bytes_in == size
    assert writer.bytes_out == len(sink.getvalue()) == envelope_size(size, 1, version=2)
    assert decrypt_bytes(sink.getvalue(), KEYS[1], expected=CTX) == plaintext


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32), size=sizes)
def test_stream_functions_round_trip_and_report_sizes(seed: int, size: int) -> None:
    plaintext = payload(seed, size)
    encrypted = io.BytesIO()
    written = encrypt_stream(io.BytesIO(plaintext), encrypted, [KEYS[2].public_key], context=CTX)
    assert written == len(encrypted.getvalue()) == envelope_size(size, 1, version=2)
    encrypted.seek(0)
    decrypted = io.BytesIO()
    assert decrypt_stream(encrypted, decrypted, KEYS[2], expected=CTX) == size
    assert decrypted.getvalue() == plaintext


def test_two_encryptions_of_the_same_plaintext_differ() -> None:
    publics = [KEYS[0].public_key]
    assert encrypt_bytes(b"same", publics, context=CTX) != encrypt_bytes(
        b"same", publics, context=CTX
    )
