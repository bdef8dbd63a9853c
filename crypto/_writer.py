"""Envelope encryption (private to :mod:`crypto`; use :mod:`crypto.envelope`).

See :mod:`crypto.envelope` and FORMAT.md for the format this writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import nacl.exceptions
from nacl import bindings

from crypto._header import CHUNK_SIZE, ByteSink, check_recipient_count, pack_preamble, write_all
from crypto.errors import CryptoError
from crypto.keys import PublicKey, key_id_bytes

__all__ = ["EnvelopeWriter"]

_TAG_MESSAGE: int = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL: int = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def _seal(file_key: bytes, recipient: PublicKey) -> bytes:
    try:
        return bytes(bindings.crypto_box_seal(file_key, recipient.raw))
    except nacl.exceptions.CryptoError as exc:
        # e.g. an all-zero or other low-order "public key".
        raise CryptoError(f"cannot seal to public key {recipient.key_id}") from exc


class EnvelopeWriter:
    """Encrypt a stream of writes into one envelope.

    The header goes to ``sink`` at once; :meth:`write` emits each chunk as
    soon as it is full, so memory stays at a few chunks (the 64 KiB buffer
    plus one chunk being encrypted) however much is written, in pieces of
    any size: large writes are sliced through a memoryview, never copied
    whole, and small ones are gathered in a fixed buffer.
    :meth:`close` writes the final chunk; only then is the envelope valid.

    As a context manager it closes on normal exit. If the block raises, no
    final chunk is written: the sink then holds a truncated envelope that
    will never decrypt, which is what we want for a half-received upload.

    .. warning::
       Errors from ``sink`` itself propagate unchanged and leave the writer
       unusable; delete whatever the sink holds.
    """

    def __init__(self, sink: ByteSink, recipients: Sequence[PublicKey]) -> None:
        recipients = list(recipients)
        check_recipient_count(len(recipients))
        if not all(isinstance(key, PublicKey) for key in recipients):
            raise CryptoError("recipients must be PublicKey instances")
        if len(set(recipients)) != len(recipients):
            raise CryptoError("the same recipient is listed twice")
        file_key = bindings.crypto_secretstream_xchacha20poly1305_keygen()
        slots = b"".join(key_id_bytes(key.raw) + _seal(file_key, key) for key in recipients)
        self._state = bindings.crypto_secretstream_xchacha20poly1305_state()
        stream_header = bindings.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, file_key
        )
        header = pack_preamble(len(recipients)) + slots + stream_header
        self._sink = sink
        self._ad: bytes | None = header  # authenticated with the first chunk
        self._buf = bytearray()  # the chunk buffer, allocated on first use
        self._fill = 0
        self._bytes_in = 0
        self._bytes_out = 0
        self._status = "open"
        self._emit(header)

    @property
    def bytes_in(self) -> int:
        """Plaintext bytes accepted so far."""
        return self._bytes_in

    @property
    def bytes_out(self) -> int:
        """Envelope bytes written to the sink so far (header included)."""
        return self._bytes_out

    def _emit(self, data: bytes) -> None:
        write_all(self._sink, data)
        self._bytes_out += len(data)

    def _push(self, chunk: bytes, tag: int) -> None:
        sealed = bindings.crypto_secretstream_xchacha20poly1305_push(
            self._state, chunk, self._ad, tag
        )
        self._ad = None
        self._emit(sealed)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Add plaintext. Full chunks are encrypted and written at once."""
        if self._status != "open":
            raise CryptoError(f"cannot write to a {self._status} envelope")
        try:
            view = memoryview(data).cast("B")
        except TypeError as exc:
            raise CryptoError("data must be bytes-like and contiguous") from exc
        size = len(view)
        pos = 0
        try:
            if self._fill:
                take = min(CHUNK_SIZE - self._fill, size)
                self._buf[self._fill : self._fill + take] = view[:take]
                self._fill += take
                pos = take
                if self._fill < CHUNK_SIZE:
                    self._bytes_in += size
                    return
                self._push(bytes(self._buf), _TAG_MESSAGE)
                self._fill = 0
            while size - pos >= CHUNK_SIZE:
                self._push(bytes(view[pos : pos + CHUNK_SIZE]), _TAG_MESSAGE)
                pos += CHUNK_SIZE
            rest = size - pos
            if rest and not self._buf:
                self._buf = bytearray(CHUNK_SIZE)
            self._buf[:rest] = view[pos:]
            self._fill = rest
            self._bytes_in += size
        except BaseException:
            self._status = "aborted"
            raise

    def write_final(self, data: bytes) -> None:
        """``write(data)`` then ``close()``; one step (no buffering) for a short envelope."""
        if self._status == "open" and not self._fill and len(data) < CHUNK_SIZE:
            self._status = "aborted"  # until the final chunk is safely out
            self._push(bytes(data), _TAG_FINAL)
            self._bytes_in += len(data)
            self._status = "closed"
            return
        self.write(data)
        self.close()

    def close(self) -> None:
        """Write the final chunk. Calling it again does nothing."""
        if self._status == "closed":
            return
        if self._status != "open":
            raise CryptoError(f"cannot close an {self._status} envelope")
        self._status = "aborted"  # until the final chunk is safely out
        self._push(bytes(memoryview(self._buf)[: self._fill]), _TAG_FINAL)
        self._fill = 0
        self._buf = bytearray()
        self._status = "closed"

    def __enter__(self) -> EnvelopeWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        elif self._status == "open":
            self._status = "aborted"
