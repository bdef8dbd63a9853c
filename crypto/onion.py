"""Keys for Tor v3 onion services: the service's Ed25519 identity and its address.

Staff client-authorisation keys are plain X25519 pairs (:class:`crypto.PrivateKey`);
this module adds what X25519 cannot do:

- :func:`onion_address` turns an Ed25519 public key into its 56-character
  ``.onion`` name (rend-spec-v3 §6: base32 of key, 2-byte SHA3-256 checksum
  and version 3);
- :func:`is_onion_address` checks a name, checksum included, so a mistyped
  address in a setting is caught before it locks every visitor out;
- :class:`OnionServiceKey` makes a fresh service identity in the 64-byte
  "expanded" form tor keeps in ``hs_ed25519_secret_key`` and accepts in
  ``ADD_ONION ED25519-V3:``, so an address can be known before tor starts.
"""

from __future__ import annotations

import base64
import hashlib
import re

import nacl.bindings
import nacl.utils

from crypto.errors import FormatError

__all__ = ["OnionServiceKey", "is_onion_address", "onion_address"]

_VERSION = b"\x03"
_CHECKSUM_PREFIX = b".onion checksum"
_ONION_RE = re.compile(r"[a-z2-7]{56}\.onion")


def onion_address(public_key: bytes) -> str:
    """The ``<56 characters>.onion`` address of a 32-byte Ed25519 public key."""
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise FormatError("an onion service public key is 32 bytes")
    checksum = hashlib.sha3_256(_CHECKSUM_PREFIX + public_key + _VERSION).digest()[:2]
    name = base64.b32encode(public_key + checksum + _VERSION).decode("ascii").lower()
    return name + ".onion"


def is_onion_address(address: str) -> bool:
    """True for a well-formed v3 address (lower case, ``.onion``, right checksum)."""
    if not isinstance(address, str) or not _ONION_RE.fullmatch(address):
        return False
    raw = base64.b32decode(address[:56].upper())
    return onion_address(raw[:32]) == address


class OnionServiceKey:
    """An onion service's Ed25519 identity. ``repr`` never shows the secret."""

    __slots__ = ("_expanded", "_public")

    def __init__(self, expanded_secret: bytes) -> None:
        if not isinstance(expanded_secret, bytes) or len(expanded_secret) != 64:
            raise FormatError("an expanded Ed25519 secret key is 64 bytes")
        scalar = expanded_secret[:32]
        if scalar[0] & 7 or scalar[31] & 0x80 or not scalar[31] & 0x40:
            raise FormatError("the Ed25519 secret scalar is not clamped")
        self._expanded = expanded_secret
        self._public = nacl.bindings.crypto_scalarmult_ed25519_base_noclamp(scalar)

    @classmethod
    def generate(cls) -> OnionServiceKey:
        """A fresh identity from the operating system's random source."""
        digest = bytearray(hashlib.sha512(nacl.utils.random(32)).digest())
        digest[0] &= 248
        digest[31] &= 127
        digest[31] |= 64
        return cls(bytes(digest))

    @property
    def public_key(self) -> bytes:
        return bytes(self._public)

    @property
    def address(self) -> str:
        return onion_address(self.public_key)

    def unsafe_expanded_secret(self) -> bytes:
        """The 64 secret bytes (clamped scalar, then nonce prefix).

        .. warning::
           Whoever holds them can run this onion address. They belong only in
           tor's ``HiddenServiceDir`` (mode 0700) or in an ADD_ONION command.
        """
        return self._expanded

    def __repr__(self) -> str:
        return f"OnionServiceKey(address={self.address!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise FormatError("an OnionServiceKey cannot be pickled or copied")
