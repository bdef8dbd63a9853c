"""Thin calls into libsodium that read and write caller-owned buffers (private).

PyNaCl's high-level bindings take ``bytes`` and return fresh ``bytes``: every
plaintext chunk, file key and Argon2 output would pass through immutable
objects that Python cannot overwrite. For the secrets the envelope code
owns we call the same libsodium functions through PyNaCl's cffi handle
(``nacl._sodium``) instead, reading from and writing into ``bytearray``
buffers that we zero with ``sodium_memzero`` as soon as we are done.

Only this module touches ``nacl._sodium``; everything here mirrors a
public ``nacl.bindings`` function, and ``crypto._header`` checks at import
that libsodium's sizes are the ones the format is built on.
"""

from __future__ import annotations

from typing import Any

from nacl._sodium import ffi, lib

from crypto.errors import CryptoError

__all__ = [
    "SecretStream",
    "argon2id",
    "box_seal",
    "box_keypair",
    "box_seal_open",
    "box_seed_keypair",
    "memzero",
    "new_file_key",
    "scalarmult_base",
]

_KEY_BYTES = 32
_SEAL_BYTES = int(lib.crypto_box_sealbytes())
_STATE_BYTES = int(lib.crypto_secretstream_xchacha20poly1305_statebytes())
_STREAM_HEADER_BYTES = int(lib.crypto_secretstream_xchacha20poly1305_headerbytes())
_ABYTES = int(lib.crypto_secretstream_xchacha20poly1305_abytes())
_ARGON2ID13 = int(lib.crypto_pwhash_alg_argon2id13())

Buffer = bytes | bytearray | memoryview


def _read_ptr(data: Buffer) -> Any:
    return ffi.from_buffer(data)


def _write_ptr(data: bytearray | memoryview) -> Any:
    return ffi.from_buffer(data, require_writable=True)


def memzero(buf: bytearray | memoryview) -> None:
    """Overwrite ``buf`` with zeros in a way the compiler may not optimise away."""
    if len(buf):
        lib.sodium_memzero(_write_ptr(buf), len(buf))


def new_file_key() -> bytearray:
    """A fresh random secretstream key, in a buffer the caller zeroes when done."""
    key = bytearray(_KEY_BYTES)
    lib.crypto_secretstream_xchacha20poly1305_keygen(_write_ptr(key))
    return key


def box_seal(message: Buffer, public_key: bytes) -> bytes:
    """``crypto_box_seal(message, public_key)``; the message is read in place."""
    out = ffi.new("unsigned char[]", len(message) + _SEAL_BYTES)
    rc = lib.crypto_box_seal(out, _read_ptr(message), len(message), public_key)
    if rc != 0:
        raise ValueError("crypto_box_seal failed")
    return bytes(ffi.buffer(out))


def box_seal_open(sealed: bytes, public_key: bytes, private_key: Buffer) -> bytearray | None:
    """The opened message in a new buffer (the caller zeroes it), or None."""
    if len(sealed) < _SEAL_BYTES:
        return None
    out = bytearray(len(sealed) - _SEAL_BYTES)
    rc = lib.crypto_box_seal_open(
        _write_ptr(out), sealed, len(sealed), public_key, _read_ptr(private_key)
    )
    if rc != 0:
        memzero(out)
        return None
    return out


def box_seed_keypair(seed: Buffer) -> tuple[bytes, bytearray]:
    """``crypto_box_seed_keypair``: (public key, private key in a buffer to zero)."""
    if len(seed) != _KEY_BYTES:
        raise CryptoError("a key pair seed must be 32 bytes")
    public = ffi.new("unsigned char[]", _KEY_BYTES)
    private = bytearray(_KEY_BYTES)
    rc = lib.crypto_box_seed_keypair(public, _write_ptr(private), _read_ptr(seed))
    if rc != 0:  # pragma: no cover - cannot fail for a 32-byte seed
        memzero(private)
        raise CryptoError("could not derive a key pair from the seed")
    return bytes(ffi.buffer(public)), private


def box_keypair() -> tuple[bytes, bytearray]:
    """A fresh random X25519 key pair: (public key, private key in a buffer to zero)."""
    public = ffi.new("unsigned char[]", _KEY_BYTES)
    private = bytearray(_KEY_BYTES)
    rc = lib.crypto_box_keypair(public, _write_ptr(private))
    if rc != 0:  # pragma: no cover - cannot fail
        raise CryptoError("could not generate a key pair")
    return bytes(ffi.buffer(public)), private


