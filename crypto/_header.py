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

from crypto._context import CONTEXT_BYTES, EnvelopeContext
from crypto.errors import CryptoError, DecryptionError, FormatError
from crypto.keys import KEY_ID_BYTES

MAGIC = b"SESIMENV"
VERSION_1 = 1  # no context: still read; written only by legacy_v1_encrypt_bytes (tests)
VERSION_2 = 2  # the header carries an EnvelopeContext block after the preamble
VERSIONS = (VERSION_1, VERSION_2)
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


class PlaintextSink(Protocol):
    """Where :func:`~crypto.envelope.decrypt_stream` writes plaintext.

    ``write`` receives a :class:`memoryview` onto a buffer that the reader
    zeroes and reuses as soon as ``write`` returns: copy what you need
    before returning (files, sockets, BytesIO and hashlib all do). A view
    kept beyond the call is released and raises :class:`ValueError` if used.
    """

    def write(self, data: memoryview, /) -> object: ...


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


def write_all(sink: ByteSink | PlaintextSink, data: bytes | memoryview) -> None:
    """Write all of ``data``, retrying short writes of raw (unbuffered) files."""
    written = sink.write(data)  # type: ignore[arg-type]  # each sink gets its own type
    if not isinstance(written, int) or written >= len(data):
        return
    view = memoryview(data)
    while written < len(data):
        more = sink.write(view[written:])  # type: ignore[arg-type]
        if not isinstance(more, int) or more <= 0:
            raise CryptoError("the output stream stopped accepting data")
        written += more


def check_recipient_count(count: int) -> None:
    """Raise :class:`CryptoError` unless 1 <= count <= 32."""
    if not MIN_RECIPIENTS <= count <= MAX_RECIPIENTS:
        raise CryptoError(
            f"an envelope needs {MIN_RECIPIENTS} to {MAX_RECIPIENTS} recipients, got {count}"
        )


def check_version(version: int) -> None:
    """Raise :class:`CryptoError` unless ``version`` is one we write."""
    if version not in VERSIONS:
        raise CryptoError(f"unknown envelope version {version}")


def prefix_size(n_recipients: int, version: int) -> int:
    """Bytes of preamble, context block (version 2) and slots: what names the recipients."""
    context = CONTEXT_BYTES if version == VERSION_2 else 0
    return PREAMBLE_BYTES + context + n_recipients * SLOT_BYTES


def header_size(n_recipients: int, version: int) -> int:
    """Bytes of header (preamble, context, slots, stream header) for ``n_recipients``."""
    return prefix_size(n_recipients, version) + STREAM_HEADER_BYTES


def pack_preamble(n_recipients: int, version: int) -> bytes:
    """Magic, version and recipient count."""
    check_recipient_count(n_recipients)
    check_version(version)
    return _PREAMBLE.pack(MAGIC, version, n_recipients)


def _truncated() -> DecryptionError:
    return DecryptionError("truncated envelope: input ends inside the header")


def read_preamble(src: ByteSource) -> tuple[bytes, int, int]:
    """Read and check the preamble; return it, the version and the recipient count.

    Raises :class:`FormatError` for a wrong magic, an unknown version or an
    impossible recipient count, and :class:`DecryptionError` if the input
    ends inside the preamble of what otherwise looks like an envelope.
    """
    data = read_exact(src, PREAMBLE_BYTES)
    if len(data) < PREAMBLE_BYTES:
        if data[: len(MAGIC)] == MAGIC[: len(data)]:
            raise _truncated()
        raise FormatError("not a Səsim envelope (bad magic)")
    magic, version, count = _PREAMBLE.unpack(data)
    if magic != MAGIC:
        raise FormatError("not a Səsim envelope (bad magic)")
    if version not in VERSIONS:
        raise FormatError(f"unsupported envelope version {version}")
    if not MIN_RECIPIENTS <= count <= MAX_RECIPIENTS:
        raise FormatError(f"impossible recipient count {count}")
    return data, version, count


def read_context(src: ByteSource, version: int) -> tuple[bytes, EnvelopeContext | None]:
    """Read the context block of a version 2 header (nothing for version 1).

    Returns the raw block (part of the authenticated header) and its parsed
    form. The parsed context is only a *claim* until the first chunk
    authenticates the header.
    """
    if version != VERSION_2:
        return b"", None
    block = read_exact(src, CONTEXT_BYTES)
    if len(block) < CONTEXT_BYTES:
        raise _truncated()
    return block, EnvelopeContext.from_bytes(block)


def read_slots(src: ByteSource, count: int) -> bytes:
    """Read the ``count`` recipient slots that follow the preamble (and context)."""
    slots = read_exact(src, count * SLOT_BYTES)
    if len(slots) < count * SLOT_BYTES:
        raise _truncated()
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


def envelope_size(plaintext_size: int, n_recipients: int, *, version: int = VERSION_1) -> int:
    """The exact size of the envelope of ``plaintext_size`` bytes.

    ``version=2`` for an envelope written with a context (49 bytes more);
    the default, 1, is the legacy format the application no longer writes.

    There is always one more chunk than there are full chunks of
    plaintext (the final chunk is shorter than CHUNK_SIZE, maybe empty),
    and each chunk costs 17 bytes.
    """
    if plaintext_size < 0:
        raise CryptoError("plaintext size cannot be negative")
    check_recipient_count(n_recipients)
    check_version(version)
    n_chunks = plaintext_size // CHUNK_SIZE + 1
    return header_size(n_recipients, version) + plaintext_size + n_chunks * CHUNK_OVERHEAD


def _as_source(header_prefix: bytes | bytearray | memoryview | ByteSource) -> ByteSource:
    if isinstance(header_prefix, bytes | bytearray | memoryview):
        return io.BytesIO(header_prefix)
    return header_prefix


def read_recipient_ids(header_prefix: bytes | bytearray | memoryview | ByteSource) -> list[str]:
    """The hex key ids an envelope is addressed to, in slot order.

    Accepts the envelope's first bytes (at least the preamble, the context
    block of a version 2 envelope and all slots: ``11 + 88 * n`` bytes for
    version 1, ``60 + 88 * n`` for version 2; more is fine) or a stream
    positioned at its start, of which only that much is read. For tooling:
    nothing here is authenticated, so a forged header can list any ids it
    likes.
    """
    src = _as_source(header_prefix)
    _, version, count = read_preamble(src)
    read_context(src, version)
    return [key_id.hex() for key_id, _ in split_slots(read_slots(src, count))]


def read_envelope_context(
    header_prefix: bytes | bytearray | memoryview | ByteSource,
) -> EnvelopeContext | None:
    """The context a version 2 envelope *claims* to belong to; None for version 1.

    Reads ``60`` bytes (version 2) or ``11`` (version 1) of the envelope's
    start. Nothing is authenticated here: a server that cannot decrypt
    (for example when checking an uploaded reply before storing it) can
    refuse an envelope that claims the wrong item or source, but only a
    reader given ``expected=`` knows the claim is genuine.
    """
    src = _as_source(header_prefix)
    _, version, _count = read_preamble(src)
    return read_context(src, version)[1]
