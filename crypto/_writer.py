"""Envelope encryption (private to :mod:`crypto`; use :mod:`crypto.envelope`).

See :mod:`crypto.envelope` and FORMAT.md for the format this writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from nacl import bindings

from crypto import _sodium
from crypto._context import EnvelopeContext
from crypto._header import (
    CHUNK_SIZE,
    VERSION_1,
    VERSION_2,
    ByteSink,
    check_recipient_count,
    pack_preamble,
    write_all,
)
from crypto.errors import CryptoError
from crypto.keys import PublicKey, key_id_bytes

__all__ = ["EnvelopeWriter"]

_TAG_MESSAGE: int = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL: int = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def _seal(file_key: bytearray, recipient: PublicKey) -> bytes:
    try:
        return _sodium.box_seal(file_key, recipient.raw)
    except ValueError as exc:
        # e.g. an all-zero or other low-order "public key".
        raise CryptoError(f"cannot seal to public key {recipient.key_id}") from exc


class EnvelopeWriter:
    """Encrypt a stream of writes into one envelope.

    The envelope is version 2, bound to ``context`` (an
    :class:`~crypto.envelope.EnvelopeContext`, required). Only
    :func:`crypto.envelope.legacy_v1_encrypt_bytes` (for tests that check old
    data stays readable) writes version 1 (see "Transition" in FORMAT.md).

    The header goes to ``sink`` at once; :meth:`write` emits each chunk as
    soon as it is full, so memory stays at a few chunks (the 64 KiB buffer
    plus one chunk being encrypted) however much is written, in pieces of
    any size: large writes are encrypted straight from the caller's buffer,
    never copied, and small ones are gathered in a fixed buffer.
    :meth:`close` writes the final chunk; only then is the envelope valid.

    Secrets the writer owns are zeroed as soon as they are no longer
    needed: the file key right after it is sealed and the stream started,
    the chunk buffer and the stream state when the writer is closed or
    aborted (see "Wiping" in FORMAT.md for what this cannot cover).

    As a context manager it closes on normal exit. If the block raises, no
    final chunk is written (and the buffers are wiped): the sink then holds
    a truncated envelope that will never decrypt, which is what we want for
    a half-received upload.

    .. warning::
       Errors from ``sink`` itself propagate unchanged and leave the writer
       unusable; delete whatever the sink holds.
    """

    def __init__(
        self,
        sink: ByteSink,
        recipients: Sequence[PublicKey],
        *,
        context: EnvelopeContext,
    ) -> None:
        if not isinstance(context, EnvelopeContext):
            raise CryptoError("context must be an EnvelopeContext")
        self._start(sink, recipients, context)

    @classmethod
    def _legacy_v1(cls, sink: ByteSink, recipients: Sequence[PublicKey]) -> EnvelopeWriter:
        """A writer of an unbound version 1 envelope (legacy; tests only)."""
        writer = cls.__new__(cls)
        writer._start(sink, recipients, None)
        return writer

    def _start(
        self, sink: ByteSink, recipients: Sequence[PublicKey], context: EnvelopeContext | None
    ) -> None:
        recipients = list(recipients)
        check_recipient_count(len(recipients))
        if not all(isinstance(key, PublicKey) for key in recipients):
            raise CryptoError("recipients must be PublicKey instances")
        if len(set(recipients)) != len(recipients):
            raise CryptoError("the same recipient is listed twice")
        self._status = "aborted"  # until the header is out
        self._stream = _sodium.SecretStream()
        self._buf = bytearray()  # the chunk buffer, allocated on first use
        file_key = _sodium.new_file_key()
        try:
            slots = b"".join(key_id_bytes(key.raw) + _seal(file_key, key) for key in recipients)
            stream_header = self._stream.init_push(file_key)
        finally:
            _sodium.memzero(file_key)
        if context is None:
            header = pack_preamble(len(recipients), VERSION_1) + slots + stream_header
        else:
            header = (
                pack_preamble(len(recipients), VERSION_2)
                + context.to_bytes()
                + slots
                + stream_header
            )
        self.context = context
        self.version = VERSION_1 if context is None else VERSION_2
        self._sink = sink
        self._ad: bytes | None = header  # authenticated with the first chunk
        self._fill = 0
        self._bytes_in = 0
        self._bytes_out = 0
        try:
            self._emit(header)
        except BaseException:
            self._wipe()
            raise
        self._status = "open"

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

    def _push(self, chunk: bytes | bytearray | memoryview, tag: int) -> None:
        sealed = self._stream.push(chunk, self._ad, tag)
        self._ad = None
        self._emit(sealed)

    def _wipe(self) -> None:
        _sodium.memzero(self._buf)
        self._fill = 0
        self._stream.wipe()

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
                self._push(self._buf, _TAG_MESSAGE)
                self._fill = 0
            while size - pos >= CHUNK_SIZE:
                self._push(view[pos : pos + CHUNK_SIZE], _TAG_MESSAGE)
                pos += CHUNK_SIZE
            rest = size - pos
            if rest and not self._buf:
                self._buf = bytearray(CHUNK_SIZE)
            self._buf[:rest] = view[pos:]
            self._fill = rest
            self._bytes_in += size
        except BaseException:
            self.abort()
            raise

    def write_final(self, data: bytes | bytearray | memoryview) -> None:
        """``write(data)`` then ``close()``; one step (no buffering) for a short envelope."""
        try:
            view = memoryview(data).cast("B")
        except TypeError as exc:
            raise CryptoError("data must be bytes-like and contiguous") from exc
        if self._status == "open" and not self._fill and len(view) < CHUNK_SIZE:
            self._status = "aborted"  # until the final chunk is safely out
            try:
                self._push(view, _TAG_FINAL)
            finally:
                self._wipe()
            self._bytes_in += len(view)
            self._status = "closed"
            return
        self.write(view)
        self.close()

    def close(self) -> None:
        """Write the final chunk and wipe the buffers. Calling it again does nothing."""
        if self._status == "closed":
            return
        if self._status != "open":
            raise CryptoError(f"cannot close an {self._status} envelope")
        self._status = "aborted"  # until the final chunk is safely out
        try:
            self._push(memoryview(self._buf)[: self._fill], _TAG_FINAL)
        finally:
            self._wipe()
        self._buf = bytearray()
        self._status = "closed"

    def abort(self) -> None:
        """Give up: no final chunk is written (the sink holds an envelope that
        will never decrypt) and the buffers are wiped. Safe to call twice."""
        if self._status != "closed":
            self._status = "aborted"
            self._wipe()

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
        else:
            self.abort()

    def __del__(self) -> None:
        # A writer dropped without close() or abort() still wipes its buffers.
        try:
            self._wipe()
        except Exception:  # noqa: S110 - never raise from a finaliser
            pass
