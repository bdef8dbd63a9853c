"""The reviewer's keys on the offline workstation: made once, kept encrypted, unlocked
with a passphrase for the length of a session.

A workstation home (``sesim workstation init --home DIR``) holds::

    workstation.json     name, public keys, and the private keys sealed under the passphrase
    reviewer.pub         the submission public key, for ``sesim keys add-reviewer`` on the server
    publication.verify   the publication verify key, for the public map
    reviewers/           colleagues' submission public keys (``sesim workstation add-reviewer``)
    cases.db             the case store (SQLCipher, keyed from the unlocked submission key)

The private keys (the X25519 submission key and the Ed25519 publication signing key's
seed, 64 bytes together) exist on disk only inside ``workstation.json``'s ``sealed``
field: ``SecretBox`` (XSalsa20-Poly1305) under a key that Argon2id derives from the
passphrase, with a random salt and the costs written beside it. The passphrase is never
stored. A wrong passphrase fails the box's authentication: :class:`WrongPassphrase`.

The case store's SQLCipher key is *derived* at each unlock from the submission private key
(keyed BLAKE2b, its own personalisation), so it is never written anywhere and is gone
when the keys are.

``publication.verify`` is one line of text, with ``#`` comment lines before it::

    # Səsim publication verify key: Aysel
    sesim-ed25519-verify:<43 characters of base64url, no padding>

Fingerprints to compare aloud (:func:`fingerprint_words`): 8 words of the EFF large word
list (103 bits) from BLAKE2b-128 of the raw public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import nacl.exceptions
import nacl.pwhash.argon2id
import nacl.secret
import nacl.signing

from crypto import (
    CryptoError,
    PrivateKey,
    PublicKey,
    new_private_file,
    read_public_key_file,
    write_public_key_file,
)
from securedrop_like.bundles import BundleError
from securedrop_like.bundles.publication import (
    parse_verify_key,
    read_verify_key_file,
    verify_key_text,
)
from securedrop_like.codenames import load_wordlist
from securedrop_like.config import weak_kdf_allowed

from .errors import WorkstationError

__all__ = [
    "HOME_FILE",
    "KDF_MEMLIMIT",
    "KDF_OPSLIMIT",
    "KeyInfo",
    "Unlocked",
    "WorkstationError",
    "WrongPassphrase",
    "add_reviewer",
    "colleague_keys",
    "fingerprint_words",
    "init_home",
    "key_info",
    "read_verify_key_file",
    "unlock",
    "verify_key_text",
]

HOME_FILE = "workstation.json"
SUBMISSION_PUBLIC_FILE = "reviewer.pub"
VERIFY_KEY_FILE = "publication.verify"
REVIEWERS_DIR = "reviewers"
FORMAT = "sesim-workstation"
VERSION = 1

#: libsodium's "moderate" costs (3 passes over 256 MiB, about a second): the passphrase
#: is typed once per session on a laptop, and a stolen laptop's disk is the threat.
KDF_OPSLIMIT: int = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
KDF_MEMLIMIT: int = nacl.pwhash.argon2id.MEMLIMIT_MODERATE
#: The least a real home may use (libsodium's interactive costs); tests go lower only when
#: the test suite allows weak settings (securedrop_like.config.weak_kdf_allowed).
KDF_FLOOR_OPSLIMIT: int = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
KDF_FLOOR_MEMLIMIT: int = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
_MAX_MEMLIMIT = 4 * 1024**3
MIN_PASSPHRASE_CHARS = 12
MAX_PASSPHRASE_BYTES = 1024
MAX_NAME_CHARS = 100

_SECRET_BYTES = 64  # submission private key (32) + signing key seed (32)
_DB_KEY_PERSON = b"sesim-casestore"
_FPR_PERSON = b"sesim-fingerprnt"
_FPR_WORDS = 8
_MAX_HOME_FILE = 64 * 1024


class WrongPassphrase(WorkstationError):
    def __init__(self) -> None:
        super().__init__("Wrong passphrase: the keys did not unlock. Check it and try again.")


@dataclass(frozen=True)
class KeyInfo:
    """The public side of a workstation home: safe to show and to print."""

    home: Path
    name: str
    submission_public: PublicKey
    verify_key: bytes  # raw Ed25519 verify key, 32 bytes

    @property
    def submission_fingerprint(self) -> str:
        return fingerprint_words(self.submission_public.raw)

    @property
    def verify_fingerprint(self) -> str:
        return fingerprint_words(self.verify_key)

    @property
    def submission_key_file(self) -> Path:
        return self.home / SUBMISSION_PUBLIC_FILE

    @property
    def verify_key_file(self) -> Path:
        return self.home / VERIFY_KEY_FILE


# -- fingerprints and text forms -------------------------------------------------------


def fingerprint_words(raw: bytes) -> str:
    """Eight words from the EFF large list naming ``raw`` (a public key): two people read
    them to each other to check they hold the same key. 103 bits, from BLAKE2b-128."""
    words = load_wordlist()
    number = int.from_bytes(
        hashlib.blake2b(bytes(raw), digest_size=16, person=_FPR_PERSON).digest(), "big"
    )
    out = []
    for _ in range(_FPR_WORDS):
        number, index = divmod(number, len(words))
        out.append(words[index])
    return " ".join(out)


# -- the passphrase --------------------------------------------------------------------


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str):
        raise WorkstationError("the passphrase must be text")
    data = unicodedata.normalize("NFKC", passphrase).encode("utf-8")
    if len(data) > MAX_PASSPHRASE_BYTES:
        raise WorkstationError("the passphrase is too long")
    return data


def _check_costs(opslimit: int, memlimit: int) -> None:
    if not (1 <= opslimit <= 64 and 8192 <= memlimit <= _MAX_MEMLIMIT):
        raise WorkstationError("impossible Argon2id settings in the workstation file")
    if weak_kdf_allowed():
        return
    if opslimit < KDF_FLOOR_OPSLIMIT or memlimit < KDF_FLOOR_MEMLIMIT:
        raise WorkstationError(
            "the passphrase key derivation settings are under the floor "
            f"({KDF_FLOOR_OPSLIMIT} passes, {KDF_FLOOR_MEMLIMIT // 2**20} MiB)"
        )


def _box_key(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    _check_costs(opslimit, memlimit)
    try:
        return bytes(
            nacl.pwhash.argon2id.kdf(
                nacl.secret.SecretBox.KEY_SIZE,
                _passphrase_bytes(passphrase),
                salt,
                opslimit=opslimit,
                memlimit=memlimit,
            )
        )
    except (nacl.exceptions.CryptoError, MemoryError) as exc:
        raise WorkstationError(f"the passphrase could not be processed: {exc}") from exc


# -- files -----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise WorkstationError(f"the workstation file is damaged ({what})")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WorkstationError(f"the workstation file is damaged ({what})") from exc


def _write_private(path: Path, data: bytes) -> None:
    """A new file, mode 0600 from the start; never overwrites."""
    with new_private_file(path) as handle:
        handle.write(data)


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_CHARS or any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise WorkstationError("the reviewer's name must be one line of 1 to 100 characters")
    return name


def init_home(
    home: Path,
    passphrase: str,
    *,
    name: str,
    opslimit: int = KDF_OPSLIMIT,
    memlimit: int = KDF_MEMLIMIT,
) -> KeyInfo:
    """Make a new workstation home with fresh keys; refuse an existing folder.

    The folder is created mode 0700, every file 0600. On any error the half-made folder
    is removed again."""
    home = Path(home)
    name = _check_name(name)
    if len(unicodedata.normalize("NFKC", passphrase or "")) < MIN_PASSPHRASE_CHARS:
        raise WorkstationError(f"the passphrase must be at least {MIN_PASSPHRASE_CHARS} characters")
    _check_costs(opslimit, memlimit)
    if home.exists() or home.is_symlink():
        raise WorkstationError(f"{home} already exists: a workstation home is never overwritten")
    try:
        home.parent.mkdir(parents=True, exist_ok=True)
        home.mkdir(mode=0o700)
    except OSError as exc:
        raise WorkstationError(f"cannot create {home}: {exc.strerror}") from exc
    submission = PrivateKey.generate()
    signing = nacl.signing.SigningKey.generate()
    secret = bytearray(_SECRET_BYTES)
    box_key = b""
    try:
        os.chmod(home, 0o700)
        (home / REVIEWERS_DIR).mkdir(mode=0o700)
        salt = secrets.token_bytes(nacl.pwhash.argon2id.SALTBYTES)
        box_key = _box_key(passphrase, salt, opslimit, memlimit)
        secret[:32] = submission.unsafe_raw()
        secret[32:] = bytes(signing)
        sealed = bytes(nacl.secret.SecretBox(box_key).encrypt(bytes(secret)))
        verify = bytes(signing.verify_key)
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "name": name,
            "submission_public_key": submission.public_key.to_text(),
            "verify_key": verify_key_text(verify),
            "kdf": {
                "algorithm": "argon2id13",
                "opslimit": opslimit,
                "memlimit": memlimit,
                "salt": _b64(salt),
            },
            "sealed": _b64(sealed),
        }
        _write_private(home / HOME_FILE, json.dumps(doc, ensure_ascii=False, indent=1).encode())
        pub = home / SUBMISSION_PUBLIC_FILE
        write_public_key_file(
            pub, submission.public_key, comment=f"Səsim reviewer submission public key: {name}"
        )
        pub.chmod(0o600)
        _write_private(
            home / VERIFY_KEY_FILE,
            f"# Səsim publication verify key: {name}\n{verify_key_text(verify)}\n".encode(),
        )
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    finally:
        for i in range(len(secret)):
            secret[i] = 0
        submission.wipe()
        del box_key
    return KeyInfo(home, name, submission.public_key, verify)


def _read_home(home: Path) -> dict[str, Any]:
    path = Path(home) / HOME_FILE
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_HOME_FILE + 1)
    except FileNotFoundError as exc:
        raise WorkstationError(
            f"{home} is not a workstation home (run `sesim workstation init --home {home}`)"
        ) from exc
    except OSError as exc:
        raise WorkstationError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WorkstationError(f"{path} is damaged (not JSON)") from exc
    if (
        not isinstance(doc, dict)
        or doc.get("format") != FORMAT
        or not isinstance(doc.get("kdf"), dict)
    ):
        raise WorkstationError(f"{path} is not a Səsim workstation file")
    if doc.get("version") != VERSION:
        raise WorkstationError(f"unsupported workstation file version {doc.get('version')!r}")
    return doc


def key_info(home: Path) -> KeyInfo:
    """The public keys of a home (no passphrase needed)."""
    home = Path(home)
    doc = _read_home(home)
    try:
        public = PublicKey.from_text(str(doc.get("submission_public_key", "")))
    except CryptoError as exc:
        raise WorkstationError("the workstation file is damaged (submission key)") from exc
    try:
        verify = parse_verify_key(str(doc.get("verify_key", "")))
    except BundleError as exc:
        raise WorkstationError(f"the workstation file is damaged ({exc})") from exc
    return KeyInfo(home, str(doc.get("name", "")), public, verify)


# -- unlocking -------------------------------------------------------------------------


class Unlocked:
    """The private keys of one home, for one session. Call :meth:`wipe` (or use ``with``)
    when done: the submission key's bytes and the derived database key are zeroed.

    The Ed25519 signing key is PyNaCl's object, whose bytes Python cannot overwrite; it
    is dropped on :meth:`wipe` (see crypto/FORMAT.md, "What Python cannot promise")."""

    def __init__(
        self, info: KeyInfo, submission: PrivateKey, signing: nacl.signing.SigningKey
    ) -> None:
        self.info = info
        self.home = info.home
        self.submission = submission
        self._signing: nacl.signing.SigningKey | None = signing
        self._db_key = bytearray(
            hashlib.blake2b(
                b"case store key",
                digest_size=32,
                key=submission.unsafe_raw(),
                person=_DB_KEY_PERSON,
            ).digest()
        )
        self._wiped = False

    @property
    def signing(self) -> nacl.signing.SigningKey:
        if self._signing is None:
            raise WorkstationError("the keys are locked")
        return self._signing

    @property
    def db_key(self) -> bytes:
        """The case store's SQLCipher key (32 bytes), derived, never stored."""
        if self._wiped:
            raise WorkstationError("the keys are locked")
        return bytes(self._db_key)

    @property
    def name(self) -> str:
        return self.info.name

    def reviewers(self) -> list[PublicKey]:
        """Every reviewer a reply is sealed to: this one first, then the colleagues."""
        own = self.submission.public_key
        return [own, *(k for k in colleague_keys(self.home) if k != own)]

    def wipe(self) -> None:
        for i in range(len(self._db_key)):
            self._db_key[i] = 0
        self.submission.wipe()
        self._signing = None
        self._wiped = True

    @property
    def wiped(self) -> bool:
        return self._wiped

    def __enter__(self) -> Unlocked:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.wipe()

    def __repr__(self) -> str:
        return f"Unlocked(home={str(self.home)!r}, wiped={self._wiped})"

    def __reduce__(self) -> tuple[object, ...]:
        raise WorkstationError("unlocked keys cannot be pickled or copied")


