"""X25519 key pairs for envelopes, wrapped so no ``nacl`` type leaks out.

Reviewers' submission keys are generated on the offline workstation; only
public halves reach the server. A source's key pair is derived from her
codename (:mod:`crypto.codename`) for the length of one request.

Text armour is one line, easy to paste and to diff::

    sesim-x25519-pk:<43 characters of base64url, no padding>
    sesim-x25519-sk:<43 characters of base64url, no padding>

The prefix names the algorithm and the half, so a private key can never be
mistaken for a public one. Decoding is strict (canonical base64url only),
so one key has exactly one text form.

Key files hold that line, optionally preceded by comment lines starting
with ``#``, for example ``# Səsim reviewer submission public key: Aysel``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from pathlib import Path

from crypto import _sodium
from crypto.errors import CryptoError, FormatError
from crypto.files import new_private_file

__all__ = [
    "KEY_BYTES",
    "KEY_ID_BYTES",
    "PrivateKey",
    "PublicKey",
    "key_id_bytes",
    "read_private_key_file",
    "read_public_key_file",
    "write_private_key_file",
    "write_public_key_file",
]

KEY_BYTES = 32
KEY_ID_BYTES = 8
_KEY_ID_PERSON = b"sesim-keyid"
_PUBLIC_PREFIX = "sesim-x25519-pk:"
_PRIVATE_PREFIX = "sesim-x25519-sk:"
_B64_KEY = re.compile(r"[A-Za-z0-9_-]{43}")
# A key file is a few hundred bytes; refuse to read anything much larger.
_MAX_KEY_FILE_BYTES = 64 * 1024


@functools.lru_cache(maxsize=4096)  # pure; called for every envelope
def key_id_bytes(raw_public_key: bytes) -> bytes:
    """Return the 8-byte id of a raw public key.

    The id is the first 8 bytes of BLAKE2b-256(raw, person=b"sesim-keyid").
    A personalised hash (rather than the key's own first bytes) keeps the
    id from being confused with, or used as, key material. 64 bits make an
    accidental clash between one envelope's few recipients negligible; a
    clash would only cost a failed unseal attempt, never a wrong result.
    """
    digest = hashlib.blake2b(raw_public_key, digest_size=32, person=_KEY_ID_PERSON)
    return digest.digest()[:KEY_ID_BYTES]


def _to_bytes(raw: object, what: str) -> bytes:
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise FormatError(f"{what} must be bytes, not {type(raw).__name__}")
    data = bytes(raw)
    if len(data) != KEY_BYTES:
        raise FormatError(f"{what} must be {KEY_BYTES} bytes, got {len(data)}")
    return data


def _check_buffer(raw: object, what: str) -> bytes | bytearray | memoryview:
    """``raw`` itself if it is a 32-byte buffer (no copy), else FormatError."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise FormatError(f"{what} must be bytes, not {type(raw).__name__}")
    if isinstance(raw, memoryview):
        try:
            raw = raw.cast("B")
        except TypeError as exc:
            raise FormatError(f"{what} must be contiguous bytes") from exc
    if len(raw) != KEY_BYTES:
        raise FormatError(f"{what} must be {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def _armour(prefix: str, raw: bytes) -> str:
    return prefix + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unarmour(prefix: str, text: object) -> bytes:
    if not isinstance(text, str):
        raise FormatError("key text must be a str")
    text = text.strip()
    if not text.startswith(prefix):
        raise FormatError(f"key text must start with {prefix!r}")
    body = text[len(prefix) :]
    if not _B64_KEY.fullmatch(body):
        raise FormatError("key text must be 43 characters of unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(body + "=")
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - regex already checked
        raise FormatError("key text is not valid base64url") from exc
    if _armour(prefix, raw) != text:
        # The last character carries 2 unused bits; insist they are zero so
        # that each key has exactly one text form.
        raise FormatError("key text is not canonical base64url")
    return raw


class PublicKey:
    """An X25519 public key: what an envelope is sealed to."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        self._raw = _to_bytes(raw, "public key")

    @property
    def raw(self) -> bytes:
        """The 32 raw bytes."""
        return self._raw

    @property
    def key_id(self) -> str:
        """16 hex characters naming this key in envelope headers and in tools.

        See :func:`key_id_bytes` for how it is computed.
        """
        return key_id_bytes(self._raw).hex()

    def to_text(self) -> str:
        """One-line armour: ``sesim-x25519-pk:<base64url>``."""
        return _armour(_PUBLIC_PREFIX, self._raw)

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        """Parse :meth:`to_text` output; raise :class:`FormatError` otherwise."""
        return cls(_unarmour(_PUBLIC_PREFIX, text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"PublicKey(key_id={self.key_id!r})"


class PrivateKey:
    """An X25519 private key.

    Its ``repr`` never shows key material, so a stray log line or traceback
    cannot leak it. The raw bytes are reachable only through
    :meth:`unsafe_raw` and :meth:`to_text`, which return copies that belong
    to the caller.

    The key is held in a ``bytearray`` that :meth:`wipe` (and garbage
    collection) zeroes; after :meth:`wipe` the key can no longer be used.
    """

    __slots__ = ("_public", "_sk", "_wiped")

    def __init__(self, raw: bytes | bytearray | memoryview) -> None:
        """Copy 32 raw private key bytes (as returned by :meth:`unsafe_raw`).

        ``raw`` stays the caller's: zero it yourself if it is a buffer.
        """
        self._sk = bytearray(_check_buffer(raw, "private key"))
        self._wiped = False
        self._public = PublicKey(_sodium.scalarmult_base(self._sk))

    @classmethod
    def _adopt(cls, secret: bytearray, public: bytes) -> PrivateKey:
        """Take ownership of ``secret`` (no copy) with its known public key."""
        key = cls.__new__(cls)
        key._sk = secret
        key._wiped = False
        key._public = PublicKey(public)
        return key

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh key from the operating system's random source."""
        public, secret = _sodium.box_keypair()
        return cls._adopt(secret, public)

    @classmethod
    def from_seed(cls, seed: bytes | bytearray | memoryview) -> PrivateKey:
        """Derive a key pair deterministically from a 32-byte seed.

        Same as libsodium's ``crypto_box_seed_keypair``: the private key is
        the first 32 bytes of SHA-512(seed), so it is *not* the seed itself.
        The seed is read in place, not copied; zero it yourself if it is a
        buffer (:func:`crypto.codename.derive_source_keys` does).

        .. warning::
           The seed is as secret as the key. Use only seeds with 256 bits of
           entropy or the output of a slow KDF (see :mod:`crypto.codename`).
        """
        public, secret = _sodium.box_seed_keypair(_check_buffer(seed, "seed"))
        return cls._adopt(secret, public)

    @property
    def public_key(self) -> PublicKey:
        """The matching public key."""
        return self._public

    def _secret(self) -> bytearray:
        if self._wiped:
            raise CryptoError("this private key has been wiped")
        return self._sk

    def _unseal(self, sealed: bytes) -> bytearray | None:
        """``crypto_box_seal_open`` into a new buffer (the caller zeroes it), or None."""
        return _sodium.box_seal_open(sealed, self._public.raw, self._secret())

    def unsafe_raw(self) -> bytes:
        """The 32 raw private key bytes, as a copy that :meth:`wipe` cannot reach.

        .. warning::
           Anyone holding these bytes can read every envelope sealed to this
           key. Do not log, store or send them.
        """
        return bytes(self._secret())

    def wipe(self) -> None:
        """Zero the key bytes held by this object. Using the key afterwards
        raises :class:`CryptoError`; its public half stays available."""
        _sodium.memzero(self._sk)
        self._wiped = True

    def to_text(self) -> str:
        """One-line armour: ``sesim-x25519-sk:<base64url>``.

        .. warning::
           This is the private key in the clear. It belongs only in a 0600
           key file on the offline workstation
           (:func:`write_private_key_file`).
        """
        return _armour(_PRIVATE_PREFIX, self.unsafe_raw())

    @classmethod
    def from_text(cls, text: str) -> PrivateKey:
        """Parse :meth:`to_text` output; raise :class:`FormatError` otherwise."""
        return cls(_unarmour(_PRIVATE_PREFIX, text))

    def __repr__(self) -> str:
        return "PrivateKey(<secret>)"

    def __reduce__(self) -> tuple[object, ...]:
        # Refuse pickling (and so copy/deepcopy and dataclasses.asdict): a
        # cache or session must never persist a private key by accident.
        raise CryptoError("a PrivateKey cannot be pickled or copied")

    def __del__(self) -> None:
        try:
            _sodium.memzero(self._sk)
        except Exception:  # noqa: S110 - never raise from a finaliser
            pass


def _check_comment(comment: str | None) -> str:
    if comment is None:
        return ""
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in comment):
        raise FormatError("a key file comment must be one line without control characters")
    return f"# {comment}\n"


def _write_new_file(path: Path | str, content: str, mode: int) -> None:
    # Never over an existing file, 0600 from creation, removed if writing fails.
    try:
        with new_private_file(path, mode=mode, encoding="utf-8") as handle:
            handle.write(content)
    except FileExistsError as exc:
        raise CryptoError(f"refusing to overwrite existing key file {path}") from exc
    except OSError as exc:
        raise CryptoError(f"cannot write key file {path}: {exc.strerror}") from exc


def _read_key_line(path: Path | str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise CryptoError(f"cannot read key file {path}: {exc.strerror}") from exc
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise FormatError(f"key file {path} is too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"key file {path} is not UTF-8") from exc
    lines = [line.strip() for line in text.splitlines()]
    keys = [line for line in lines if line and not line.startswith("#")]
    if len(keys) != 1:
        raise FormatError(f"key file {path} must hold exactly one key line, found {len(keys)}")
    return keys[0]


def write_private_key_file(
    path: Path | str, key: PrivateKey, *, comment: str | None = None
) -> None:
    """Write ``key`` to a new file, mode 0600, refusing to overwrite.

    .. warning::
       The key is stored unencrypted; keep the file on the offline
       workstation's encrypted disk.
    """
    _write_new_file(path, _check_comment(comment) + key.to_text() + "\n", 0o600)


def read_private_key_file(path: Path | str) -> PrivateKey:
    """Read a file written by :func:`write_private_key_file`."""
    return PrivateKey.from_text(_read_key_line(path))


def write_public_key_file(path: Path | str, key: PublicKey, *, comment: str | None = None) -> None:
    """Write ``key`` to a new file, refusing to overwrite.

    ``comment`` (one line) is written first as ``# <comment>``, e.g.
    ``Səsim reviewer submission public key: Aysel``. The file ends up mode
    0644 (public, and the service user must be able to read it); it is
    created 0600 and loosened only once complete. It is never overwritten,
    so a key cannot be silently swapped by a careless re-run.
    """
    _write_new_file(path, _check_comment(comment) + key.to_text() + "\n", 0o644)


def read_public_key_file(path: Path | str) -> PublicKey:
    """Read a public key file: ``#`` comment lines, then the armoured line."""
    return PublicKey.from_text(_read_key_line(path))
