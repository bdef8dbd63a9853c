"""Version 2 envelopes are bound to their item: id, kind and, for a reply, the source.

A ciphertext moved to another item, kind or source, a header whose context
was rewritten to match where it was moved, a v2 header downgraded to v1 and
a cut context block all fail to open; v1 envelopes still open.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    CHUNK_SIZE,
    ContextMismatch,
    CryptoError,
    DecryptionError,
    EnvelopeContext,
    EnvelopeReader,
    EnvelopeWriter,
    FormatError,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
    encrypt_stream,
    envelope_size,
    read_envelope_context,
    read_recipient_ids,
    source_key_hash,
)
from crypto.envelope import legacy_v1_encrypt_bytes
from tests.unit.crypto.conftest import key_from_byte

REVIEWER, SOURCE, OTHER_SOURCE = key_from_byte(0x21), key_from_byte(0x22), key_from_byte(0x23)
ITEM = "0123456789abcdef0123456789abcdef"
OTHER_ITEM = "fedcba9876543210fedcba9876543210"
CONTEXT_END = 60  # magic 8 + version 2 + count 1 + context block 49

REPORT = EnvelopeContext.report(ITEM)
REPORT_CT = encrypt_bytes(b"what happened on the bus", [REVIEWER.public_key], context=REPORT)
REPLY = EnvelopeContext.reply(ITEM, SOURCE.public_key)
REPLY_CT = encrypt_bytes(b"We can help.", [SOURCE.public_key, REVIEWER.public_key], context=REPLY)
V1_CT = legacy_v1_encrypt_bytes(b"legacy report", [REVIEWER.public_key])


def contexts() -> st.SearchStrategy[EnvelopeContext]:
    ids = st.binary(min_size=16, max_size=16).map(bytes.hex)
    plain = st.builds(EnvelopeContext.for_item, st.sampled_from(["report", "message", "file"]), ids)
    replies = st.builds(
        EnvelopeContext.reply, ids, st.sampled_from([SOURCE.public_key, OTHER_SOURCE.public_key])
    )
    return st.one_of(plain, replies)


# -- the context value ------------------------------------------------------------------


def test_each_kind_has_a_constructor() -> None:
    assert EnvelopeContext.report(ITEM).kind == "report"
    assert EnvelopeContext.message(ITEM).kind == "message"
    assert EnvelopeContext.file(ITEM).kind == "file"
    reply = EnvelopeContext.reply(ITEM, SOURCE.public_key)
    assert reply.kind == "reply" and reply.item_id == ITEM
    assert reply.source_key_hash == source_key_hash(SOURCE.public_key)
    assert EnvelopeContext.for_item("reply", ITEM, SOURCE.public_key) == reply
    assert EnvelopeContext.for_item("file", ITEM) == EnvelopeContext.file(ITEM)


def test_source_key_hash_is_a_personalised_blake2b() -> None:
    import hashlib

    raw = SOURCE.public_key.raw
    digest = hashlib.blake2b(raw, digest_size=32, person=b"sesim-ctx-source").digest()
    assert source_key_hash(SOURCE.public_key) == digest
    assert digest[:8] != bytes.fromhex(SOURCE.public_key.key_id)  # not the key id


@pytest.mark.parametrize(
    "item_id",
    [ITEM.upper(), ITEM[:-1], ITEM + "0", "g" * 32, "", None, b"0" * 32, " " + ITEM[1:]],
)
def test_context_refuses_a_malformed_item_id(item_id: object) -> None:
    with pytest.raises(CryptoError, match="32 lowercase hex"):
        EnvelopeContext.report(item_id)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["Report", "upload", "", "reply "])
def test_context_refuses_an_unknown_kind(kind: str) -> None:
    with pytest.raises(CryptoError, match="kind"):
        EnvelopeContext(ITEM, kind)  # type: ignore[arg-type]
    with pytest.raises(CryptoError, match="kind"):
        EnvelopeContext.for_item(kind, ITEM)


def test_a_reply_context_needs_a_source_and_only_a_reply_has_one() -> None:
    with pytest.raises(CryptoError, match="source"):
        EnvelopeContext(ITEM, "reply")
    with pytest.raises(CryptoError, match="source"):
        EnvelopeContext(ITEM, "reply", bytes(32))
    with pytest.raises(CryptoError, match="source"):
        EnvelopeContext(ITEM, "reply", b"\x01" * 31)
    with pytest.raises(CryptoError, match="source"):
        EnvelopeContext.for_item("reply", ITEM)
    with pytest.raises(CryptoError, match="only a reply"):
        EnvelopeContext(ITEM, "report", b"\x01" * 32)
    with pytest.raises(CryptoError, match="only a reply"):
        EnvelopeContext.for_item("message", ITEM, SOURCE.public_key)
    with pytest.raises(CryptoError, match="PublicKey"):
        EnvelopeContext.reply(ITEM, SOURCE.public_key.raw)  # type: ignore[arg-type]


def test_context_is_frozen_and_compares_by_value() -> None:
    assert EnvelopeContext.report(ITEM) == REPORT
    assert hash(EnvelopeContext.report(ITEM)) == hash(REPORT)
    assert EnvelopeContext.message(ITEM) != REPORT
    assert EnvelopeContext.reply(ITEM, OTHER_SOURCE.public_key) != REPLY
    with pytest.raises(AttributeError):
        REPORT.item_id = OTHER_ITEM  # type: ignore[misc]


def test_context_repr_shows_no_item_id() -> None:
    # Item ids must not reach logs; a context in a traceback shows its kind only.
    assert ITEM not in repr(REPLY) and "reply" in repr(REPLY)
    assert source_key_hash(SOURCE.public_key).hex() not in repr(REPLY)


@given(context=contexts())
def test_context_block_round_trips(context: EnvelopeContext) -> None:
    block = context.to_bytes()
    assert len(block) == 49
    assert EnvelopeContext.from_bytes(block) == context


@pytest.mark.parametrize(
    "block",
    [
        bytes([0]) + bytes.fromhex(ITEM) + bytes(32),  # kind 0
        bytes([5]) + bytes.fromhex(ITEM) + bytes(32),  # kind 5
        bytes([4]) + bytes.fromhex(ITEM) + bytes(32),  # a reply naming no source
        bytes([1]) + bytes.fromhex(ITEM) + b"\x01" * 32,  # a report naming a source
        bytes([1]) + bytes.fromhex(ITEM) + bytes(31),  # short
    ],
)
def test_malformed_context_blocks_are_format_errors(block: bytes) -> None:
    with pytest.raises(FormatError):
        EnvelopeContext.from_bytes(block)


# -- writing and reading ----------------------------------------------------------------


def test_a_context_makes_a_version_2_envelope_with_the_context_in_its_header() -> None:
    assert REPORT_CT[8:10] == b"\x00\x02" and V1_CT[8:10] == b"\x00\x01"
    assert REPORT_CT[11:CONTEXT_END] == REPORT.to_bytes()
    assert len(REPORT_CT) == envelope_size(24, 1, version=2) == len(V1_CT) - 13 + 24 + 49
    assert read_envelope_context(REPORT_CT) == REPORT
    assert read_envelope_context(io.BytesIO(REPLY_CT)) == REPLY
    assert read_recipient_ids(REPLY_CT) == [SOURCE.public_key.key_id, REVIEWER.public_key.key_id]


def test_the_right_context_opens_it() -> None:
    assert decrypt_bytes(REPORT_CT, REVIEWER, expected=REPORT) == b"what happened on the bus"
    assert decrypt_bytes(REPLY_CT, SOURCE, expected=REPLY) == b"We can help."
    assert decrypt_bytes(REPLY_CT, REVIEWER, expected=REPLY) == b"We can help."


def test_a_version_2_envelope_never_vouches_for_itself() -> None:
    with pytest.raises(ContextMismatch, match="expected context"):
        decrypt_bytes(REPORT_CT, REVIEWER)
    with pytest.raises(ContextMismatch, match="expected context"):
        decrypt_stream(io.BytesIO(REPORT_CT), io.BytesIO(), REVIEWER)
    with pytest.raises(ContextMismatch, match="expected context"):
        EnvelopeReader(io.BytesIO(REPORT_CT), REVIEWER)


def test_moved_to_another_item_it_fails_clearly() -> None:
    with pytest.raises(ContextMismatch, match="another item") as caught:
        decrypt_bytes(REPORT_CT, REVIEWER, expected=EnvelopeContext.report(OTHER_ITEM))
    # The message names the field, never the ids (it may reach a log).
    assert ITEM not in str(caught.value) and OTHER_ITEM not in str(caught.value)
    assert isinstance(caught.value, DecryptionError)


def test_read_as_another_kind_it_fails_clearly() -> None:
    for wrong in (EnvelopeContext.message(ITEM), EnvelopeContext.file(ITEM)):
        with pytest.raises(ContextMismatch, match="another kind"):
            decrypt_bytes(REPORT_CT, REVIEWER, expected=wrong)
    with pytest.raises(ContextMismatch, match="another kind"):
        decrypt_bytes(REPLY_CT, REVIEWER, expected=EnvelopeContext.report(ITEM))


def test_a_reply_moved_to_another_source_fails_clearly() -> None:
    # The reviewer can open the reply, but not as one to another source.
    moved = EnvelopeContext.reply(ITEM, OTHER_SOURCE.public_key)
    with pytest.raises(ContextMismatch, match="another source") as caught:
        decrypt_bytes(REPLY_CT, REVIEWER, expected=moved)
    assert source_key_hash(OTHER_SOURCE.public_key).hex() not in str(caught.value)
    with pytest.raises(ContextMismatch, match="another source"):
        decrypt_stream(io.BytesIO(REPLY_CT), io.BytesIO(), REVIEWER, expected=moved)


def test_a_header_rewritten_to_the_new_place_does_not_authenticate() -> None:
    # Whoever moves the ciphertext also rewrites its context to match: the
    # header is authenticated with the first chunk, so it no longer opens.
    for forged_context in (
        EnvelopeContext.report(OTHER_ITEM),
        EnvelopeContext.message(ITEM),
    ):
        forged = REPORT_CT[:11] + forged_context.to_bytes() + REPORT_CT[CONTEXT_END:]
        assert read_envelope_context(forged) == forged_context
        with pytest.raises(DecryptionError, match="does not authenticate") as caught:
            decrypt_bytes(forged, REVIEWER, expected=forged_context)
        assert not isinstance(caught.value, ContextMismatch)
    moved = EnvelopeContext.reply(ITEM, OTHER_SOURCE.public_key)
    forged = REPLY_CT[:11] + moved.to_bytes() + REPLY_CT[CONTEXT_END:]
    with pytest.raises(DecryptionError, match="does not authenticate"):
        decrypt_bytes(forged, REVIEWER, expected=moved)


@settings(max_examples=80, deadline=None)
@given(index=st.integers(11, CONTEXT_END - 1), mask=st.integers(1, 255))
def test_any_changed_context_byte_fails(index: int, mask: int) -> None:
    changed = bytearray(REPLY_CT)
    changed[index] ^= mask
    claimed = None
    try:
        claimed = read_envelope_context(bytes(changed))
    except FormatError:
        pass
    for expected in {REPLY, claimed} - {None}:
        with pytest.raises((DecryptionError, FormatError)):
            decrypt_bytes(bytes(changed), REVIEWER, expected=expected)


@pytest.mark.parametrize("expected", [REPORT, None])
def test_a_version_2_header_downgraded_to_version_1_fails(
    expected: EnvelopeContext | None,
) -> None:
    downgraded = REPORT_CT[:8] + b"\x00\x01" + REPORT_CT[10:11] + REPORT_CT[CONTEXT_END:]
    assert read_envelope_context(downgraded) is None
    with pytest.raises(DecryptionError, match="does not authenticate"):
        decrypt_bytes(downgraded, REVIEWER, expected=expected)


def test_a_version_2_header_relabelled_version_1_without_removing_the_context_fails() -> None:
    relabelled = REPORT_CT[:8] + b"\x00\x01" + REPORT_CT[10:]
    with pytest.raises(DecryptionError):
        decrypt_bytes(relabelled, REVIEWER, expected=REPORT)


def test_a_version_1_envelope_upgraded_with_a_context_fails() -> None:
    upgraded = V1_CT[:8] + b"\x00\x02" + V1_CT[10:11] + REPORT.to_bytes() + V1_CT[11:]
    assert read_envelope_context(upgraded) == REPORT
    with pytest.raises(DecryptionError, match="does not authenticate"):
        decrypt_bytes(upgraded, REVIEWER, expected=REPORT)


@pytest.mark.parametrize("length", range(11, CONTEXT_END))
def test_a_cut_context_block_is_truncation(length: int) -> None:
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt_bytes(REPORT_CT[:length], REVIEWER, expected=REPORT)
    with pytest.raises(DecryptionError, match="truncated"):
        read_envelope_context(REPORT_CT[:length])


def test_every_truncation_of_a_version_2_envelope_fails() -> None:
    for length in range(len(REPORT_CT)):
        with pytest.raises(DecryptionError):
            decrypt_bytes(REPORT_CT[:length], REVIEWER, expected=REPORT)


def test_version_1_still_opens_with_or_without_an_expected_context() -> None:
    assert decrypt_bytes(V1_CT, REVIEWER) == b"legacy report"
    assert decrypt_bytes(V1_CT, REVIEWER, expected=REPORT) == b"legacy report"
    reader = EnvelopeReader(io.BytesIO(V1_CT), REVIEWER, expected=REPORT)
    assert reader.version == 1 and reader.context is None
    assert envelope_size(13, 1) == len(V1_CT)


def test_context_and_expected_must_be_envelope_contexts() -> None:
    with pytest.raises(CryptoError, match="EnvelopeContext"):
        encrypt_bytes(b"x", [REVIEWER.public_key], context=ITEM)  # type: ignore[arg-type]
    with pytest.raises(CryptoError, match="EnvelopeContext"):
        decrypt_bytes(REPORT_CT, REVIEWER, expected=ITEM)  # type: ignore[arg-type]
    with pytest.raises(CryptoError, match="version"):
        envelope_size(1, 1, version=3)


# -- round trips ------------------------------------------------------------------------

SIZES = st.one_of(
    st.integers(0, 300),
    st.sampled_from([CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE]),
)


@settings(max_examples=40, deadline=None)
@given(context=contexts(), size=SIZES, seed=st.integers(0, 255))
def test_round_trip_in_memory(context: EnvelopeContext, size: int, seed: int) -> None:
    plaintext = bytes((seed + i * 31) % 256 for i in range(size))
    recipients = [SOURCE.public_key, REVIEWER.public_key]
    ciphertext = encrypt_bytes(plaintext, recipients, context=context)
    assert len(ciphertext) == envelope_size(size, 2, version=2)
    assert read_envelope_context(ciphertext) == context
    assert decrypt_bytes(ciphertext, REVIEWER, expected=context) == plaintext
    assert decrypt_bytes(ciphertext, SOURCE, expected=context) == plaintext


@settings(max_examples=25, deadline=None)
@given(
    context=contexts(),
    size=SIZES,
    pieces=st.lists(st.integers(1, CHUNK_SIZE + 7), min_size=1, max_size=8),
)
def test_round_trip_streaming(context: EnvelopeContext, size: int, pieces: list[int]) -> None:
    plaintext = bytes(i % 251 for i in range(size))
    sink = io.BytesIO()
    with EnvelopeWriter(sink, [REVIEWER.public_key], context=context) as writer:
        pos, i = 0, 0
        while pos < size:
            step = pieces[i % len(pieces)]
            writer.write(plaintext[pos : pos + step])
            pos, i = pos + step, i + 1
    assert writer.version == 2 and writer.context == context
    ciphertext = sink.getvalue()
    out = io.BytesIO()
    assert decrypt_stream(io.BytesIO(ciphertext), out, REVIEWER, expected=context) == size
    assert out.getvalue() == plaintext
    streamed = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), streamed, [REVIEWER.public_key], context=context)
    assert decrypt_bytes(streamed.getvalue(), REVIEWER, expected=context) == plaintext


@settings(max_examples=40, deadline=None)
@given(written=contexts(), expected=contexts())
def test_only_the_writers_context_opens_it(
    written: EnvelopeContext, expected: EnvelopeContext
) -> None:
    ciphertext = encrypt_bytes(b"bound", [REVIEWER.public_key], context=written)
    if written == expected:
        assert decrypt_bytes(ciphertext, REVIEWER, expected=expected) == b"bound"
    else:
        with pytest.raises(ContextMismatch):
            decrypt_bytes(ciphertext, REVIEWER, expected=expected)


def test_the_source_cannot_open_a_reply_bound_to_her_with_another_key() -> None:
    # The context does not replace the seal: another source's key opens nothing.
    with pytest.raises(DecryptionError, match="not addressed"):
        decrypt_bytes(REPLY_CT, OTHER_SOURCE, expected=REPLY)


def test_every_writer_requires_a_context() -> None:
    """The application writes only version 2: leaving the context out is an error."""
    with pytest.raises(TypeError):
        encrypt_bytes(b"x", [REVIEWER.public_key])  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        encrypt_stream(io.BytesIO(b"x"), io.BytesIO(), [REVIEWER.public_key])  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        EnvelopeWriter(io.BytesIO(), [REVIEWER.public_key])  # type: ignore[call-arg]
    with pytest.raises(CryptoError, match="context must be an EnvelopeContext"):
        EnvelopeWriter(io.BytesIO(), [REVIEWER.public_key], context=None)  # type: ignore[arg-type]


def test_only_the_legacy_writer_writes_version_1() -> None:
    assert V1_CT[8:10] == b"\x00\x01" and read_envelope_context(V1_CT) is None
    assert REPORT_CT[8:10] == b"\x00\x02" and read_envelope_context(REPORT_CT) == REPORT
