"""E-mail reports on the workstation: the instance's OpenPGP key, and reading the
message a woman sent (``message.eml``, sealed whole by the intake server).

The OpenPGP key pair lives in the workstation's own GnuPG home (``<home>/gnupg``).
Its secret part is protected by a passphrase derived from the unlocked submission
key, so it opens only while the workstation is unlocked, like everything else
here. Its public part is exported to a file for ``sesim pgp-key install`` on the
server, which publishes it.

An encrypted e-mail (PGP/MIME, RFC 3156, or an inline armoured block) is decrypted
here with python-gnupg through :class:`crypto.OpenPGP`, only to be shown: nothing
decrypted is written to disk.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.message
import email.policy
import email.utils
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crypto import CryptoError, OpenPGP, OutputTooLarge

from .keys import Unlocked, WorkstationError

__all__ = [
    "GNUPG_DIR",
    "MailView",
    "generate_key",
    "gnupg_home",
    "gnupg_passphrase",
    "is_mail",
    "read_mail",
]

GNUPG_DIR = "gnupg"
MAX_SHOWN_CHARS = 200_000
#: At most this many bytes come out of decrypting an OpenPGP e-mail (gpg's --max-output):
#: a few KiB can be compressed from gigabytes. The text shown is at most MAX_SHOWN_CHARS;
#: the rest is room for her files' list. Beyond, it is "not opened (too large)".
MAX_DECRYPTED_BYTES = 8 * 1024 * 1024
#: MIME parts nested deeper than this are not looked at (a crafted e-mail nests thousands).
MAX_MIME_DEPTH = 20
_ARMOUR = re.compile(r"-----BEGIN PGP MESSAGE-----\r?\n.*?-----END PGP MESSAGE-----", re.DOTALL)
_PERSON = b"sesim-ws-gnupg"


def gnupg_home(home: Path) -> Path:
    return Path(home) / GNUPG_DIR


def gnupg_passphrase(unlocked: Unlocked) -> str:
    """The GnuPG secret key's passphrase: derived from the submission key, never stored."""
    return hashlib.blake2b(
        b"gnupg passphrase",
        digest_size=32,
        key=unlocked.submission.unsafe_raw(),
        person=_PERSON,
    ).hexdigest()


def _has_secret_key(home: Path) -> bool:
    folder = gnupg_home(home) / "private-keys-v1.d"
    return folder.is_dir() and any(folder.iterdir())


