"""Envelope decryption (private to :mod:`crypto`; use :mod:`crypto.envelope`).

See :mod:`crypto.envelope` and FORMAT.md for the format this reads.
"""

from __future__ import annotations

from collections.abc import Iterator

import nacl.exceptions
from nacl import bindings

from crypto._header import (
    CHUNK_SIZE,
    SEALED_CHUNK_SIZE,
    STREAM_HEADER_BYTES,
    ByteSource,
    read_exact,
    read_preamble,
    read_slots,
    split_slots,
)
from crypto.errors import CryptoError, DecryptionError
from crypto.keys import PrivateKey, key_id_bytes

__all__ = ["EnvelopeReader"]

_TAG_MESSAGE: int = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL: int = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL


class EnvelopeReader:
    """Decrypt an envelope chunk by chunk, with bounded memory.

    The header is read and the file key unsealed in the constructor, so a
    wrong key or a foreign file fails at once. Iterating yields plaintext
    chunks (at most CHUNK_SIZE bytes each, never empty) as each one
    authenticates.

    .. warning::
       Each chunk is authentic, but the envelope as a whole is only known
       to be complete when iteration ends without an error: truncation and
       trailing data are detected at the end. Do not show, store or act on
       the plaintext of an envelope until then; discard it on any error.
    """

    def __init__(self, src: ByteSource, private_key: PrivateKey) -> None:
        preamble, count = read_preamble(src)
        slots = read_slots(src, count)
        stream_header = read_exact(src, STREAM_HEADER_BYTES)
        if len(stream_header) < STREAM_HEADER_BYTES:
            raise DecryptionError("truncated envelope: input ends inside the header")
        file_key = self._unseal(slots, private_key)
        self._state = bindings.crypto_secretstream_xchacha20poly1305_state()
        bindings.crypto_secretstream_xchacha20poly1305_init_pull(
            self._state, stream_header, file_key
        )
        self._src = src
        self._ad: bytes | None = preamble + slots + stream_header
        self._bytes_in = len(self._ad)
        self._bytes_out = 0
        self._status = "open"

    @staticmethod
    def _unseal(slots: bytes, private_key: PrivateKey) -> bytes:
        if not isinstance(private_key, PrivateKey):
            raise CryptoError("private_key must be a PrivateKey")
        public = private_key.public_key
        wanted = key_id_bytes(public.raw)
        matches = [sealed for key_id, sealed in split_slots(slots) if key_id == wanted]
        if not matches:
            raise DecryptionError("not addressed to this key")
        for sealed in matches:
            try:
                file_key = bindings.crypto_box_seal_open(
                    sealed, public.raw, private_key.unsafe_raw()
                )
            except nacl.exceptions.CryptoError:
                continue  # a forged slot or a key id clash: try the next one
            return bytes(file_key)
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

    def read_chunk(self) -> bytes | None:
        """The next authenticated plaintext chunk (maybe empty), or None at the end."""
        if self._status == "complete":
            return None
        if self._status != "open":
            raise DecryptionError("this envelope already failed to decrypt")
        self._status = "failed"  # until this chunk is fully checked
        sealed = read_exact(self._src, SEALED_CHUNK_SIZE)
        if len(sealed) < SEALED_CHUNK_SIZE - CHUNK_SIZE:
            raise DecryptionError("truncated envelope: input ends before the final chunk")
        try:
            chunk, tag = bindings.crypto_secretstream_xchacha20poly1305_pull(
                self._state, sealed, self._ad
            )
        except nacl.exceptions.CryptoError as exc:
            raise DecryptionError(
                "envelope chunk does not authenticate"
                " (wrong key, tampered, reordered, cut or with data appended)"
            ) from exc
        self._ad = None
        self._bytes_in += len(sealed)
        if tag == _TAG_FINAL:
            if len(sealed) == SEALED_CHUNK_SIZE:
                raise DecryptionError("malformed envelope: a full-size chunk is marked final")
            # The short final chunk already read to end of input; this only
            # catches sources that report an end and then carry on.
            if self._src.read(1):
                raise DecryptionError("unexpected data after the final chunk")
            self._status = "complete"
        elif tag == _TAG_MESSAGE:
            if len(sealed) != SEALED_CHUNK_SIZE:
                raise DecryptionError("truncated envelope: input ends before the final chunk")
            self._status = "open"
        else:
            raise DecryptionError(f"malformed envelope: unexpected chunk tag {tag}")
        self._bytes_out += len(chunk)
        return bytes(chunk)

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self.read_chunk()) is not None:
            if chunk:
                yield chunk
