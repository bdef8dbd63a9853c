"""Streaming: bounded memory, short reads and writes, and the writer's life cycle."""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
from collections import deque

import pytest

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
    encrypt_bytes,
    encrypt_stream,
    envelope_size,
)

# What these tests write: a version 2 envelope bound to one report (the format is the
# same for every context; test_envelope_context.py covers the binding itself).
CTX = EnvelopeContext.report("0123456789abcdef0123456789abcdef")


MiB = 1024 * 1024


class GeneratedSource:
    """A readable that makes ``size`` bytes of plaintext on demand, never holding them."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.block = bytes(range(256)) * 256  # 64 KiB, reused
        self.sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        size = min(self.remaining, len(self.block) if size < 0 else size, len(self.block))
        self.remaining -= size
        data = self.block[:size]
        self.sha.update(data)
        return data


class PipeThroughWriter:
    """A readable of envelope bytes, produced by an EnvelopeWriter as they are read."""

    def __init__(self, plaintext: GeneratedSource, writer_key: PrivateKey) -> None:
        self.plaintext = plaintext
        self.pending: deque[bytes] = deque()
        self.buffered = 0
        self.writer = EnvelopeWriter(self, [writer_key.public_key], context=CTX)
        self.closed = False

    def write(self, data: bytes) -> int:  # the writer's sink
        self.pending.append(data)
        self.buffered += len(data)
        return len(data)

    def read(self, size: int) -> bytes:  # the reader's source
        while self.buffered < size and not self.closed:
            block = self.plaintext.read(CHUNK_SIZE)
            if block:
                self.writer.write(block)
            else:
                self.writer.close()
                self.closed = True
        out = bytearray()
        while self.pending and len(out) < size:
            head = self.pending.popleft()
            take = size - len(out)
            out += head[:take]
            if len(head) > take:
                self.pending.appendleft(head[take:])
        self.buffered -= len(out)
        return bytes(out)


class HashingSink:
    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return len(data)


class TrickleSource:
    """Returns at most a few random bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, seed: int) -> None:
        self.stream = io.BytesIO(data)
        self.random = random.Random(seed)

    def read(self, size: int) -> bytes:
        return self.stream.read(min(size, self.random.randint(1, 5000)))