def generate_key(unlocked: Unlocked, name: str, address: str, out: Path) -> str:
    """Make the instance's OpenPGP key pair in this workstation's GnuPG home and write
    its public part to ``out`` (a new file). Returns the fingerprint. Refuses when the
    home has a key already (a second key would leave mail to the first unreadable)."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise WorkstationError(f"{out} already exists: refusing to overwrite it")
    if _has_secret_key(unlocked.home):
        raise WorkstationError("this workstation has an OpenPGP key already (see its gnupg folder)")
    try:
        with OpenPGP(gnupg_home(unlocked.home)) as pgp:
            fingerprint = pgp.generate_key(name, address, gnupg_passphrase(unlocked))
            armoured = pgp.export_public_key(fingerprint)
    except CryptoError as exc:
        raise WorkstationError(f"GnuPG could not make the key: {exc}") from exc
    try:
        with out.open("x", encoding="ascii") as f:
            f.write(armoured)
    except OSError as exc:
        raise WorkstationError(f"cannot write {out}: {exc.strerror}") from exc
    return fingerprint


# -- reading an e-mail -------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    size: int


@dataclass
class MailView:
    """What a reviewer reads of one e-mail."""

    sender: str = ""
    to: str = ""
    date: str = ""
    subject: str = ""
    text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    encrypted: bool = False
    decrypted: bool = False
    # why an encrypted message was not opened: "no-key", "not-decrypted", "too-large"
    problem: str = ""
    # The decrypted message's own attachments are listed; the original stays downloadable.


def is_mail(name: str | None, content_type: str | None) -> bool:
    return (content_type or "").lower() == "message/rfc822" or (name or "").lower().endswith(".eml")


def _header(message: email.message.Message, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(email.header.make_header(email.header.decode_header(str(value))))
    except (ValueError, LookupError, UnicodeDecodeError, email.errors.MessageError):
        text = str(value)
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()[:500]


def _walk(message: email.message.Message, depth: int = 0) -> Iterator[email.message.Message]:
    """``message.walk()``, but no deeper than MAX_MIME_DEPTH levels of nesting."""
    yield message
    if depth >= MAX_MIME_DEPTH or not message.is_multipart():
        return
    payload = message.get_payload()
    if not isinstance(payload, list):
        return
    for part in payload:
        if isinstance(part, email.message.Message):
            yield from _walk(part, depth + 1)


def _decoded(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _body(message: email.message.Message) -> tuple[str, list[Attachment]]:
    text = ""
    html = ""
    attachments: list[Attachment] = []
    for part in _walk(message):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        # str(): a raw non-UTF-8 header (an old mail program's file name) is a Header object.
        disposition = str(part.get("Content-Disposition") or "").lower()
        filename = part.get_filename()
        if ctype == "text/plain" and not text and "attachment" not in disposition:
            text = _decoded(part)
        elif ctype == "text/html" and not html and "attachment" not in disposition:
            html = _decoded(part)
        elif ctype not in ("application/pgp-encrypted",):
            payload = part.get_payload(decode=True)
            attachments.append(
                Attachment(
                    re.sub(r"[\x00-\x1f\x7f/\\]", "_", filename or "")[:100] or ctype,
                    ctype,
                    len(payload) if isinstance(payload, bytes) else 0,
                )
            )
    if not text and html:
        text = re.sub(r"<[^>]*>", " ", html)  # shown as text, escaped by the template
    return text.replace("\r\n", "\n").strip()[:MAX_SHOWN_CHARS], attachments


def _ciphertext(message: email.message.Message) -> bytes | None:
    """The OpenPGP message inside: PGP/MIME's second part, or an inline armoured block."""
    if message.get_content_type() == "multipart/encrypted":
        parts = message.get_payload()
        if isinstance(parts, list) and len(parts) >= 2 and not isinstance(parts[1], str):
            payload = parts[1].get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload
    for part in _walk(message):
        if part.get_content_type() in ("text/plain", "application/octet-stream"):
            match = _ARMOUR.search(_decoded(part))
            if match:
                return match.group(0).encode("ascii", "replace")
    return None


def read_mail(
    raw: bytes,
    home: Path | None = None,
    unlocked: Unlocked | None = None,
    max_decrypted: int = MAX_DECRYPTED_BYTES,
) -> MailView:
    """Headers, text and attachments of a raw e-mail; an encrypted one is decrypted with
    this workstation's OpenPGP key when ``unlocked`` is given and the key is there, to
    at most ``max_decrypted`` bytes. A crafted e-mail may still raise (RecursionError
    for thousands of nested parts, while parsing): the caller shows it as not shown."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    view = MailView(
        sender=_header(message, "From"),
        to=_header(message, "To"),
        date=_header(message, "Date"),
        subject=_header(message, "Subject"),
    )
    ciphertext = _ciphertext(message)
    if ciphertext is None:
        view.text, view.attachments = _body(message)
        return view
    view.encrypted = True
    if unlocked is None or home is None or not _has_secret_key(home):
        view.problem = "no-key"
        return view
    try:
        with OpenPGP(gnupg_home(home)) as pgp:
            plain = pgp.decrypt(ciphertext, gnupg_passphrase(unlocked), max_output=max_decrypted)
    except OutputTooLarge:
        view.problem = "too-large"
        return view
    except CryptoError:
        view.problem = "not-decrypted"
        return view
    view.decrypted = True
    inner: Any = email.message_from_bytes(plain, policy=email.policy.compat32)
    if message.get_content_type() == "multipart/encrypted" and (
        str(inner.get("Content-Type") or "") or inner.is_multipart()
    ):
        # PGP/MIME: a whole MIME entity inside (RFC 3156), maybe with protected headers.
        view.text, view.attachments = _body(inner)
        view.subject = _header(inner, "Subject") or view.subject
    else:
        view.text = (
            plain.decode("utf-8", errors="replace").replace("\r\n", "\n").strip()[:MAX_SHOWN_CHARS]
        )
    return view
