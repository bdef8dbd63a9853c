"""Small secrets sealed under a key that someone else holds (XChaCha20-Poly1305).

For values the server must keep between two requests of one person but must
not be able to read without her: her private key and her fresh codename are
kept in her server session only as :func:`seal_secret` output, under a key
that only her cookie carries (see ``securedrop_like/sessions.py``).

Format: a 24-byte random nonce, then the AEAD ciphertext and its 16-byte tag.
``context`` is authenticated, not stored: a sealed value opens only under the
name it was sealed for, so one cannot be swapped for another.
"""

from __future__ import annotations

import secrets

from nacl import bindings
from nacl.exceptions import CryptoError as NaclCryptoError

from crypto.errors import DecryptionError, FormatError

__all__ = ["SECRET_KEY_BYTES", "new_secret_key", "open_secret", "seal_secret"]

SECRET_KEY_BYTES = bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
_NONCE = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_TAG = bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES


def new_secret_key() -> bytes:
    """32 random bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(SECRET_KEY_BYTES)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != SECRET_KEY_BYTES:
        raise FormatError(f"a secret key is {SECRET_KEY_BYTES} bytes")


def seal_secret(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext`` under ``key``, bound to ``context``."""
    _check_key(key)
    nonce = secrets.token_bytes(_NONCE)
    return nonce + bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        bytes(plaintext), context, nonce, key
    )


def open_secret(key: bytes, sealed: bytes, context: bytes) -> bytes:
    """The plaintext of :func:`seal_secret` output; :class:`DecryptionError` if the
    key or context is wrong or the bytes were changed."""
    _check_key(key)
    if len(sealed) < _NONCE + _TAG:
        raise FormatError("sealed value too short")
    try:
        return bytes(
            bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                sealed[_NONCE:], context, sealed[:_NONCE], key
            )
        )
    except NaclCryptoError as exc:
        raise DecryptionError("sealed value did not authenticate") from exc