def unlock(home: Path, passphrase: str) -> Unlocked:
    """Open the keys of ``home`` with the passphrase; :class:`WrongPassphrase` if it is not
    the one they were sealed with."""
    info = key_info(home)
    doc = _read_home(Path(home))
    kdf = doc["kdf"]
    if kdf.get("algorithm") != "argon2id13":
        raise WorkstationError("unknown key derivation in the workstation file")
    opslimit, memlimit = kdf.get("opslimit"), kdf.get("memlimit")
    if not isinstance(opslimit, int) or not isinstance(memlimit, int):
        raise WorkstationError("the workstation file is damaged (kdf)")
    salt = _unb64(kdf.get("salt"), "salt")
    if len(salt) != nacl.pwhash.argon2id.SALTBYTES:
        raise WorkstationError("the workstation file is damaged (salt)")
    sealed = _unb64(doc.get("sealed"), "sealed keys")
    box_key = _box_key(passphrase, salt, opslimit, memlimit)
    try:
        secret = bytearray(nacl.secret.SecretBox(box_key).decrypt(sealed))
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase() from None
    finally:
        del box_key
    try:
        if len(secret) != _SECRET_BYTES:
            raise WorkstationError("the workstation file is damaged (key length)")
        submission = PrivateKey(memoryview(secret)[:32])
        signing = nacl.signing.SigningKey(bytes(secret[32:]))
    finally:
        for i in range(len(secret)):
            secret[i] = 0
    if submission.public_key != info.submission_public or bytes(signing.verify_key) != (
        info.verify_key
    ):
        submission.wipe()
        raise WorkstationError("the workstation file is damaged: its public keys do not match")
    return Unlocked(info, submission, signing)


