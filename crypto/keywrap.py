"""A key wrapped under a passphrase: how ``sesim db-key wrap`` keeps the database key.

Why this design
===============

On a server without a TPM the database key is sealed to a passphrase an
administrator types at boot (``sesim db-key unlock --ask-password``). The
passphrase is stretched with Argon2id (libsodium's ``crypto_pwhash``, v1.3)
into a 32-byte key-encryption key, which seals the key with
XChaCha20-Poly1305 (:func:`crypto.secretbox.seal_secret`). The Argon2id
costs and the salt are stored in the file, so a file made with older costs
still opens after the defaults change; the whole header is the sealed
value's associated data, so a changed cost, salt or version fails to open
like a wrong passphrase does. A wrong passphrase and a changed file cannot
be told apart (:class:`~crypto.errors.DecryptionError` for both).

Default costs: 4 passes over 512 MiB (between libsodium's "moderate" and
"sensitive"): a second or a few at boot, and every guess at a stolen file
costs the same. Passphrases are NFKC-normalised (as staff passwords are) and
at least 16 characters.

Binary format, version 1
========================

All integers are unsigned big-endian. 106 bytes in all::

    offset  size  field
    0       8     magic, ASCII "SESIMKEY"
    8       2     version, u16 = 1
    10      4     Argon2id opslimit (passes), u32
    14      4     Argon2id memlimit in KiB, u32
    18      16    salt, random
    34      24    nonce, random
    58      48    XChaCha20-Poly1305-IETF(key = Argon2id(passphrase, salt),
                  nonce, associated data = bytes 0 to 33, plaintext = the
                  32-byte wrapped key): ciphertext (32) || tag (16)

A file of another length, magic or version, or whose costs are over 32
passes or 4 GiB, is a :class:`~crypto.errors.FormatError` (refused before
Argon2id runs, so a forged file cannot make unlocking hang).
"""

from __future__ import annotations

import secrets
import struct
import unicodedata

from crypto import _sodium
from crypto.errors import CryptoError, DecryptionError, FormatError
from crypto.secretbox import SECRET_KEY_BYTES, open_secret, seal_secret

__all__ = [
    "MIN_PASSPHRASE_CHARS",
    "WRAPPED_KEY_BYTES",
    "WRAP_MEMLIMIT",
    "WRAP_OPSLIMIT",
    "unwrap_key",
    "wrap_key",
]

MAGIC = b"SESIMKEY"
VERSION = 1
#: 4 passes over 512 MiB (see the module docstring).
WRAP_OPSLIMIT = 4
WRAP_MEMLIMIT = 512 * 1024 * 1024
MIN_PASSPHRASE_CHARS = 16
_SALT_BYTES = 16
_HEADER = struct.Struct(">8sHII16s")  # magic, version, opslimit, memlimit (KiB), salt
_NONCE_BYTES = 24
_TAG_BYTES = 16
_KEY_BYTES = 32
_MAX_MEMLIMIT_KIB = 4 * 1024 * 1024  # never made over 4 GiB; a larger one is forged
_MAX_OPSLIMIT = 32  # nor with more passes: a forged count would make unlocking hang
#: The size of every version 1 file.
WRAPPED_KEY_BYTES = _HEADER.size + _NONCE_BYTES + _KEY_BYTES + _TAG_BYTES
_PASSPHRASE_MAX_BYTES = 1024


def _passphrase_bytes(passphrase: str) -> bytearray:
    if not isinstance(passphrase, str):
        raise CryptoError("the passphrase must be a str")
    data = bytearray(unicodedata.normalize("NFKC", passphrase).encode("utf-8"))
    if not data or len(data) > _PASSPHRASE_MAX_BYTES:
        _sodium.memzero(data)
        raise FormatError(f"the passphrase must be 1 to {_PASSPHRASE_MAX_BYTES} bytes")
    return data


def _kek(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytearray:
    data = _passphrase_bytes(passphrase)
    try:
        return _sodium.argon2id(_KEY_BYTES, data, salt, opslimit, memlimit)
    finally:
        _sodium.memzero(data)


def wrap_key(
    key: bytes,
    passphrase: str,
    *,
    opslimit: int = WRAP_OPSLIMIT,
    memlimit: int = WRAP_MEMLIMIT,
) -> bytes:
    """The 32-byte ``key`` sealed under ``passphrase`` (version 1, 106 bytes).

    Lower ``opslimit``/``memlimit`` only in tests. The passphrase must be at
    least :data:`MIN_PASSPHRASE_CHARS` characters; it is never stored or put
    in an exception message.
    """
    if not isinstance(key, bytes) or len(key) != _KEY_BYTES:
        raise FormatError(f"a wrapped key is {_KEY_BYTES} bytes")
    if not isinstance(passphrase, str) or len(passphrase.strip()) < MIN_PASSPHRASE_CHARS:
        raise FormatError(f"the passphrase must be at least {MIN_PASSPHRASE_CHARS} characters")
    if (
        memlimit % 1024
        or not 0 < memlimit // 1024 <= _MAX_MEMLIMIT_KIB
        or not 0 < opslimit <= _MAX_OPSLIMIT
    ):
        raise CryptoError("Argon2id limits out of range")
    salt = secrets.token_bytes(_SALT_BYTES)
    header = _HEADER.pack(MAGIC, VERSION, opslimit, memlimit // 1024, salt)
    kek = _kek(passphrase, salt, opslimit, memlimit)
    try:
        sealed = seal_secret(bytes(kek), key, header)
    finally:
        _sodium.memzero(kek)
    assert len(sealed) == _NONCE_BYTES + _KEY_BYTES + _TAG_BYTES  # noqa: S101 - size pinned
    return header + sealed


def unwrap_key(wrapped: bytes, passphrase: str) -> bytes:
    """The key sealed by :func:`wrap_key`. :class:`DecryptionError` for a wrong
    passphrase (or a changed file), :class:`FormatError` for what is not a wrapped key."""
    if not isinstance(wrapped, bytes) or len(wrapped) != WRAPPED_KEY_BYTES:
        raise FormatError("not a Səsim wrapped key (wrong size)")
    magic, version, opslimit, memlimit_kib, salt = _HEADER.unpack_from(wrapped)
    if magic != MAGIC:
        raise FormatError("not a Səsim wrapped key")
    if version != VERSION:
        raise FormatError(f"unknown wrapped-key version {version}")
    if not 0 < memlimit_kib <= _MAX_MEMLIMIT_KIB or not 0 < opslimit <= _MAX_OPSLIMIT:
        raise FormatError("the wrapped key asks for Argon2id costs we never use")
    kek = _kek(passphrase, salt, opslimit, memlimit_kib * 1024)
    try:
        key = open_secret(bytes(kek), wrapped[_HEADER.size :], wrapped[: _HEADER.size])
    except DecryptionError as exc:
        raise DecryptionError("wrong passphrase (or the wrapped key file was changed)") from exc
    finally:
        _sodium.memzero(kek)
    if len(key) != SECRET_KEY_BYTES:  # pragma: no cover - the size is authenticated
        raise FormatError("the wrapped key is not 32 bytes")
    return key
