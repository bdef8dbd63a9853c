"""Ed25519 signatures, for the publication bundle the public map verifies.

The workstation's publication signing key is a :class:`nacl.signing.SigningKey`
(``Unlocked.signing``); everything else in the project signs and verifies
through these functions, so only :mod:`crypto` imports ``nacl``.

- :func:`sign_detached` signs bytes with a signing key (or its 32-byte seed);
- :func:`verify_detached` checks a 64-byte signature against a 32-byte verify
  key and raises :class:`BadSignature` (a :class:`DecryptionError`) on any
  mismatch: wrong key, changed message, changed signature;
- :func:`signing_key_from_seed` and :func:`verify_key_bytes` turn seeds and
  keys into what the other two take.
"""

from __future__ import annotations

from typing import SupportsBytes

import nacl.exceptions
import nacl.signing

from crypto.errors import DecryptionError, FormatError

__all__ = [
    "SIGNATURE_BYTES",
    "VERIFY_KEY_BYTES",
    "BadSignature",
    "sign_detached",
    "signing_key_from_seed",
    "verify_detached",
    "verify_key_bytes",
]

SIGNATURE_BYTES = 64
VERIFY_KEY_BYTES = 32
SEED_BYTES = 32

SigningKeyLike = nacl.signing.SigningKey | bytes


class BadSignature(DecryptionError):
    """An Ed25519 signature does not verify with the given key."""


def signing_key_from_seed(seed: bytes) -> nacl.signing.SigningKey:
    """The signing key of a 32-byte seed (deterministic: for tests and key files)."""
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise FormatError(f"an Ed25519 seed is {SEED_BYTES} bytes")
    return nacl.signing.SigningKey(seed)


def _signing_key(key: SigningKeyLike) -> nacl.signing.SigningKey:
    if isinstance(key, nacl.signing.SigningKey):
        return key
    return signing_key_from_seed(key)


def verify_key_bytes(key: SigningKeyLike) -> bytes:
    """The 32-byte public verify key of a signing key or seed."""
    return bytes(_signing_key(key).verify_key)


def sign_detached(key: SigningKeyLike, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``message``."""
    return bytes(_signing_key(key).sign(bytes(message)).signature)


def _verify_key(key: bytes | SupportsBytes) -> nacl.signing.VerifyKey:
    raw = bytes(key)
    if len(raw) != VERIFY_KEY_BYTES:
        raise FormatError(f"an Ed25519 verify key is {VERIFY_KEY_BYTES} bytes")
    try:
        return nacl.signing.VerifyKey(raw)
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise FormatError(f"not an Ed25519 verify key: {exc}") from None


def verify_detached(key: bytes | SupportsBytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`BadSignature` unless ``signature`` is ``key``'s over ``message``."""
    verify_key = _verify_key(key)
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_BYTES:
        raise BadSignature(f"an Ed25519 signature is {SIGNATURE_BYTES} bytes")
    try:
        verify_key.verify(bytes(message), signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        raise BadSignature("the signature does not verify with this key") from None
