"""Small random and hashing helpers, so the apps need not touch crypto libraries."""

from __future__ import annotations

import hashlib
import secrets

from crypto.errors import CryptoError, FormatError

__all__ = ["MIN_ID_BYTES", "hash_for_lookup", "random_id"]

#: Fewer than 128 random bits could be guessed or collide; we refuse.
MIN_ID_BYTES = 16


def random_id(nbytes: int = 16) -> str:
    """A random hex id of ``nbytes`` bytes (``2 * nbytes`` characters).

    Uses the operating system's CSPRNG (:mod:`secrets`), so ids are
    unguessable and can name things a source must not be able to enumerate.
    """
    if not isinstance(nbytes, int) or nbytes < MIN_ID_BYTES:
        raise CryptoError(f"a random id needs at least {MIN_ID_BYTES} bytes")
    return secrets.token_hex(nbytes)


def hash_for_lookup(data: bytes, person: bytes, *, key: bytes | None = None) -> str:
    """BLAKE2b-256 of ``data`` as 64 hex characters, for finding a row by a value.

    ``person`` (1 to 16 bytes) separates purposes, so the same value hashed
    for two purposes gives unrelated ids. ``key`` (up to 64 bytes) makes it
    a keyed hash.

    .. warning::
       An unkeyed hash of a guessable value (a phone number, an e-mail
       address, a date) is no protection: anyone can hash every candidate.
       Pass a secret ``key`` for such values, or hash only high-entropy data.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CryptoError("data must be bytes")
    if not isinstance(person, bytes) or not 1 <= len(person) <= 16:
        raise FormatError("person must be 1 to 16 bytes")
    if key is not None and (not isinstance(key, bytes) or not 1 <= len(key) <= 64):
        raise FormatError("key must be 1 to 64 bytes")
    digest = hashlib.blake2b(data, digest_size=32, person=person, key=key or b"")
    return digest.hexdigest()
