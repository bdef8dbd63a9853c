"""Envelope header layout, sizes and stream helpers (private to :mod:`crypto`).

The format itself is documented in :mod:`crypto.envelope` and FORMAT.md;
this module holds the constants and the code that reads and writes the
fixed-layout parts, so that the writer, the reader and the tooling
functions cannot disagree about them.
"""

from __future__ import annotations

import io
import struct
from typing import Protocol

from nacl import bindings

from crypto.errors import CryptoError, DecryptionError, FormatError
from crypto.keys import KEY_ID_BYTES

MAGIC = b"SESIMENV"
VERSION = 1
MIN_RECIPIENTS = 1
MAX_RECIPIENTS = 32
CHUNK_SIZE = 65536
FILE_KEY_BYTES = 32
SEALED_KEY_BYTES = FILE_KEY_BYTES + 48  # crypto_box_SEALBYTES: ephemeral pk + MAC
SLOT_BYTES = KEY_ID_BYTES + SEALED_KEY_BYTES
STREAM_HEADER_BYTES = 24
CHUNK_OVERHEAD = 17  # secretstream ABYTES: 1 encrypted tag byte + 16-byte MAC
SEALED_CHUNK_SIZE = CHUNK_SIZE + CHUNK_OVERHEAD

_PREAMBLE = struct.Struct(">8sHB")  # magic, version (u16 BE), recipient count (u8)
PREAMBLE_BYTES = _PREAMBLE.size

# The format is defined by these numbers, not by whatever the installed
# libsodium happens to use: refuse to run if they ever disagree.
if (
    bindings.crypto_box_SEALBYTES != SEALED_KEY_BYTES - FILE_KEY_BYTES
    or bindings.crypto_secretstream_xchacha20poly1305_KEYBYTES != FILE_KEY_BYTES
    or bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES != STREAM_HEADER_BYTES
    or bindings.crypto_secretstream_xchacha20poly1305_ABYTES != CHUNK_OVERHEAD
):  # pragma: no cover - guards against a changed libsodium
    raise CryptoError("libsodium constants differ from the Səsim envelope format")


class ByteSource(Protocol):
    """Anything with a binary ``read(size)``, such as an open file or BytesIO."""

    def read(self, size: int, /) -> bytes: ...


class ByteSink(Protocol):
    """Anything with a binary ``write(data)``, such as an open file or BytesIO."""

    def write(self, data: bytes, /) -> object: ...


def read_exact(src: ByteSource, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of input.

    Pipes and sockets may return short reads; we keep asking until we have
    enough or the source says it is exhausted (an empty read).
    """
    first = src.read(size)
    if not first:
        return b""
    if len(first) == size:
        return bytes(first)
    parts = bytearray(first)
    while 0 < len(parts) < size:
        piece = src.read(size - len(parts))
        if not piece:
            break
        parts += piece
    if len(parts) > size:
        raise CryptoError("the input stream returned more bytes than asked for")
    return bytes(parts)


def write_all(sink: ByteSink, data: bytes) -> None:
    """Write all of ``data``, retrying short writes of raw (unbuffered) files."""
    written = sink.write(data)
    if not isinstance(written, int) or written >= len(data):
        return
    view = memoryview(data)
    while written < len(data):
        more = sink.write(bytes(view[written:]))
        if not isinstance(more, int) or more <= 0:
            raise CryptoError("the output stream stopped accepting data")
        written += more


def check_recipient_count(count: int) -> None:
    """Raise :class:`CryptoError` unless 1 <= count <= 32."""
    if not MIN_RECIPIENTS <= count <= MAX_RECIPIENTS:
        raise CryptoError(
            f"an envelope needs {MIN_RECIPIENTS} to {MAX_RECIPIENTS} recipients, got {count}"
        )


def header_size(n_recipients: int) -> int:
    """Bytes of header (preamble, slots, stream header) for ``n_recipients``."""
    return PREAMBLE_BYTES + n_recipients * SLOT_BYTES + STREAM_HEADER_BYTES


def pack_preamble(n_recipients: int) -> bytes:
    """Magic, version and recipient count."""
    check_recipient_count(n_recipients)
    return _PREAMBLE.pack(MAGIC, VERSION, n_recipients)


def read_preamble(src: ByteSource) -> tuple[bytes, int]:
    """Read and check the preamble; return it and the recipient count.

    Raises :class:`FormatError` for a wrong magic, an unknown version or an
    impossible recipient count, and :class:`DecryptionError` if the input
    ends inside the preamble of what otherwise looks like an envelope.
    """
    data = read_exact(src, PREAMBLE_BYTES)
    if len(data) < PREAMBLE_BYTES:
        if data[: len(MAGIC)] == MAGIC[: len(data)]:
            raise DecryptionError("truncated envelope: input ends inside the header")
        raise FormatError("not a Səsim envelope (bad magic)")
    magic, version, count = _PREAMBLE.unpack(data)
    if magic != MAGIC:
        raise FormatError("not a Səsim envelope (bad magic)")
    if version != VERSION:
        raise FormatError(f"unsupported envelope version {version}")
    if not MIN_RECIPIENTS <= count <= MAX_RECIPIENTS:
        raise FormatError(f"impossible recipient count {count}")
    return data, count


def read_slots(src: ByteSource, count: int) -> bytes:
    """Read the ``count`` recipient slots that follow the preamble."""
    slots = read_exact(src, count * SLOT_BYTES)
    if len(slots) < count * SLOT_BYTES:
        raise DecryptionError("truncated envelope: input ends inside the header")
    return slots


def split_slots(slots: bytes) -> list[tuple[bytes, bytes]]:
    """``[(key_id, sealed_file_key), ...]`` from the raw slot bytes."""
    return [
        (
            slots[start : start + KEY_ID_BYTES],
            slots[start + KEY_ID_BYTES : start + SLOT_BYTES],
        )
        for start in range(0, len(slots), SLOT_BYTES)
    ]


def envelope_size(plaintext_size: int, n_recipients: int) -> int:
    """The exact size of the envelope of ``plaintext_size`` bytes.

    There is always one more chunk than there are full chunks of
    plaintext (the final chunk is shorter than CHUNK_SIZE, maybe empty),
    and each chunk costs 17 bytes.
    """
    if plaintext_size < 0:
        raise CryptoError("plaintext size cannot be negative")
    check_recipient_count(n_recipients)
    n_chunks = plaintext_size // CHUNK_SIZE + 1
    return header_size(n_recipients) + plaintext_size + n_chunks * CHUNK_OVERHEAD


def read_recipient_ids(header_prefix: bytes | ByteSource) -> list[str]:
    """The hex key ids an envelope is addressed to, in slot order.

    Accepts the envelope's first bytes (at least the preamble and all
    slots: ``11 + 88 * n`` bytes; more is fine) or a stream positioned at
    its start, of which only that much is read. For tooling: nothing here
    is authenticated, so a forged header can list any ids it likes.
    """
    src: ByteSource
    if isinstance(header_prefix, bytes | bytearray | memoryview):
        src = io.BytesIO(header_prefix)
    else:
        src = header_prefix
    _, count = read_preamble(src)
    return [key_id.hex() for key_id, _ in split_slots(read_slots(src, count))]
