"""The Səsim envelope: how every report, file, message and reply is encrypted.

Why this design
===============

A fresh random 32-byte *file key* encrypts the content with libsodium's
secretstream (XChaCha20-Poly1305) in 64 KiB chunks, so memory stays bounded
whatever the size of an upload and no chunk can be dropped, reordered or
cut off unnoticed. The file key is sealed (``crypto_box_seal``, anonymous
X25519 + XSalsa20-Poly1305) to each recipient, so one envelope can be read
by several reviewers and, for replies, by the source herself.

Version 2 binds each envelope to the item it was written for (its
*context*: item id, kind and, for a reply, the recipient source's key), so
a ciphertext moved to another item, kind or source fails to open with
:class:`~crypto.errors.ContextMismatch`. Version 1 envelopes carry no
context; they stay readable.

Binary format, version 2
========================

All integers are unsigned big-endian. ``n`` is the recipient count.

Header (``84 + 88 * n`` bytes)::

    offset        size  field
    0             8     magic, ASCII "SESIMENV"
    8             2     version, u16 = 2
    10            1     n, u8, 1 <= n <= 32
    11            1     kind, u8: 1 report, 2 message, 3 file, 4 reply
    12            16    item id: the item's 32 lowercase hex digits, decoded
    28            32    source: for a reply, BLAKE2b-256(recipient source's
                        X25519 public key, person=b"sesim-ctx-source");
                        for every other kind, 32 zero bytes
    60 + 88*i     8     slot i: recipient key id = BLAKE2b-256(recipient
                        public key, person=b"sesim-keyid")[:8]
    68 + 88*i     80    slot i: crypto_box_seal(file_key, recipient public
                        key) = ephemeral pk (32) || box (32 + 16)
    60 + 88*n     24    secretstream header from
                        crypto_secretstream_xchacha20poly1305_init_push(file_key)

Bytes 11 to 59 are the *context block* (:class:`EnvelopeContext`). A kind
code other than 1 to 4, a reply without a source hash (all zeros) or
another kind with one is a :class:`~crypto.errors.FormatError`.

Body: exactly as in version 1 (below). The first chunk's associated data
is the whole header, offset 0 to ``84 + 88 * n``, context block included,
so the context is authenticated with the first chunk.

Total size: ``84 + 88*n + L + 17 * (L // 65536 + 1)`` for ``L`` bytes of
plaintext (:func:`envelope_size` with ``version=2``).

Binary format, version 1
========================

No longer written by the application (see "Transition"); always read.

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

Where the context travels, and who vouches for it
=================================================

The context is written in the header *and* authenticated as part of the
first chunk's associated data. It is in the header, rather than only
supplied by the reader as associated data, for three reasons:

- a mismatch is named: the reader compares the header's context with the
  one it was told to expect and raises
  :class:`~crypto.errors.ContextMismatch` ("belongs to another item",
  "… another kind of item", "… a reply to another source") before any
  decryption, instead of a bare "does not authenticate" that looks like
  tampering;
- the server can check what it cannot open: a reply sealed on the offline
  workstation is uploaded as ciphertext, and the server (which holds no
  private key) can refuse one whose header names another reply id or
  source (:func:`read_envelope_context`) before storing it;
- a version 2 header cannot be turned into a version 1 one: the version
  and context are in the authenticated header, so stripping the context
  and writing version 1 changes the associated data and the first chunk
  fails.

The header's context is only a claim until the first chunk authenticates,
and even then it only says what the *writer* meant. So the reader never
takes the envelope's word for it: every decrypting function takes
``expected``, the context the caller knows from its own records (the
database row's id and kind, the source's stored public key). A version 2
envelope opened with another ``expected`` — or with ``expected=None`` —
raises :class:`~crypto.errors.ContextMismatch`. A version 1 envelope has
no context to compare and is read whatever ``expected`` says (legacy:
it is not bound to anything, see below); :attr:`EnvelopeReader.version`
tells which was read.

Transition
==========

The application writes only version 2 now: every writer
(:func:`encrypt_bytes`, :func:`encrypt_stream`, :class:`EnvelopeWriter`)
requires ``context=EnvelopeContext...``, and every place that reads an
item passes the ``expected`` context from its own records. Version 1 is
no longer written, except by :func:`legacy_v1_encrypt_bytes`, kept only
for tests that check that data stored before version 2 stays readable.
Readers accept both versions; ``expected=None`` opens only version 1.

Decryption errors
=================

Decryption reads the header, checks the context (version 2), unseals the
file key from the slot(s) whose key id matches the private key, and pulls
chunks of 65553 bytes until one carries TAG_FINAL. It fails with
:class:`~crypto.errors.ContextMismatch` (a DecryptionError) if the
context differs from ``expected`` or none was expected for a version 2
envelope, and with :class:`~crypto.errors.DecryptionError` if no slot
matches ("not addressed to this key"), a chunk does not authenticate
(wrong key, tampering, reordering, a dropped chunk), the input ends before
TAG_FINAL (truncation, also inside the header or its context block), a
full-size chunk carries TAG_FINAL or a short one TAG_MESSAGE, any other
tag appears, or any byte follows the final chunk. A wrong magic, an
unknown version, an impossible recipient count or a malformed context
block raise :class:`~crypto.errors.FormatError`.

Wiping
======

What the envelope code owns is zeroed with ``sodium_memzero`` once used:

- the file key lives in a ``bytearray``, zeroed right after it is sealed
  to the recipients and the stream is started (writer), or after the
  stream is set up (reader);
- the writer's 64 KiB chunk buffer and the secretstream state (which
  holds the stream's subkey) are zeroed on close, on abort, on error and
  when the writer is dropped;
- the reader decrypts each chunk straight into its own buffer, which is
  zeroed before it is reused and wholly, with the stream state, when the
  envelope ends, fails or the reader is closed; :func:`decrypt_stream`
  hands the sink a view onto that buffer and zeroes it once written, and
  :func:`decrypt_bytes` zeroes its working buffer after copying out the
  result;
- a :class:`~crypto.keys.PrivateKey` keeps its bytes in a ``bytearray``
  (zeroed by its ``wipe()`` or when it is collected), and
  :func:`~crypto.codename.derive_source_keys` zeroes the 64 bytes of
  Argon2id output and the key pair seed before returning.

What Python cannot promise:

- ``bytes`` and ``str`` objects are immutable and cannot be overwritten:
  the plaintext a caller passes in (a request body, a report's JSON, a
  codename), every ``bytes`` a function returns (:func:`decrypt_bytes`,
  :meth:`EnvelopeReader.read_chunk`, ``unsafe_raw()``) and the codename's
  UTF-8 encoding stay in memory until the allocator reuses it;
- memory is freed, not cleared: what the garbage collector releases, and
  what Python copied while growing a buffer, stays readable until reused,
  and the operating system may have swapped any page out;
- libraries keep their own copies (Werkzeug's form parsing, json, the
  database driver, TLS and Tor buffers), out of our reach;
- a sink that keeps the view :func:`decrypt_stream` passes it would see
  zeros (the view is released after ``write``, so using it raises).

Wiping narrows the window in which a memory image reveals plaintext; it
does not close it. Process-level defences (no core dumps, locked and
``MADV_DONTDUMP`` session memory) belong to the server.

What it does not promise
========================

Envelopes are anonymous: anyone with the public keys can make one, and
any recipient (who learns the file key) could make a different envelope
to the same people. The context binding therefore stops *moving* a
genuine envelope to another item, kind or source; it does not stop
whoever controls the server from writing a new envelope, with any
context, to the same public keys. Version 1 envelopes are not bound to
anything and can be moved unnoticed. The format protects confidentiality
and integrity in transit and at rest, not the sender's identity. Key ids
and, in version 2, the item id, kind and source hash are in the clear:
they show which keys an envelope is addressed to and which item it
belongs to (the server's database says as much), and lengths show the
plaintext size to within 17 bytes per chunk.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from crypto import _sodium
from crypto._context import EnvelopeContext, ItemKind, source_key_hash
from crypto._header import (
    CHUNK_SIZE,
    MAX_RECIPIENTS,
    ByteSink,
    ByteSource,
    PlaintextSink,
    envelope_size,
    read_envelope_context,
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
    "EnvelopeContext",
    "EnvelopeReader",
    "EnvelopeWriter",
    "ItemKind",
    "PlaintextSink",
    "decrypt_bytes",
    "decrypt_stream",
    "encrypt_bytes",
    "encrypt_stream",
    "envelope_size",
    "legacy_v1_encrypt_bytes",
    "read_envelope_context",
    "read_recipient_ids",
    "source_key_hash",
]


def encrypt_bytes(
    plaintext: bytes | bytearray | memoryview,
    recipients: Sequence[PublicKey],
    *,
    context: EnvelopeContext,
) -> bytes:
    """Encrypt ``plaintext`` into one version 2 envelope, bound to ``context``,
    readable by each recipient."""
    sink = io.BytesIO()
    EnvelopeWriter(sink, recipients, context=context).write_final(plaintext)
    return sink.getvalue()


def legacy_v1_encrypt_bytes(
    plaintext: bytes | bytearray | memoryview, recipients: Sequence[PublicKey]
) -> bytes:
    """Write an unbound version 1 envelope, as the application did before version 2.

    For tests only (that old data stays readable, and of the version 1
    format); the application writes only version 2 (see "Transition").
    """
    sink = io.BytesIO()
    EnvelopeWriter._legacy_v1(sink, recipients).write_final(plaintext)
    return sink.getvalue()


def encrypt_stream(
    src: ByteSource,
    dst: ByteSink,
    recipients: Sequence[PublicKey],
    *,
    context: EnvelopeContext,
) -> int:
    """Encrypt everything ``src`` yields into ``dst``; return envelope bytes written.

    If reading ``src`` fails, no final chunk is written (see
    :class:`EnvelopeWriter`).
    """
    with EnvelopeWriter(dst, recipients, context=context) as writer:
        while data := src.read(CHUNK_SIZE):
            writer.write(data)
    return writer.bytes_out


def decrypt_stream(
    src: ByteSource,
    dst: PlaintextSink,
    private_key: PrivateKey,
    *,
    expected: EnvelopeContext | None = None,
) -> int:
    """Decrypt the envelope in ``src`` into ``dst``; return plaintext bytes written.

    ``dst.write`` gets a memoryview onto the reader's buffer, zeroed as soon
    as ``write`` returns (see :class:`PlaintextSink`).

    .. warning::
       Plaintext reaches ``dst`` chunk by chunk before the end is verified.
       If this raises, ``dst`` holds partial, possibly truncated plaintext:
       delete it.
    """
    with EnvelopeReader(src, private_key, expected=expected) as reader:
        while (view := reader.read_chunk_view()) is not None:
            try:
                if view:
                    write_all(dst, view)
            finally:
                view.release()
        return reader.bytes_out


def decrypt_bytes(
    ciphertext: bytes | bytearray | memoryview,
    private_key: PrivateKey,
    *,
    expected: EnvelopeContext | None = None,
) -> bytes:
    """Decrypt a whole envelope held in memory; nothing is returned unless all of it
    authenticates.

    The plaintext is gathered in a buffer that is zeroed once the result
    (an immutable ``bytes``, the caller's) has been copied out of it.
    """
    if not isinstance(ciphertext, bytes | bytearray | memoryview):
        raise CryptoError("ciphertext must be bytes")
    # The plaintext is shorter than the ciphertext: a buffer of that size
    # holds it, each chunk decrypted in place.
    out = bytearray(len(ciphertext))
    filled = 0
    try:
        with EnvelopeReader(io.BytesIO(ciphertext), private_key, expected=expected) as reader:
            with memoryview(out) as view:
                while (size := reader.pull_into(view[filled:])) is not None:
                    filled += size
                return bytes(view[:filled])
    finally:
        _sodium.memzero(memoryview(out)[:filled])
