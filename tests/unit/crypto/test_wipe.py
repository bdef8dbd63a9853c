"""The secrets the crypto package owns are zeroed once used.

Each test gets hold of the very buffer the code used (by wrapping the
function that allocates it, or through the memoryview a sink is handed)
and looks at it after the operation: it must hold only zeros. What Python
cannot wipe (immutable bytes, the caller's own data) is listed in FORMAT.md.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

import crypto._reader
import crypto._sodium
from crypto import (
    CHUNK_SIZE,
    CryptoError,
    DecryptionError,
    EnvelopeContext,
    EnvelopeReader,
    EnvelopeWriter,
    PrivateKey,
    decrypt_bytes,
    decrypt_stream,
    derive_source_keys,
    encrypt_bytes,
)
from tests.unit.crypto.conftest import key_from_byte
from tests.unit.crypto.vectors import argon2_vectors

REVIEWER = key_from_byte(0x31)
CONTEXT = EnvelopeContext.file("a5" * 16)
PLAINTEXT = bytes(range(1, 256)) * 700  # 178,500 bytes: two full chunks and a tail, no zeros


def zeroed(buf: bytearray | memoryview) -> bool:
    return not any(bytes(buf))


def state_zeroed(stream: crypto._sodium.SecretStream) -> bool:
    state = stream._state  # noqa: SLF001 - the libsodium state we must have wiped
    return zeroed(crypto._sodium.ffi.buffer(state))


class Capture:
    """Wraps a function and keeps every bytearray it returned."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
        self.buffers: list[bytearray] = []
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            found = result if isinstance(result, tuple) else (result,)
            self.buffers += [item for item in found if isinstance(item, bytearray)]
            return result

        monkeypatch.setattr(owner, name, wrapper)