# -- colleagues ------------------------------------------------------------------------


def colleague_keys(home: Path) -> list[PublicKey]:
    """Colleagues' submission keys added to this home, in a stable order."""
    folder = Path(home) / REVIEWERS_DIR
    if not folder.is_dir():
        return []
    keys = []
    for path in sorted(folder.glob("*.pub")):
        try:
            keys.append(read_public_key_file(path))
        except CryptoError as exc:
            raise WorkstationError(f"the reviewer key file {path.name} is damaged") from exc
    return keys


def colleague_names(home: Path) -> list[tuple[PublicKey, str]]:
    """(key, name from its file's comment) for each colleague."""
    out = []
    for path in sorted((Path(home) / REVIEWERS_DIR).glob("*.pub")):
        key = read_public_key_file(path)
        comment = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                comment = line.lstrip("#").strip()
                break
        out.append((key, comment))
    return out


def add_reviewer(home: Path, key_file: Path, *, name: str | None = None) -> PublicKey:
    """Add a colleague's submission public key (her ``reviewer.pub``): replies written
    here are sealed to her too from now on."""
    info = key_info(home)
    try:
        key = read_public_key_file(key_file)
    except CryptoError as exc:
        raise WorkstationError(f"{key_file} is not a Səsim reviewer public key: {exc}") from exc
    if key == info.submission_public:
        raise WorkstationError("this is this workstation's own key")
    if key in colleague_keys(home):
        raise WorkstationError("this reviewer's key is already added")
    label = name
    if label is None:
        for line in Path(key_file).read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                label = line.lstrip("#").strip()
                break
    label = _check_name(label or key.key_id)
    target = Path(home) / REVIEWERS_DIR / f"{key.key_id}.pub"
    try:
        target.parent.mkdir(mode=0o700, exist_ok=True)
        write_public_key_file(target, key, comment=label)
        target.chmod(0o600)
    except CryptoError as exc:
        raise WorkstationError(str(exc)) from exc
    return key
