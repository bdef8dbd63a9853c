"""The Səsim envelope: how every report, file, message and reply is encrypted.

Why this design
===============

A fresh random 32-byte *file key* encrypts the content with libsodium's
secretstream (XChaCha20-Poly1305) in 64 KiB chunks, so memory stays bounded
whatever the size of an upload and no chunk can be dropped, reordered or
cut off unnoticed. The file key is sealed (``crypto_box_seal``, anonymous
X25519 + XSalsa20-Poly1305) to each recipient, so one envelope can be read
by several reviewers and, for replies, by the source herself.

Binary format, version 1
========================

All integers are unsigned big-endian. ``n`` is the recipient count.

Header (``35 + 88 * n`` bytes)::

    offset        size  field
    0             8     magic, ASCII "SESIMENV"
    8             2     version, u16 = 1
    10            1     n, u8, 1 <= n <= 32
    11 + 88*i     8     slot i: recipient key id = BLAKE2b-256(recipient
                        public key, person=b"sesim-keyid")[:8]
    19 + 88*i     80    slot i: crypto_box_seal(file_key, recipient public
                        key) = ephemeral pk (32) || box (32 + 16)
    11 + 88*n     24    secretstream header from
                        crypto_secretstream_xchacha20poly1305_init_push(file_key)

Body: the plaintext is cut into chunks of exactly CHUNK_SIZE = 65536
bytes; the last chunk is *always* shorter than CHUNK_SIZE, possibly empty
(so a plaintext whose size is a multiple of 65536, including 0, ends with
an empty chunk). Each chunk is encrypted in order with
``crypto_secretstream_xchacha20poly1305_push``:

- every chunk but the last has tag TAG_MESSAGE (0) and is exactly
  65536 + 17 = 65553 bytes of ciphertext;
- the last has tag TAG_FINAL (3) and is ``len(chunk) + 17`` bytes
  (17 to 65552);
- the first chunk's associated data is the whole header (offset 0 to
  ``35 + 88 * n``), the others have none. A changed magic, version, key id,
  sealed key or stream header therefore makes the first chunk fail.

Total size: ``35 + 88*n + L + 17 * (L // 65536 + 1)`` for ``L`` bytes of
plaintext (:func:`envelope_size`).

Decryption reads the header, unseals the file key from the slot(s) whose
key id matches the private key, and pulls chunks of 65553 bytes until one
carries TAG_FINAL. It fails with :class:`~crypto.errors.DecryptionError` if
no slot matches ("not addressed to this key"), a chunk does not
authenticate (wrong key, tampering, reordering, a dropped chunk), the
input ends before TAG_FINAL (truncation), a full-size chunk carries
TAG_FINAL or a short one TAG_MESSAGE, any other tag appears, or any byte
follows the final chunk. A wrong magic, an unknown version or an impossible
recipient count raise :class:`~crypto.errors.FormatError`.

What it does not promise
========================

Envelopes are anonymous: anyone with the public keys can make one, and
any recipient (who learns the file key) could make a different envelope
to the same people. The format protects confidentiality and integrity in
transit and at rest, not the sender's identity. Key ids in the header are
in the clear: they show which keys an envelope is addressed to (the server
knows that anyway), and lengths show the plaintext size to within 17
bytes per chunk.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from crypto._header import (
    CHUNK_SIZE,
    MAX_RECIPIENTS,
    ByteSink,
    ByteSource,
    envelope_size,
    read_recipient_ids,
    write_all,
)
from crypto._reader import EnvelopeReader
from crypto._writer import EnvelopeWriter
from crypto.errors import CryptoError
from crypto.keys import PrivateKey, PublicKey

__all__ = [
    "CHUNK_SIZE",
    "MAX_RECIPIENTS",
    "ByteSink",
    "ByteSource",
    "EnvelopeReader",
    "EnvelopeWriter",
    "decrypt_bytes",
    "decrypt_stream",
    "encrypt_bytes",
    "encrypt_stream",
    "envelope_size",
    "read_recipient_ids",
]


def encrypt_bytes(plaintext: bytes, recipients: Sequence[PublicKey]) -> bytes:
    """Encrypt ``plaintext`` into one envelope readable by each recipient."""
    sink = io.BytesIO()
    EnvelopeWriter(sink, recipients).write_final(plaintext)
    return sink.getvalue()


def encrypt_stream(src: ByteSource, dst: ByteSink, recipients: Sequence[PublicKey]) -> int:
    """Encrypt everything ``src`` yields into ``dst``; return envelope bytes written.

    If reading ``src`` fails, no final chunk is written (see
    :class:`EnvelopeWriter`).
    """
    with EnvelopeWriter(dst, recipients) as writer:
        while data := src.read(CHUNK_SIZE):
            writer.write(data)
    return writer.bytes_out


def decrypt_stream(src: ByteSource, dst: ByteSink, private_key: PrivateKey) -> int:
    """Decrypt the envelope in ``src`` into ``dst``; return plaintext bytes written.

    .. warning::
       Plaintext reaches ``dst`` chunk by chunk before the end is verified.
       If this raises, ``dst`` holds partial, possibly truncated plaintext:
       delete it.
    """
    reader = EnvelopeReader(src, private_key)
    for chunk in reader:
        write_all(dst, chunk)
    return reader.bytes_out


def decrypt_bytes(ciphertext: bytes, private_key: PrivateKey) -> bytes:
    """Decrypt a whole envelope held in memory; nothing is returned unless all of it
    authenticates."""
    if not isinstance(ciphertext, bytes | bytearray | memoryview):
        raise CryptoError("ciphertext must be bytes")
    return b"".join(EnvelopeReader(io.BytesIO(ciphertext), private_key))
