"""Envelopes made with the right file key but breaking the chunking rules are refused.

Only a recipient (or the sender) could build these, so they test that the
reader enforces the format exactly rather than accepting anything that
authenticates. They are built straight from libsodium; this test, like
data/make_vectors.py, imports ``nacl`` on purpose to stand outside the
``crypto`` package.
"""

from __future__ import annotations

import hashlib

import pytest
from nacl import bindings

from crypto import CHUNK_SIZE, DecryptionError, PrivateKey, decrypt_bytes

MESSAGE = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
PUSH = bindings.crypto_secretstream_xchacha20poly1305_TAG_PUSH
REKEY = bindings.crypto_secretstream_xchacha20poly1305_TAG_REKEY
FINAL = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def craft(key: PrivateKey, chunks: list[tuple[bytes, int]], *, ad_on: str = "first") -> bytes:
    """An envelope to ``key`` with exactly these (plaintext, tag) chunks."""
    public = key.public_key.raw
    file_key = bindings.crypto_secretstream_xchacha20poly1305_keygen()
    key_id = hashlib.blake2b(public, digest_size=32, person=b"sesim-keyid").digest()[:8]
    header = b"SESIMENV\x00\x01\x01" + key_id + bindings.crypto_box_seal(file_key, public)
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    header += bindings.crypto_secretstream_xchacha20poly1305_init_push(state, file_key)
    out = [header]
    for index, (plaintext, tag) in enumerate(chunks):
        use_ad = ad_on == "all" or (ad_on == "first" and index == 0)
        ad = header if use_ad else None
        out.append(bindings.crypto_secretstream_xchacha20poly1305_push(state, plaintext, ad, tag))
    return b"".join(out)


def test_crafted_envelope_following_the_rules_decrypts(alice: PrivateKey) -> None:
    chunks = [(bytes(CHUNK_SIZE), MESSAGE), (b"end", FINAL)]
    assert decrypt_bytes(craft(alice, chunks), alice) == bytes(CHUNK_SIZE) + b"end"


def test_envelope_rejects_a_full_size_final_chunk(alice: PrivateKey) -> None:
    with pytest.raises(DecryptionError, match="full-size chunk is marked final"):
        decrypt_bytes(craft(alice, [(bytes(CHUNK_SIZE), FINAL)]), alice)


def test_envelope_rejects_a_short_chunk_not_marked_final(alice: PrivateKey) -> None:
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt_bytes(craft(alice, [(b"short", MESSAGE)]), alice)


def test_envelope_rejects_a_stream_with_no_final_tag(alice: PrivateKey) -> None:
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt_bytes(craft(alice, [(bytes(CHUNK_SIZE), MESSAGE)]), alice)


@pytest.mark.parametrize("tag", [PUSH, REKEY])
def test_envelope_rejects_other_secretstream_tags(alice: PrivateKey, tag: int) -> None:
    with pytest.raises(DecryptionError, match="unexpected chunk tag"):
        decrypt_bytes(craft(alice, [(bytes(CHUNK_SIZE), tag), (b"", FINAL)]), alice)


def test_envelope_rejects_a_first_chunk_without_the_header_as_associated_data(
    alice: PrivateKey,
) -> None:
    with pytest.raises(DecryptionError, match="does not authenticate"):
        decrypt_bytes(craft(alice, [(b"x", FINAL)], ad_on="none"), alice)


def test_envelope_rejects_associated_data_on_later_chunks(alice: PrivateKey) -> None:
    chunks = [(bytes(CHUNK_SIZE), MESSAGE), (b"end", FINAL)]
    with pytest.raises(DecryptionError, match="does not authenticate"):
        decrypt_bytes(craft(alice, chunks, ad_on="all"), alice)


def test_envelope_rejects_chunks_after_the_final_one(alice: PrivateKey) -> None:
    with pytest.raises(DecryptionError):
        decrypt_bytes(craft(alice, [(b"end", FINAL), (b"more", FINAL)]), alice)
