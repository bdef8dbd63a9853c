"""Envelope decryption (private to :mod:`crypto`; use :mod:`crypto.envelope`).

See :mod:`crypto.envelope` and FORMAT.md for the format this reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

from nacl import bindings

from crypto import _sodium
from crypto._context import EnvelopeContext
from crypto._header import (
    CHUNK_SIZE,
    SEALED_CHUNK_SIZE,
    STREAM_HEADER_BYTES,
    VERSION_2,
    ByteSource,
    read_context,
    read_exact,
    read_preamble,
    read_slots,
    split_slots,
)
from crypto.errors import ContextMismatch, CryptoError, DecryptionError
from crypto.keys import PrivateKey, key_id_bytes

__all__ = ["EnvelopeReader"]

_TAG_MESSAGE: int = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL: int = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL

_MISMATCH = {
    "kind": "the envelope is for another kind of item than expected",
    "item id": "the envelope belongs to another item than expected",
    "source key": "the envelope is a reply to another source than expected",
}


def check_context(context: EnvelopeContext | None, expected: EnvelopeContext | None) -> None:
    """Compare a version 2 header's context with what the caller expects.

    Raises :class:`ContextMismatch` if they differ, or if the caller gave
    no expectation for a version 2 envelope: an envelope never vouches for
    itself. A version 1 envelope (``context`` None) carries no context and
    passes whatever is expected (legacy; see FORMAT.md).
    """
    if context is None:
        return
    if expected is None:
        raise ContextMismatch(
            "a version 2 envelope is bound to an item: pass the expected context"
            " (expected=EnvelopeContext...) to open it"
        )
    field = context.mismatch(expected)
    if field is not None:
        raise ContextMismatch(f"{_MISMATCH[field]} ({field} differs)")


class EnvelopeReader:
    """Decrypt an envelope chunk by chunk, with bounded memory.

    ``expected`` is the context the caller knows the item has (its id,
    kind and, for a reply, its source's key). A version 2 envelope whose
    header names another context, or any version 2 envelope when
    ``expected`` is None, raises :class:`~crypto.errors.ContextMismatch`
    at once; the header, context included, is then authenticated with the
    first chunk. A version 1 envelope has no context and is read whatever
    ``expected`` says (legacy): :attr:`version` and :attr:`context` tell
    which was read.

    The header is read and the file key unsealed in the constructor, so a
    wrong key or a foreign file fails at once. Iterating yields plaintext
    chunks (at most CHUNK_SIZE bytes each, never empty) as each one
    authenticates.

    The reader owns one CHUNK_SIZE plaintext buffer. :meth:`read_chunk_view`
    returns a view onto it that stays valid until the next call; the
    buffer is zeroed before it is reused, and wholly with the stream state
    when the envelope ends, fails or :meth:`close` is called.
    :meth:`read_chunk` and iteration return ``bytes`` copies, which belong
    to the caller and cannot be wiped.

    .. warning::
       Each chunk is authentic, but the envelope as a whole is only known
       to be complete when iteration ends without an error: truncation and
       trailing data are detected at the end. Do not show, store or act on
       the plaintext of an envelope until then; discard it on any error.
    """

    def __init__(
        self,
        src: ByteSource,
        private_key: PrivateKey,
        *,
        expected: EnvelopeContext | None = None,
    ) -> None:
        if expected is not None and not isinstance(expected, EnvelopeContext):
            raise CryptoError("expected must be an EnvelopeContext or None")
        self._status = "failed"  # until the header is read and the stream set up
        self._buf = bytearray()
        self._last = 0  # bytes of the last chunk still in _buf
        self._stream = _sodium.SecretStream()
        preamble, version, count = read_preamble(src)
        block, context = read_context(src, version)
        check_context(context, expected)
        slots = read_slots(src, count)
        stream_header = read_exact(src, STREAM_HEADER_BYTES)
        if len(stream_header) < STREAM_HEADER_BYTES:
            raise DecryptionError("truncated envelope: input ends inside the header")
        file_key = self._unseal(slots, private_key)
        try:
            self._stream.init_pull(stream_header, file_key)
        except ValueError as exc:  # pragma: no cover - any 24 bytes are a valid header
            raise DecryptionError("invalid stream header") from exc
        finally:
            _sodium.memzero(file_key)
        self.version: int = version
        #: The context the header names (authentic once the first chunk
        #: has been read); None for a version 1 envelope.
        self.context: EnvelopeContext | None = context if version == VERSION_2 else None
        self._src = src
        self._ad: bytes | None = preamble + block + slots + stream_header
        self._bytes_in = len(self._ad)
        self._bytes_out = 0
        self._status = "open"

    @staticmethod
    def _unseal(slots: bytes, private_key: PrivateKey) -> bytearray:
        if not isinstance(private_key, PrivateKey):
            raise CryptoError("private_key must be a PrivateKey")
        public = private_key.public_key
        wanted = key_id_bytes(public.raw)
        matches = [sealed for key_id, sealed in split_slots(slots) if key_id == wanted]
        if not matches:
            raise DecryptionError("not addressed to this key")
        for sealed in matches:
            file_key = private_key._unseal(sealed)
            if file_key is not None:
                return file_key
            # a forged slot or a key id clash: try the next one
        raise DecryptionError("the file key does not open with this key")

    @property
    def bytes_in(self) -> int:
        """Envelope bytes consumed so far (header included)."""
        return self._bytes_in

    @property
    def bytes_out(self) -> int:
        """Plaintext bytes returned so far."""
        return self._bytes_out

    @property
    def complete(self) -> bool:
        """True once the final chunk authenticated and no data followed it."""
        return self._status == "complete"

    def _fail(self, message: str) -> DecryptionError:
        self.close()
        return DecryptionError(message)

    def pull_into(self, out: bytearray | memoryview) -> int | None:
        """Decrypt the next chunk into ``out[:n]``; return ``n`` (maybe 0), or
        None once the envelope is complete.

        ``out`` needs room for the chunk: CHUNK_SIZE bytes always suffice,
        and so does whatever is left of a buffer as long as the whole
        ciphertext (the plaintext is always shorter).

        On any error ``out`` is zeroed and the reader wiped.
        """
        if self._status == "complete":
            return None
        if self._status != "open":
            raise DecryptionError("this envelope already failed to decrypt or was closed")
        self._status = "failed"  # until this chunk is fully checked
        sealed = read_exact(self._src, SEALED_CHUNK_SIZE)
        if len(sealed) < SEALED_CHUNK_SIZE - CHUNK_SIZE:
            raise self._fail("truncated envelope: input ends before the final chunk")
        try:
            tag = self._stream.pull_into(out, sealed, self._ad)
        except ValueError as exc:
            self.close()
            raise DecryptionError(
                "envelope chunk does not authenticate"
                " (wrong key, tampered, reordered, cut or with data appended)"
            ) from exc
        size = len(sealed) - (SEALED_CHUNK_SIZE - CHUNK_SIZE)
        self._ad = None
        self._bytes_in += len(sealed)
        problem: str | None = None
        if tag == _TAG_FINAL:
            if len(sealed) == SEALED_CHUNK_SIZE:
                problem = "malformed envelope: a full-size chunk is marked final"
            # The short final chunk already read to end of input; this only
            # catches sources that report an end and then carry on.
            elif self._src.read(1):
                problem = "unexpected data after the final chunk"
        elif tag == _TAG_MESSAGE:
            if len(sealed) != SEALED_CHUNK_SIZE:
                problem = "truncated envelope: input ends before the final chunk"
        else:
            problem = f"malformed envelope: unexpected chunk tag {tag}"
        if problem is not None:
            _sodium.memzero(memoryview(out)[:size])
            raise self._fail(problem)
        if tag == _TAG_FINAL:
            self._status = "complete"
            self._stream.wipe()
        else:
            self._status = "open"
        self._bytes_out += size
        return size

    def read_chunk_view(self) -> memoryview | None:
        """The next authenticated plaintext chunk (maybe empty) as a view onto
        the reader's own buffer, or None at the end.

        The view is valid until the next call: the chunk is then zeroed.
        """
        self._zero_last()
        if not self._buf:
            self._buf = bytearray(CHUNK_SIZE)  # allocated on first use
        size = self.pull_into(self._buf)
        if size is None:
            self.close()
            return None
        self._last = size
        return memoryview(self._buf)[:size]

    def read_chunk(self) -> bytes | None:
        """The next authenticated plaintext chunk (maybe empty) as a ``bytes``
        copy (the caller's to keep), or None at the end."""
        view = self.read_chunk_view()
        if view is None:
            return None
        try:
            return bytes(view)
        finally:
            view.release()
            self._zero_last()

    def _zero_last(self) -> None:
        if self._last:
            _sodium.memzero(memoryview(self._buf)[: self._last])
            self._last = 0

    def close(self) -> None:
        """Zero the plaintext buffer and the stream state. Reading after this
        fails, unless the envelope was already complete."""
        _sodium.memzero(self._buf)
        self._last = 0
        self._stream.wipe()
        if self._status == "open":
            self._status = "closed"

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self.read_chunk()) is not None:
            if chunk:
                yield chunk

    def __enter__(self) -> EnvelopeReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: S110 - never raise from a finaliser
            pass
