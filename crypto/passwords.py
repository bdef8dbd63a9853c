"""Staff passwords: Argon2id hashes in libsodium's encoded string form.

The encoded string (``$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>``)
carries its own random salt and costs, so a hash made with older costs still
verifies after the defaults change, and :func:`needs_rehash` says when to
replace it at the next successful login.

Why *interactive* costs (2 passes, 64 MiB) and not libsodium's "moderate" or
"sensitive" ones: staff passwords are 7-word passphrases the server
generates (about 90 bits), so the hash is a brake on guessing a stolen
database, not the whole defence; logins are throttled; and the server that
checks passwords also runs the sources' codename derivations (64 MiB each),
so a login must stay well under a second and within a small server's
memory.

Passwords are NFKC-normalised before hashing (as NIST SP 800-63B
suggests), so the same characters typed on two keyboards compare equal.
Comparison is libsodium's own, in constant time.
"""

from __future__ import annotations

import re
import unicodedata

import nacl.exceptions
import nacl.pwhash.argon2id

from crypto.errors import CryptoError, FormatError

__all__ = [
    "MAX_PASSWORD_BYTES",
    "PASSWORD_MEMLIMIT",
    "PASSWORD_OPSLIMIT",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

#: libsodium's interactive limits: 2 passes over 64 MiB (see the module docstring).
PASSWORD_OPSLIMIT: int = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
PASSWORD_MEMLIMIT: int = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
#: Far above any passphrase; refusing longer input keeps a pasted blob cheap.
MAX_PASSWORD_BYTES = 1024

# libsodium's encoded form; salt and hash are unpadded standard base64.
_ENCODED = re.compile(
    r"\$argon2id\$v=(\d{1,3})\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})"
    r"\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}",
    re.ASCII,
)
_STRBYTES = 128  # crypto_pwhash_STRBYTES, the NUL included
_MAX_MEMLIMIT_KIB = 4 * 1024 * 1024  # we never make a hash over 4 GiB; a larger one is forged


def _password_bytes(password: str) -> bytes:
    if not isinstance(password, str):
        raise CryptoError("the password must be a str")
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def _parse(encoded: str) -> tuple[int, int, int, int]:
    """(version, memory in KiB, passes, lanes) of an encoded hash, or FormatError."""
    if not isinstance(encoded, str) or len(encoded) >= _STRBYTES:
        raise FormatError("not an Argon2id password hash")
    match = _ENCODED.fullmatch(encoded)
    if match is None:
        raise FormatError("not an Argon2id password hash")
    version, memory, passes, lanes = (int(group) for group in match.groups())
    if memory > _MAX_MEMLIMIT_KIB:
        raise FormatError("the password hash asks for more memory than we ever use")
    return version, memory, passes, lanes


def hash_password(
    password: str,
    *,
    opslimit: int = PASSWORD_OPSLIMIT,
    memlimit: int = PASSWORD_MEMLIMIT,
) -> str:
    """Hash a password with Argon2id and a fresh random salt.

    Lower ``opslimit``/``memlimit`` only in tests.

    .. warning::
       The password itself must never be logged, stored or put in an
       exception message; only the returned string may be stored.
    """
    data = _password_bytes(password)
    if not data:
        raise CryptoError("the password must not be empty")
    if len(data) > MAX_PASSWORD_BYTES:
        raise CryptoError(f"the password must be at most {MAX_PASSWORD_BYTES} bytes")
    try:
        encoded = nacl.pwhash.argon2id.str(data, opslimit=opslimit, memlimit=memlimit)
    except (nacl.exceptions.CryptoError, TypeError, ValueError) as exc:
        raise CryptoError("Argon2id failed (limits out of range or out of memory)") from exc
    return encoded.decode("ascii")


def verify_password(encoded: str, password: str) -> bool:
    """True if ``password`` matches the stored hash, False if it does not.

    Raises :class:`FormatError` (a :class:`CryptoError`) if ``encoded`` is
    not an Argon2id hash string: that is a corrupt database, not a wrong
    password, and must not be mistaken for one. An empty or over-long
    password is simply wrong (False) without being hashed.
    """
    _parse(encoded)
    data = _password_bytes(password)
    if not data or len(data) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bool(nacl.pwhash.argon2id.verify(encoded.encode("ascii"), data))
    except nacl.exceptions.InvalidkeyError:
        return False
    except (nacl.exceptions.CryptoError, TypeError, ValueError) as exc:
        raise CryptoError("Argon2id verification failed") from exc


def needs_rehash(
    encoded: str,
    *,
    opslimit: int = PASSWORD_OPSLIMIT,
    memlimit: int = PASSWORD_MEMLIMIT,
) -> bool:
    """True if the hash was made with other costs than these (rehash it at next login).

    Raises :class:`FormatError` for a string that is not an Argon2id hash.
    """
    version, memory, passes, lanes = _parse(encoded)
    return (version, memory, passes, lanes) != (19, memlimit // 1024, opslimit, 1)
