"""A source's keys, derived from her codename.

A source has no account and no password: only her codename (7 words,
about 90 bits, or a receipt of at least 20 digits, about 66 bits). From it
and the instance salt we derive, with Argon2id, 64 bytes:

- bytes 0..31, hashed again with BLAKE2b-256 (person ``b"sesim-lookup"``),
  give her *lookup id* (64 hex characters), the only thing the server
  stores to find her reports. Hashing again means the stored id is never
  raw KDF output, so it reveals nothing about the other half.
- bytes 32..63 seed her X25519 key pair (``crypto_box_seed_keypair``).
  The server stores only the public key, seals replies to it, and derives
  the private key at login for the length of one request.

So a database dump yields neither a codename nor a private key; guessing a
codename means paying one Argon2id per guess *per instance* (the salt is
per instance, so work on one server does not carry over to another).

Normalising the codename (case, spacing, diacritics) is done elsewhere;
this module takes the normalised string and encodes it as UTF-8.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from crypto import _sodium
from crypto.errors import CryptoError, FormatError
from crypto.keys import PrivateKey, PublicKey

__all__ = [
    "ARGON2_MEMLIMIT",
    "ARGON2_OPSLIMIT",
    "SALT_BYTES",
    "SourceKeys",
    "derive_source_keys",
    "new_instance_salt",
]

#: Argon2id passes. With 64 MiB this takes a few hundred milliseconds on a
#: small server. Codenames carry at least 66 bits, so the hash is a brake
#: on guessing, not the whole defence: we do not need "sensitive" settings
#: that would make every login take seconds.
ARGON2_OPSLIMIT = 3
#: Argon2id memory, 64 MiB: a 2-core server can run a few logins at once
#: and stay within its memory; still large enough to make GPU guessing
#: expensive.
ARGON2_MEMLIMIT = 64 * 1024 * 1024
#: Argon2id salt length required by libsodium.
SALT_BYTES = 16

_LOOKUP_PERSON = b"sesim-lookup"


@dataclass(frozen=True, repr=False)
class SourceKeys:
    """What a codename derives to. Its ``repr`` shows none of it: the
    lookup id identifies a source, the private key opens her replies."""

    lookup_id: str
    public_key: PublicKey
    private_key: PrivateKey

    def __repr__(self) -> str:
        return "SourceKeys(<derived from a codename; not shown>)"


def derive_source_keys(
    normalised_codename: str,
    salt: bytes,
    *,
    opslimit: int = ARGON2_OPSLIMIT,
    memlimit: int = ARGON2_MEMLIMIT,
) -> SourceKeys:
    """Derive a source's lookup id and key pair from her normalised codename.

    ``salt`` is the instance salt (:func:`new_instance_salt`), 16 bytes.
    Lower ``opslimit``/``memlimit`` only in tests.

    The Argon2id output and the key pair seed are zeroed before this
    returns; the private key lives in the returned :class:`PrivateKey`
    until its :meth:`~crypto.keys.PrivateKey.wipe` (or garbage collection).

    .. warning::
       The returned private key opens every reply to this source. Keep it
       for one request; never store, log or put it in a session.
    """
    if not isinstance(normalised_codename, str) or not normalised_codename:
        raise CryptoError("the codename must be a non-empty str")
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
        raise FormatError(f"the instance salt must be {SALT_BYTES} bytes")
    # The 64 bytes of Argon2id output and the seed within them live in one
    # bytearray that is zeroed before we return, whatever happens.
    derived = _sodium.argon2id(64, normalised_codename.encode("utf-8"), salt, opslimit, memlimit)
    try:
        view = memoryview(derived)
        lookup = hashlib.blake2b(view[:32], digest_size=32, person=_LOOKUP_PERSON)
        private_key = PrivateKey.from_seed(view[32:])
    finally:
        _sodium.memzero(derived)
    return SourceKeys(
        lookup_id=lookup.hexdigest(),
        public_key=private_key.public_key,
        private_key=private_key,
    )


def new_instance_salt() -> bytes:
    """16 random bytes: one salt per Səsim instance, made at install time.

    .. warning::
       Changing an instance's salt changes every source's lookup id and
       keys: all existing codenames stop working.
    """
    return secrets.token_bytes(SALT_BYTES)