class ShortWriteSink:
    """Accepts at most 1000 bytes per write, like a raw unbuffered file."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data[:1000]
        return min(len(data), 1000)


def test_encrypting_and_decrypting_64_mib_keeps_memory_under_1_mib(alice: PrivateKey) -> None:
    size = 64 * MiB
    plaintext = GeneratedSource(size)
    sink = HashingSink()
    tracemalloc.start()
    try:
        source = PipeThroughWriter(plaintext, alice)
        written = decrypt_stream(source, sink, alice, expected=CTX)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == sink.size == size
    assert sink.sha.digest() == plaintext.sha.digest()
    assert source.writer.bytes_out == envelope_size(size, 1, version=2)
    assert peak < 1 * MiB, f"peak {peak} bytes"


def test_one_huge_write_is_not_copied_whole(alice: PrivateKey) -> None:
    data = bytes(16 * MiB)
    sink = HashingSink()
    tracemalloc.start()
    try:
        with EnvelopeWriter(sink, [alice.public_key], context=CTX) as writer:
            writer.write(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.size == envelope_size(len(data), 1, version=2)
    assert peak < 4 * CHUNK_SIZE, f"peak {peak} bytes"


def test_many_tiny_writes_give_the_same_plaintext(alice: PrivateKey) -> None:
    sink = io.BytesIO()
    with EnvelopeWriter(sink, [alice.public_key], context=CTX) as writer:
        for index in range(150_000):
            writer.write(bytes([index % 251]))
    assert writer.bytes_in == 150_000
    assert decrypt_bytes(sink.getvalue(), alice, expected=CTX) == bytes(
        i % 251 for i in range(150_000)
    )


def test_writer_emits_the_header_at_once_and_full_chunks_as_they_fill(alice: PrivateKey) -> None:
    sink = io.BytesIO()
    writer = EnvelopeWriter(sink, [alice.public_key], context=CTX)
    assert writer.bytes_out == len(sink.getvalue()) == 84 + 88  # a version 2 header, one recipient
    writer.write(bytes(CHUNK_SIZE - 1))
    assert writer.bytes_out == 84 + 88  # a version 2 header, one recipient
    writer.write(b"x")
    assert writer.bytes_out == 84 + 88 + CHUNK_SIZE + 17
    writer.close()
    assert writer.bytes_out == envelope_size(CHUNK_SIZE, 1, version=2)


def test_writer_context_manager_writes_no_final_chunk_on_error(alice: PrivateKey) -> None:
    sink = io.BytesIO()
    with (
        pytest.raises(RuntimeError),
        EnvelopeWriter(sink, [alice.public_key], context=CTX) as writer,
    ):
        writer.write(b"half an upload")
        raise RuntimeError("connection dropped")
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt_bytes(sink.getvalue(), alice, expected=CTX)
    with pytest.raises(CryptoError):
        writer.write(b"more")
    with pytest.raises(CryptoError):
        writer.close()


def test_writer_refuses_writes_after_close_and_close_is_idempotent(alice: PrivateKey) -> None:
    sink = io.BytesIO()
    writer = EnvelopeWriter(sink, [alice.public_key], context=CTX)
    writer.close()
    writer.close()
    assert decrypt_bytes(sink.getvalue(), alice, expected=CTX) == b""
    with pytest.raises(CryptoError, match="closed"):
        writer.write(b"late")


def test_writer_refuses_text(alice: PrivateKey) -> None:
    writer = EnvelopeWriter(io.BytesIO(), [alice.public_key], context=CTX)
    with pytest.raises(CryptoError):
        writer.write("text")  # type: ignore[arg-type]


def test_stream_functions_cope_with_short_reads_and_short_writes(alice: PrivateKey) -> None:
    plaintext = random.Random(7).randbytes(3 * CHUNK_SIZE + 11)
    sink = ShortWriteSink()
    written = encrypt_stream(TrickleSource(plaintext, 1), sink, [alice.public_key], context=CTX)
    assert written == len(sink.data) == envelope_size(len(plaintext), 1, version=2)
    out = ShortWriteSink()
    assert decrypt_stream(TrickleSource(bytes(sink.data), 2), out, alice, expected=CTX) == len(
        plaintext
    )
    assert bytes(out.data) == plaintext


def test_reader_yields_authenticated_chunks_and_reports_completion(alice: PrivateKey) -> None:
    plaintext = bytes(2 * CHUNK_SIZE)
    reader = EnvelopeReader(
        io.BytesIO(encrypt_bytes(plaintext, [alice.public_key], context=CTX)), alice, expected=CTX
    )
    chunks = list(reader)
    assert [len(chunk) for chunk in chunks] == [CHUNK_SIZE, CHUNK_SIZE]  # no empty chunk
    assert reader.complete and reader.read_chunk() is None
    assert reader.bytes_out == len(plaintext)
    assert reader.bytes_in == envelope_size(len(plaintext), 1, version=2)


def test_reader_checks_the_key_before_reading_the_body(alice: PrivateKey, bob: PrivateKey) -> None:
    source = io.BytesIO(encrypt_bytes(bytes(10 * CHUNK_SIZE), [alice.public_key], context=CTX))
    with pytest.raises(DecryptionError, match="not addressed"):
        EnvelopeReader(source, bob, expected=CTX)
    assert source.tell() == 84 + 88  # a version 2 header, one recipient


def test_reader_rejects_data_offered_after_the_source_said_it_ended(alice: PrivateKey) -> None:
    envelope = encrypt_bytes(b"hello", [alice.public_key], context=CTX)

    class Stuttering:
        def __init__(self) -> None:
            self.stream = io.BytesIO(envelope)
            self.ended = False

        def read(self, size: int) -> bytes:
            data = self.stream.read(size)
            if not data and self.ended:
                return b"extra"[:size]
            self.ended = not data
            return data

    with pytest.raises(DecryptionError, match="after the final chunk"):
        decrypt_stream(Stuttering(), io.BytesIO(), alice, expected=CTX)


def test_reader_rejects_a_source_that_returns_more_than_asked(alice: PrivateKey) -> None:
    envelope = encrypt_bytes(b"hello", [alice.public_key], context=CTX)

    class Greedy:
        def read(self, size: int) -> bytes:
            return envelope

    with pytest.raises(CryptoError, match="more bytes than asked"):
        decrypt_stream(Greedy(), io.BytesIO(), alice, expected=CTX)


def test_encrypt_stream_writes_no_final_chunk_if_the_source_fails(alice: PrivateKey) -> None:
    class Failing:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("upload interrupted")
            return bytes(size)

    sink = io.BytesIO()
    with pytest.raises(OSError):
        encrypt_stream(Failing(), sink, [alice.public_key], context=CTX)
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt_bytes(sink.getvalue(), alice, expected=CTX)