def scalarmult_base(private_key: Buffer) -> bytes:
    """The X25519 public key of ``private_key``."""
    public = ffi.new("unsigned char[]", _KEY_BYTES)
    rc = lib.crypto_scalarmult_base(public, _read_ptr(private_key))
    if rc != 0:  # pragma: no cover - cannot fail for a 32-byte scalar
        raise CryptoError("could not compute the public key")
    return bytes(ffi.buffer(public))


def argon2id(
    out_bytes: int, password: Buffer, salt: bytes, opslimit: int, memlimit: int
) -> bytearray:
    """Argon2id (v1.3) of ``password`` into a new buffer the caller zeroes."""
    out = bytearray(out_bytes)
    try:
        rc = lib.crypto_pwhash(
            _write_ptr(out),
            out_bytes,
            _read_ptr(password),
            len(password),
            salt,
            opslimit,
            memlimit,
            _ARGON2ID13,
        )
    except (OverflowError, TypeError) as exc:
        raise CryptoError("Argon2id failed (limits out of range)") from exc
    if rc != 0:
        memzero(out)
        raise CryptoError("Argon2id failed (limits out of range or out of memory)")
    return out


class SecretStream:
    """One secretstream XChaCha20-Poly1305 state, zeroed by :meth:`wipe`.

    :meth:`push` reads the plaintext where it lies (a chunk buffer or a
    slice of the caller's data) and :meth:`pull_into` decrypts straight
    into a buffer the caller owns, so no plaintext is copied into an
    immutable ``bytes`` object on the way.
    """

    __slots__ = ("_out", "_out_size", "_state", "_tag")

    def __init__(self) -> None:
        self._state = ffi.new("unsigned char[]", _STATE_BYTES)
        self._tag = ffi.new("unsigned char *")
        self._out: Any = None
        self._out_size = 0

    def init_push(self, key: Buffer) -> bytes:
        """Start encrypting; return the 24-byte stream header."""
        header = ffi.new("unsigned char[]", _STREAM_HEADER_BYTES)
        rc = lib.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, header, _read_ptr(key)
        )
        if rc != 0:  # pragma: no cover - cannot fail
            raise CryptoError("secretstream init_push failed")
        return bytes(ffi.buffer(header))

    def init_pull(self, header: bytes, key: Buffer) -> None:
        """Start decrypting with the stream header and the file key."""
        rc = lib.crypto_secretstream_xchacha20poly1305_init_pull(
            self._state, header, _read_ptr(key)
        )
        if rc != 0:
            raise ValueError("invalid secretstream header")

    def push(self, message: Buffer, ad: bytes | None, tag: int) -> bytes:
        """Encrypt one chunk; return its ciphertext (``len(message) + 17`` bytes)."""
        size = len(message) + _ABYTES
        if self._out_size < size:
            self._out = ffi.new("unsigned char[]", size)
            self._out_size = size
        rc = lib.crypto_secretstream_xchacha20poly1305_push(
            self._state,
            self._out,
            ffi.NULL,
            _read_ptr(message),
            len(message),
            ffi.NULL if ad is None else ad,
            0 if ad is None else len(ad),
            tag,
        )
        if rc != 0:  # pragma: no cover - cannot fail for a valid state
            raise CryptoError("secretstream push failed")
        return bytes(ffi.buffer(self._out, size))

    def pull_into(self, out: bytearray | memoryview, sealed: bytes, ad: bytes | None) -> int:
        """Decrypt one chunk into ``out`` (``len(sealed) - 17`` bytes); return its tag.

        Raises :class:`ValueError` if the chunk does not authenticate; ``out``
        is then zeroed (libsodium writes nothing on failure, but be sure).
        """
        size = len(sealed) - _ABYTES
        if size < 0 or len(out) < size:
            raise ValueError("chunk buffer too small")
        rc = lib.crypto_secretstream_xchacha20poly1305_pull(
            self._state,
            _write_ptr(out),
            ffi.NULL,
            self._tag,
            sealed,
            len(sealed),
            ffi.NULL if ad is None else ad,
            0 if ad is None else len(ad),
        )
        if rc != 0:
            memzero(out)
            raise ValueError("chunk does not authenticate")
        return int(self._tag[0])

    def wipe(self) -> None:
        """Zero the state (it holds the stream's subkey and nonce)."""
        lib.sodium_memzero(self._state, _STATE_BYTES)
