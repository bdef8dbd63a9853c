"""The errors the ``crypto`` package raises.

Every error that leaves this package is a :class:`CryptoError`, so callers
can catch one type and never see ``nacl``'s or ``gnupg``'s own exceptions
(the rest of the project must not import those libraries, so it could not
name their errors anyway). Two subclasses tell apart the cases a caller may
want to handle differently:

- :class:`FormatError`: the input is not something we can even try to
  open (wrong magic, unknown version, wrong length, bad armour). This is
  usually a bug or the wrong file, not an attack.
- :class:`DecryptionError`: the input looked right but did not
  authenticate: wrong key, tampering, truncation, reordered chunks, data
  after the end. Treat it as "this may be an attack"; never show or keep
  any plaintext that was produced before it was raised.
- :class:`ContextMismatch` (a :class:`DecryptionError`): a version 2
  envelope is bound to another item, kind or source than the caller
  expected, or the caller did not say what it expected. A ciphertext that
  was moved (by mistake or by whoever controls the database) lands here.
"""

from __future__ import annotations

__all__ = ["ContextMismatch", "CryptoError", "DecryptionError", "FormatError"]


class CryptoError(Exception):
    """Base class of every error raised by :mod:`crypto`."""


class FormatError(CryptoError):
    """The input has a bad magic, version, length or structure."""


class DecryptionError(CryptoError):
    """The input did not authenticate: wrong key, tampering, truncation,
    reordering or trailing data."""


class OutputTooLarge(DecryptionError):
    """Decrypting would give more than the caller's cap (an OpenPGP message can be a
    compression bomb): stopped at the cap, nothing returned."""


class ContextMismatch(DecryptionError):
    """A version 2 envelope belongs to another item, kind or source.

    Its message names the field that differs ("item id", "kind", "source
    key") but never the values, so it is safe to log.
    """