class KeepingSink:
    """A plaintext sink that remembers which buffers the views it got point into."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.buffers: list[Any] = []
        self.views: list[memoryview] = []

    def write(self, data: memoryview) -> int:
        self.data += data
        self.buffers.append(data.obj)
        self.views.append(data)
        return len(data)


# -- the writer -------------------------------------------------------------------------


def test_the_file_key_is_zeroed_once_sealed(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = Capture(monkeypatch, crypto._sodium, "new_file_key")
    sink = io.BytesIO()
    writer = EnvelopeWriter(sink, [REVIEWER.public_key], context=CONTEXT)
    assert len(keys.buffers) == 1 and len(keys.buffers[0]) == 32
    assert zeroed(keys.buffers[0])  # already, before any plaintext is written
    writer.write_final(b"still encrypts")
    assert decrypt_bytes(sink.getvalue(), REVIEWER, expected=CONTEXT) == b"still encrypts"


def test_the_writer_zeroes_its_chunk_buffer_and_stream_on_close() -> None:
    writer = EnvelopeWriter(io.BytesIO(), [REVIEWER.public_key], context=CONTEXT)
    writer.write(PLAINTEXT)  # leaves a tail in the chunk buffer
    buf = writer._buf  # noqa: SLF001
    assert not zeroed(buf)
    writer.close()
    assert len(buf) == CHUNK_SIZE and zeroed(buf)
    assert state_zeroed(writer._stream)  # noqa: SLF001


def test_the_writer_zeroes_its_buffers_when_aborted() -> None:
    with pytest.raises(RuntimeError):
        with EnvelopeWriter(io.BytesIO(), [REVIEWER.public_key], context=CONTEXT) as writer:
            writer.write(b"half a report")
            buf = writer._buf  # noqa: SLF001
            raise RuntimeError("upload cut off")
    assert zeroed(buf) and state_zeroed(writer._stream)  # noqa: SLF001
    with pytest.raises(CryptoError, match="aborted"):
        writer.write(b"more")


def test_the_writer_zeroes_its_buffers_when_the_sink_fails() -> None:
    class FailingSink:
        def __init__(self) -> None:
            self.calls = 0

        def write(self, data: bytes) -> int:
            self.calls += 1
            if self.calls > 1:
                raise OSError("disk full")
            return len(data)

    writer = EnvelopeWriter(FailingSink(), [REVIEWER.public_key], context=CONTEXT)
    writer.write(b"x" * 100)
    buf = writer._buf  # noqa: SLF001
    with pytest.raises(OSError, match="disk full"):
        writer.write(b"y" * CHUNK_SIZE)
    assert zeroed(buf) and state_zeroed(writer._stream)  # noqa: SLF001


def test_an_explicit_abort_zeroes_the_buffers() -> None:
    writer = EnvelopeWriter(io.BytesIO(), [REVIEWER.public_key], context=CONTEXT)
    writer.write(b"typed, then abandoned")
    buf = writer._buf  # noqa: SLF001
    writer.abort()
    writer.abort()  # twice is fine
    assert zeroed(buf) and state_zeroed(writer._stream)  # noqa: SLF001


def test_write_final_wipes_the_stream_state() -> None:
    writer = EnvelopeWriter(io.BytesIO(), [REVIEWER.public_key], context=CONTEXT)
    writer.write_final(b"short")
    assert state_zeroed(writer._stream)  # noqa: SLF001


# -- the reader -------------------------------------------------------------------------

CIPHERTEXT = encrypt_bytes(PLAINTEXT, [REVIEWER.public_key], context=CONTEXT)


def test_the_readers_file_key_is_zeroed_once_the_stream_is_set_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = Capture(monkeypatch, crypto._sodium, "box_seal_open")
    EnvelopeReader(io.BytesIO(CIPHERTEXT), REVIEWER, expected=CONTEXT)
    assert len(keys.buffers) == 1 and len(keys.buffers[0]) == 32
    assert zeroed(keys.buffers[0])


def test_decrypt_stream_zeroes_the_chunk_buffer_it_wrote_from() -> None:
    sink = KeepingSink()
    assert decrypt_stream(io.BytesIO(CIPHERTEXT), sink, REVIEWER, expected=CONTEXT) == len(
        PLAINTEXT
    )
    assert bytes(sink.data) == PLAINTEXT
    buffers = {id(buf): buf for buf in sink.buffers}
    assert len(buffers) == 1  # one reader-owned buffer, reused for every chunk
    (buf,) = buffers.values()
    assert isinstance(buf, bytearray) and len(buf) == CHUNK_SIZE
    assert zeroed(buf)


def test_a_view_kept_by_the_sink_is_released() -> None:
    sink = KeepingSink()
    decrypt_stream(io.BytesIO(CIPHERTEXT), sink, REVIEWER, expected=CONTEXT)
    with pytest.raises(ValueError, match="released"):
        bytes(sink.views[0])


def test_decrypt_stream_zeroes_the_buffer_when_the_envelope_fails() -> None:
    sink = KeepingSink()
    with pytest.raises(DecryptionError):
        decrypt_stream(io.BytesIO(CIPHERTEXT[:-1]), sink, REVIEWER, expected=CONTEXT)
    assert len(sink.data) == 2 * CHUNK_SIZE  # two chunks went out before the cut was seen
    assert all(zeroed(buf) for buf in sink.buffers)


def test_decrypt_stream_zeroes_the_buffer_when_the_sink_fails() -> None:
    class FailingSink(KeepingSink):
        def write(self, data: memoryview) -> int:
            super().write(data)
            raise OSError("disk full")

    sink = FailingSink()
    with pytest.raises(OSError, match="disk full"):
        decrypt_stream(io.BytesIO(CIPHERTEXT), sink, REVIEWER, expected=CONTEXT)
    assert zeroed(sink.buffers[0])


def test_read_chunk_returns_a_copy_and_zeroes_its_buffer_at_once() -> None:
    reader = EnvelopeReader(io.BytesIO(CIPHERTEXT), REVIEWER, expected=CONTEXT)
    chunk = reader.read_chunk()
    assert chunk == PLAINTEXT[:CHUNK_SIZE]
    assert zeroed(reader._buf)  # noqa: SLF001


def test_read_chunk_view_is_zeroed_by_the_next_call_and_at_the_end() -> None:
    reader = EnvelopeReader(io.BytesIO(CIPHERTEXT), REVIEWER, expected=CONTEXT)
    view = reader.read_chunk_view()
    assert view is not None and bytes(view) == PLAINTEXT[:CHUNK_SIZE]
    buf = view.obj
    assert isinstance(buf, bytearray)
    reader.read_chunk_view()
    last = reader.read_chunk_view()
    assert last is not None and bytes(last) == PLAINTEXT[2 * CHUNK_SIZE :]
    assert zeroed(memoryview(buf)[len(last) :])  # the earlier chunk is gone
    assert reader.read_chunk_view() is None and reader.complete
    assert zeroed(buf) and state_zeroed(reader._stream)  # noqa: SLF001


def test_closing_a_reader_part_way_zeroes_it() -> None:
    with EnvelopeReader(io.BytesIO(CIPHERTEXT), REVIEWER, expected=CONTEXT) as reader:
        view = reader.read_chunk_view()
        assert view is not None
        buf = view.obj
    assert isinstance(buf, bytearray) and zeroed(buf)
    assert state_zeroed(reader._stream)  # noqa: SLF001
    with pytest.raises(DecryptionError, match="closed"):
        reader.read_chunk()


def test_decrypt_bytes_zeroes_its_working_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    original = crypto._reader.EnvelopeReader.pull_into

    def spy(self: EnvelopeReader, out: bytearray | memoryview) -> int | None:
        seen.append(out.obj if isinstance(out, memoryview) else out)
        return original(self, out)

    monkeypatch.setattr(crypto._reader.EnvelopeReader, "pull_into", spy)
    assert decrypt_bytes(CIPHERTEXT, REVIEWER, expected=CONTEXT) == PLAINTEXT
    assert seen and all(buf is seen[0] for buf in seen)
    assert isinstance(seen[0], bytearray) and zeroed(seen[0])
    seen.clear()
    with pytest.raises(DecryptionError):
        decrypt_bytes(CIPHERTEXT[:-1], REVIEWER, expected=CONTEXT)
    assert seen and zeroed(seen[0])


# -- keys and codenames -----------------------------------------------------------------


def test_derive_source_keys_zeroes_the_argon2_output_and_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outputs = Capture(monkeypatch, crypto._sodium, "argon2id")
    vector = argon2_vectors()[0]
    keys = derive_source_keys(
        vector.codename, vector.salt, opslimit=vector.opslimit, memlimit=vector.memlimit
    )
    assert keys.lookup_id == vector.lookup_id
    assert keys.public_key.raw == vector.public_key
    assert len(outputs.buffers) == 1 and len(outputs.buffers[0]) == 64
    assert zeroed(outputs.buffers[0])  # lookup half and seed half alike


def test_a_seeded_key_keeps_no_copy_of_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = Capture(monkeypatch, crypto._sodium, "box_seed_keypair")
    seed = bytearray(b"\x42" * 32)
    key = PrivateKey.from_seed(seed)
    (secret,) = pairs.buffers
    assert key._sk is secret  # noqa: SLF001 - the key adopts libsodium's output, no copy
    assert bytes(seed) == b"\x42" * 32  # the caller's seed is the caller's to wipe


def test_a_wiped_private_key_is_zero_and_unusable() -> None:
    key = PrivateKey.from_seed(b"\x43" * 32)
    ciphertext = encrypt_bytes(b"for her", [key.public_key], context=CONTEXT)
    assert decrypt_bytes(ciphertext, key, expected=CONTEXT) == b"for her"
    key.wipe()
    assert zeroed(key._sk)  # noqa: SLF001
    with pytest.raises(CryptoError, match="wiped"):
        key.unsafe_raw()
    with pytest.raises(CryptoError, match="wiped"):
        decrypt_bytes(ciphertext, key, expected=CONTEXT)
    assert key.public_key.raw  # the public half stays


def test_memzero_zeroes_bytearrays_and_views() -> None:
    buf = bytearray(b"secret" * 10)
    crypto._sodium.memzero(memoryview(buf)[6:12])
    assert buf[:6] == b"secret" and zeroed(buf[6:12]) and buf[12:18] == b"secret"
    crypto._sodium.memzero(buf)
    assert zeroed(buf)
    crypto._sodium.memzero(bytearray())  # empty is fine
