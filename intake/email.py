"""Reports by e-mail: a dedicated mailbox polled over IMAP, answers over SMTP.

The poller (:class:`ImapPoller`, started by the intake server from
:func:`background`) logs in over TLS with certificate verification always on
(``ssl.create_default_context``; ``ca_file`` only *adds* a trusted CA for a
private server), fetches each message whole and hands it to the common path
(``intake.base.receive``) as an :class:`~securedrop_like.intake_store.Inbound`:

- ``address``: the From address, lower-case (for threading and the answers; the
  store keeps only its keyed hash, and the address sealed to the channel key);
- ``text``: the text/plain body, or "" when the message is OpenPGP-encrypted
  (PGP/MIME or inline armour): the server cannot read it, the workstation can;
- ``message_id``: the SHA-256 of the raw message (the replay key);
- ``attachments``: the raw message itself (headers, body and attachments) as
  ``message.eml``, sealed with the report;
- ``join=False``: an e-mail is a whole report, never joined with others.

Only once ``receive`` has returned (the sealed copy is committed) is the message
flagged ``\\Deleted`` and expunged. A crash in between leaves it in the box; the
next poll fetches it again, its replay mark makes ``receive`` store nothing, and it
is expunged then: nothing lost, nothing stored twice.

Answers and commands (docs/intake-email.md): an automatic message (an auto-reply,
a bounce, a list, our own answer come back) or one with no usable sender is stored
but never answered and never read as STOP or YES (``Inbound.answer`` False), so no
answer loop can start; what we send says ``Auto-Submitted: auto-replied``. Since
anyone can write her address in From, a STOP or YES counts only with her receipt in
the message (:func:`proven`: the derived keys must be her thread's source's);
otherwise it is an ordinary part, and she is told how to send it. No mail server's
verdict (SPF, DKIM, DMARC) is trusted for this: DMARC proves a domain, not a person
(anyone with an account at gmail.com passes it for gmail.com), and a withdrawal cannot
be undone. A message with more than one From header, or more than one address in its
From, is never a command. A STOP or YES carrying 20 digits that do not prove out (or
an automatic one) keeps nothing but the bare word: her receipt is never stored. At
most ``MAX_PROOFS`` receipts are checked per poll (Argon2id is costly); the rest wait
in the box for the next poll.

A message larger than ``max_message_bytes`` is left in the box untouched, with a
log line that names the event only. Log lines never hold an address, a subject,
a text or a message id.
"""

from __future__ import annotations

import dataclasses
import email
import email.errors
import email.header
import email.message
import email.policy
import email.utils
import hashlib
import imaplib
import logging
import re
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from flask import Blueprint

from securedrop_like.config import ConfigError
from securedrop_like.i18n import gettext as _
from securedrop_like.intake_store import Inbound

from . import texts
from .base import Intake, SendError
from .texts import detect_language

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "PROVIDERS",
    "EmailSettings",
    "ImapPoller",
    "PollResult",
    "SmtpSender",
    "background",
    "blueprint",
    "command_with_receipt",
    "inbound_from_raw",
    "is_automatic",
    "is_openpgp",
    "load_settings",
    "make_sender",
    "needs_proof",
    "needs_receipt",
    "plain_text",
    "proven",
    "sole_sender",
    "without_quotes",
]

log = logging.getLogger(__name__)

PROVIDERS: tuple[str, ...] = ("imap",)
DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024
#: At most this many messages are fetched in one poll (the rest wait for the next).
BATCH = 100
#: At most this many receipts are checked (one Argon2id derivation each) per poll; the
#: other STOP or YES messages with 20 digits stay in the box for the next poll.
MAX_PROOFS = 10
#: Her text as the server sees it is capped; the whole message is in the attachment.
MAX_TEXT_CHARS = 100_000
_SECURITY = ("tls", "starttls")
_HOST = re.compile(r"[A-Za-z0-9.\-\[\]:]{1,253}")
_SIZE = re.compile(rb"RFC822\.SIZE\s+(\d+)", re.I)
_ARMOUR = "-----BEGIN PGP MESSAGE-----"


def N_(message: str) -> str:  # noqa: N802 - the gettext marker pybabel extracts
    """Marks a string for the catalogues; translated when sent (:func:`_subject`)."""
    return message


#: The Subject of what we send: neutral (no receipt, no name, no topic), in her language.
SUBJECT = N_("Your message")

#: A test hook, called (with nothing) after a message's sealed copy is committed and
#: before it is deleted from the mailbox. The crash-window test pauses a poller here
#: and kills it. Never set outside tests.
AFTER_COMMIT: Callable[[], None] | None = None


# -- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailSettings:
    """``[intake.imap]`` of config.toml with its secrets (secrets/intake.toml)."""

    imap_host: str
    username: str
    address: str  # the mailbox's own address: From of what we send
    smtp_host: str
    password: str = field(repr=False)
    smtp_password: str = field(repr=False)
    imap_port: int = 993
    smtp_port: int = 465
    smtp_security: str = "tls"
    smtp_username: str = ""  # "" means the IMAP username
    ca_file: str = ""  # an extra trusted CA (a private server); verification is never off
    poll_seconds: float = 60.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    mailbox: str = "INBOX"
    timeout_seconds: float = 30.0

    def tls_context(self) -> ssl.SSLContext:
        """A client context that verifies the server's certificate and name, always."""
        context = ssl.create_default_context(cafile=self.ca_file or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # create_default_context already sets both; stated so that nobody relaxes them.
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        return context


def _text(section: dict[str, Any], key: str, default: str | None = None) -> str:
    value = section.get(key, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise ConfigError(f"[intake.imap] {key} must be a non-empty string")
    return value.strip()


def _host(section: dict[str, Any], key: str) -> str:
    value = _text(section, key)
    if not _HOST.fullmatch(value):
        raise ConfigError(f"[intake.imap] {key} must be a host name or an IP address")
    return value


def _int(section: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"[intake.imap] {key} must be a whole number from {low} to {high}")
    return value


def _number(section: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"[intake.imap] {key} must be a number from {low:g} to {high:g}")
    return float(value)


def _secret(secrets: dict[str, str], key: str) -> str:
    value = secrets.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"secrets/intake.toml has no {key} (needed by [intake.imap])")
    return value


def load_settings(provider: str, section: dict[str, Any], secrets: dict[str, str]) -> EmailSettings:
    """``[intake.imap]`` checked, with ``imap_password`` and ``smtp_password``."""
    if provider not in PROVIDERS:
        raise ConfigError(f"intake.email has no provider {provider!r}")
    if not isinstance(section, dict):
        raise ConfigError("[intake.imap] must be a table")
    known = {
        "imap_host", "imap_port", "username", "address", "smtp_host", "smtp_port",
        "smtp_security", "smtp_username", "ca_file", "poll_seconds", "max_message_bytes",
        "mailbox", "timeout_seconds",
    }  # fmt: skip
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"[intake.imap] has unknown keys: {', '.join(unknown)}")
    address = _text(section, "address")
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, TypeError) as exc:
        raise ConfigError("[intake.imap] address must be an e-mail address") from exc
    if not parsed.username or not parsed.domain:
        raise ConfigError("[intake.imap] address must be an e-mail address")
    security = _text(section, "smtp_security", "tls")
    if security not in _SECURITY:
        raise ConfigError('[intake.imap] smtp_security must be "tls" or "starttls"')
    ca_file = _text(section, "ca_file", "")
    if ca_file:
        try:
            ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError("[intake.imap] ca_file cannot be read as PEM certificates") from exc
    mailbox = _text(section, "mailbox", "INBOX")
    if not re.fullmatch(r"[A-Za-z0-9._/-]{1,100}", mailbox):
        raise ConfigError("[intake.imap] mailbox must be a plain folder name")
    return EmailSettings(
        imap_host=_host(section, "imap_host"),
        imap_port=_int(section, "imap_port", 993, 1, 65535),
        username=_text(section, "username"),
        address=address.lower(),
        smtp_host=_host(section, "smtp_host"),
        smtp_port=_int(section, "smtp_port", 465 if security == "tls" else 587, 1, 65535),
        smtp_security=security,
        smtp_username=_text(section, "smtp_username", ""),
        ca_file=str(Path(ca_file)) if ca_file else "",
        poll_seconds=_number(section, "poll_seconds", 60.0, 0.05, 86400.0),
        max_message_bytes=_int(
            section, "max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES, 1024, 1024 * 1024 * 1024
        ),
        mailbox=mailbox,
        timeout_seconds=_number(section, "timeout_seconds", 30.0, 0.5, 600.0),
        password=_secret(secrets, "imap_password"),
        smtp_password=_secret(secrets, "smtp_password"),
    )


# -- the channel-module protocol -------------------------------------------------------------


def blueprint() -> Blueprint:
    """E-mail has no endpoint: the server fetches, nobody calls in."""
    return Blueprint("intake_email", __name__)


def make_sender(provider: str, settings: EmailSettings) -> SmtpSender:
    if provider not in PROVIDERS:
        raise ConfigError(f"intake.email has no provider {provider!r}")
    return SmtpSender(settings)


def background(
    provider: str, settings: EmailSettings, ctx: Intake
) -> list[Callable[[threading.Event], None]]:
    """The IMAP poller, run by the intake server in a thread of its own."""
    if provider not in PROVIDERS:
        raise ConfigError(f"intake.email has no provider {provider!r}")
    poller = ImapPoller(settings, _receiver(ctx))
    return [poller.run]


def _receiver(ctx: Intake) -> Callable[[Inbound], None]:
    """``intake.base.receive``, inside the intake app's context when there is one."""
    from . import base

    app = getattr(ctx, "app", None)

    def deliver(msg: Inbound) -> None:
        if app is not None:
            with app.app_context():
                base.receive(proven(ctx.store, msg))
        else:
            base.receive(proven(ctx.store, msg))

    return deliver


def needs_proof(msg: Inbound) -> bool:
    """Whether :func:`proven` would check a receipt for ``msg`` (one Argon2id
    derivation): an answerable e-mail STOP or YES, held back, with 20 digits in it."""
    if msg.provider != "imap" or not msg.answer or msg.commands:
        return False
    command = command_with_receipt(msg.text)
    return command is not None and command[1] is not None


def proven(store: Any, msg: Inbound) -> Inbound:
    """``msg`` as a STOP or YES that counts, if it is one held back by
    :func:`inbound_from_raw` (``commands`` False) whose 20 digits are the receipt of
    her thread's source. If its 20 digits do not prove out (no thread for this
    address, another receipt), it is kept as the bare word alone (no text beyond it,
    no ``message.eml``): the digits may be her receipt, sent from another address or
    after her case closed, and are never stored. Anything else: ``msg`` unchanged.
    The only Argon2id derivation of the e-mail channel, run by the poller (never on a
    webhook's path), and only for a STOP or YES that carries 20 digits."""
    if not needs_proof(msg):
        return msg
    command = command_with_receipt(msg.text)
    if command is None or command[1] is None:  # pragma: no cover - needs_proof said so
        return msg
    word, receipt = command
    check = getattr(store, "receipt_owns_thread", None)
    if check is None or not check(msg, receipt):
        return dataclasses.replace(msg, text=word, attachments=())
    # Proven. Her receipt is in the message: keep neither it nor the message.
    return dataclasses.replace(msg, text=word, commands=True, notices=(), attachments=())


# -- reading a message -------------------------------------------------------------------------


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _decoded(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", errors="replace")


def _is_attachment(part: email.message.Message) -> bool:
    # str(): a raw non-UTF-8 header (an old mail program's file name) is a Header object.
    return str(part.get("Content-Disposition") or "").strip().lower().startswith("attachment")


def is_openpgp(message: email.message.Message) -> bool:
    """OpenPGP-encrypted: PGP/MIME (RFC 3156) or an inline-armoured text part."""
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype in ("multipart/encrypted", "application/pgp-encrypted"):
            return True
        if ctype == "text/plain" and not _is_attachment(part):
            if _ARMOUR in _decoded(part):
                return True
    return False


_WROTE = re.compile(r"^.{0,200}(wrote|yazıb|yazdı|писал|написал|пишет)\S*:\s*$", re.I)


def without_quotes(text: str) -> str:
    """Her own words of a reply: without the quoted message below it (lines beginning
    with ">", and the "On …, X wrote:" line above them) and without a signature (from
    a "-- " line on). So that "STOP" with our answer quoted below it is a STOP; the
    whole message, quotes included, is kept in message.eml."""
    kept: list[str] = []
    for line in text.split("\n"):
        if line.rstrip() == "--":
            break
        if line.lstrip().startswith(">"):
            while kept and (not kept[-1].strip() or _WROTE.match(kept[-1])):
                if _WROTE.match(kept.pop()):
                    break
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def plain_text(message: email.message.Message) -> str:
    """Her words: the first text/plain body part, else the text of the first HTML part,
    without quoted replies and signatures; "" for an OpenPGP-encrypted message. At most
    MAX_TEXT_CHARS."""
    if is_openpgp(message):
        return ""
    html: str | None = None
    for part in message.walk():
        if part.is_multipart() or _is_attachment(part):
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            return without_quotes(_decoded(part).replace("\r\n", "\n"))[:MAX_TEXT_CHARS]
        if ctype == "text/html" and html is None:
            html = _decoded(part)
    if html is None:
        return ""
    parser = _TextOfHtml()
    try:
        parser.feed(html)
        parser.close()
    except (ValueError, AssertionError):  # pragma: no cover - HTMLParser is lenient
        return ""
    text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()[:MAX_TEXT_CHARS]


def sole_sender(message: email.message.Message) -> bool:
    """Exactly one From header holding exactly one address. A message with two From
    headers (a forged one above the one its server checked) or a From of several
    addresses is never read as STOP or YES."""
    raw = message.get_all("From") or []
    if len(raw) != 1:
        return False
    return len(email.utils.getaddresses([str(raw[0])])) == 1


def _from_address(message: email.message.Message) -> str:
    raw = message.get_all("From") or []
    pairs = email.utils.getaddresses([str(value) for value in raw])
    for _name, addr in pairs:
        addr = addr.strip().lower()
        if "@" in addr and len(addr) <= 320 and not re.search(r"[\s<>,;\x00-\x1f]", addr):
            return addr
    return ""


def _subject(message: email.message.Message) -> str:
    value = message.get("Subject")
    if value is None:
        return ""
    try:
        return str(email.header.make_header(email.header.decode_header(str(value))))
    except (ValueError, LookupError, UnicodeDecodeError, email.errors.MessageError):
        return ""


def _detect_language(text: str) -> str:
    return str(detect_language(text))


#: The "address" of a message with no usable From: unique to the message, so that two
#: such messages never share a thread, and not an e-mail address, so nothing is sent.
NO_SENDER = "no-sender:"


def inbound_from_raw(raw: bytes, *, own_address: str = "") -> Inbound:
    """The Inbound for one raw message, as received. Never raises for a malformed
    message: what cannot be read is left out of the text and the whole message is
    kept in the attachment.

    Never answered (``answer`` False), and never STOP or YES: a message with no usable
    sender, from ``own_address`` (our own answer come back), or automatic
    (:func:`is_automatic`: auto-replies, bounces, lists). A STOP or YES is held back
    (``commands`` False, with a notice telling her how to send it): :func:`proven` may
    accept it for her receipt. With more than one From header or address it is an
    ordinary part, never a command. A STOP or YES with 20 digits that can never be
    proven here (automatic, no sender, several From) keeps only the bare word.
    """
    message_id = hashlib.sha256(raw).hexdigest()
    text = address = lang_sample = ""
    automatic = False
    single = True
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        address = _from_address(message)
        automatic = is_automatic(message, own_address)
        encrypted = is_openpgp(message)
        text = "" if encrypted else plain_text(message)
        lang_sample = text or ("" if encrypted else _subject(message))
        single = sole_sender(message)
    except Exception as exc:  # noqa: BLE001 - a hostile message must still be kept
        automatic = True  # what cannot be read is never answered
        log.info("an e-mail could not be parsed (%s); it is kept whole", type(exc).__name__)
    msg = Inbound(
        provider="imap",
        address=address or NO_SENDER + message_id,
        text=text,
        message_id=message_id,
        lang=_detect_language(lang_sample) if lang_sample else "az",
        attachments=(("message.eml", "message/rfc822", raw),),
        join=False,
        answer=bool(address) and not automatic,
    )
    command = command_with_receipt(text)
    if command is None:
        return msg
    word, receipt = command
    lang = texts.command_language(word) or msg.lang
    if not msg.answer or not single:
        # Never a command. If it carries 20 digits (perhaps her receipt), keep the word only.
        if receipt is None:
            return dataclasses.replace(msg, commands=False)
        return dataclasses.replace(msg, text=word, lang=lang, commands=False, attachments=())
    notice = needs_receipt(lang, stop=texts.is_stop(word))
    return dataclasses.replace(msg, lang=lang, commands=False, notices=(notice,))


#: Her receipt in a message: 20 digits, spaced or grouped as she likes.
_RECEIPT = re.compile(r"(?<!\d)(?:\d[\s.\-]{0,3}){19}\d(?!\d)")


def command_with_receipt(text: str) -> tuple[str, str | None] | None:
    """(the word, her receipt's 20 digits or None) if ``text`` is STOP or YES (in any
    of our languages), alone or with 20 digits; None for anything else."""
    if len(text) > 400:
        return None
    receipt: str | None = None
    match = _RECEIPT.search(text)
    rest = text
    if match:
        receipt = re.sub(r"\D", "", match.group(0))
        rest = text[: match.start()] + " " + text[match.end() :]
    rest = rest.strip()
    if texts.is_stop(rest) or texts.is_yes(rest):
        return rest, receipt
    return None


def needs_receipt(lang: str, *, stop: bool) -> str:
    """What she is told when an e-mail STOP (or YES) did not prove it came from her."""
    with texts.in_language(lang):
        if stop:
            return _(
                "Nothing was deleted. To delete everything by e-mail, reply STOP followed by "
                "your receipt number. Or delete it on our site with your receipt."
            )
        return _(
            "To get the lawyers' answers by e-mail, reply YES followed by your receipt "
            "number. Until then, their answers wait for you on our site."
        )


_AUTOMATIC_SENDERS = ("mailer-daemon", "postmaster")
_BULK = ("bulk", "junk", "list")


def is_automatic(message: email.message.Message, own_address: str = "") -> bool:
    """Sent by a machine, or by us: answering it could start a loop of answers (RFC
    3834). From our own address; ``Auto-Submitted`` other than ``no``; ``Precedence``
    bulk, junk or list; a ``List-Id``; an empty ``Return-Path`` (a bounce); From
    MAILER-DAEMON or postmaster; a delivery report."""
    sender = _from_address(message)
    if own_address and sender == own_address.lower():
        return True
    if sender.partition("@")[0] in _AUTOMATIC_SENDERS:
        return True
    for value in message.get_all("Auto-Submitted") or []:
        if str(value).split(";")[0].strip().lower() != "no":
            return True
    for value in message.get_all("Precedence") or []:
        if str(value).strip().lower() in _BULK:
            return True
    if message.get("List-Id") is not None:
        return True
    for value in message.get_all("Return-Path") or []:
        if re.sub(r"\s+", "", str(value)) == "<>":
            return True
    return message.get_content_type() == "multipart/report"


# -- the poller ----------------------------------------------------------------------------


@dataclass
class PollResult:
    stored: int = 0  # handed to receive and then expunged (a replay counts too)
    oversized: int = 0  # left in the box: larger than max_message_bytes
    failed: int = 0  # receive failed: left in the box for the next poll
    undeleted: int = 0  # stored, but the server refused to delete it
    deferred: int = 0  # a STOP or YES with 20 digits beyond MAX_PROOFS: left for the next poll


class ImapPoller:
    """Fetch, seal (through ``deliver``), then delete: one message at a time."""

    def __init__(self, settings: EmailSettings, deliver: Callable[[Inbound], None]) -> None:
        self.settings = settings
        self.deliver = deliver
        self._oversized_seen: set[str] = set()
        self._proofs = 0  # receipts checked in the current poll

    def _connect(self) -> imaplib.IMAP4_SSL:
        s = self.settings
        return imaplib.IMAP4_SSL(
            s.imap_host, s.imap_port, ssl_context=s.tls_context(), timeout=s.timeout_seconds
        )

    def poll_once(self) -> PollResult:
        """One pass over the mailbox. Raises on a connection, TLS or login failure
        (nothing fetched, nothing deleted)."""
        s = self.settings
        result = PollResult()
        self._proofs = 0
        imap = self._connect()
        try:
            imap.login(s.username, s.password)
            typ, _ = imap.select(s.mailbox)
            if typ != "OK":
                raise imaplib.IMAP4.error("the mailbox cannot be selected")
            uidplus = "UIDPLUS" in imap.capabilities
            typ, data = imap.uid("SEARCH", "ALL")
            if typ != "OK":
                raise imaplib.IMAP4.error("the mailbox cannot be searched")
            uids = [u.decode("ascii") for u in (data[0] or b"").split()] if data else []
            for uid in uids[:BATCH]:
                self._one(imap, uid, uidplus, result)
        finally:
            try:
                imap.logout()
            except (OSError, imaplib.IMAP4.error):
                pass
        if result.stored or result.oversized or result.failed or result.deferred:
            log.info(
                "e-mail poll: %d stored (%d not deleted), %d left (too large), %d left "
                "(failed), %d left (receipt checks for the next poll)",
                result.stored,
                result.undeleted,
                result.oversized,
                result.failed,
                result.deferred,
            )
        return result

    def _size(self, imap: imaplib.IMAP4_SSL, uid: str) -> int | None:
        typ, data = imap.uid("FETCH", uid, "(RFC822.SIZE)")
        if typ != "OK":
            return None
        for item in data or []:
            line = item[0] if isinstance(item, tuple) else item
            if isinstance(line, bytes):
                match = _SIZE.search(line)
                if match:
                    return int(match.group(1))
        return None

    def _fetch(self, imap: imaplib.IMAP4_SSL, uid: str) -> bytes | None:
        typ, data = imap.uid("FETCH", uid, "(BODY.PEEK[])")
        if typ != "OK":
            return None
        for item in data or []:
            if isinstance(item, tuple) and isinstance(item[1], bytes):
                return item[1]
        return None

    def _one(self, imap: imaplib.IMAP4_SSL, uid: str, uidplus: bool, result: PollResult) -> None:
        limit = self.settings.max_message_bytes
        size = self._size(imap, uid)
        if size is None:
            return  # gone meanwhile (another session expunged it)
        if size > limit:
            if uid not in self._oversized_seen:
                self._oversized_seen.add(uid)
                log.warning("an e-mail larger than max_message_bytes was left in the mailbox")
            result.oversized += 1
            return
        raw = self._fetch(imap, uid)
        if raw is None:
            return
        if len(raw) > limit:  # the server's size was wrong: the same refusal
            result.oversized += 1
            return
        msg = inbound_from_raw(raw, own_address=self.settings.address)
        if needs_proof(msg):
            if self._proofs >= MAX_PROOFS:
                result.deferred += 1  # left in the box, untouched: the next poll checks it
                return
            self._proofs += 1
        try:
            self.deliver(msg)
        except Exception as exc:  # noqa: BLE001 - left in the box, retried next poll
            log.error("an e-mail could not be stored (%s); it stays in the mailbox",
                      type(exc).__name__)  # fmt: skip
            result.failed += 1
            return
        # Committed (or a replay of a committed one): now, and only now, delete it.
        if AFTER_COMMIT is not None:
            AFTER_COMMIT()
        result.stored += 1
        typ, _ = imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
        if typ == "OK":
            typ, _ = imap.uid("EXPUNGE", uid) if uidplus else imap.expunge()
        if typ != "OK":
            # Stored, not deleted: the next poll finds it again, stores nothing (its
            # replay mark) and tries again. Said, so that a read-only box is noticed.
            result.undeleted += 1
            log.warning("a stored e-mail could not be deleted from the mailbox")

    def run(self, stop: threading.Event) -> None:
        """Poll every ``poll_seconds`` until ``stop`` is set; a failed poll is logged
        (its type only) and retried at the next turn."""
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - the loop must survive a bad poll
                log.warning("the e-mail poll failed (%s)", type(exc).__name__)
            stop.wait(self.settings.poll_seconds)


# -- the sender ----------------------------------------------------------------------------


def _subject_in(lang: str) -> str:
    from babel.support import Translations

    from securedrop_like.i18n import TRANSLATIONS

    translations = Translations.load(str(TRANSLATIONS), [lang])
    return str(translations.gettext(SUBJECT))


class SmtpSender:
    """Plain-text UTF-8 mail over SMTP with TLS (implicit, or STARTTLS), the server's
    certificate verified, logged in with ``smtp_password``."""

    provider = "imap"

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    def message(self, address: str, text: str) -> email.message.EmailMessage:
        s = self.settings
        msg = email.message.EmailMessage(policy=email.policy.SMTP)
        msg["From"] = s.address
        msg["To"] = address
        lang = _detect_language(text) if text else "az"
        msg["Subject"] = _subject_in(lang)
        msg["Date"] = email.utils.formatdate(usegmt=True)
        msg["Message-ID"] = email.utils.make_msgid(domain=s.address.rpartition("@")[2])
        # An automatic answer (RFC 3834): her auto-reply, or a bounce, must not answer it.
        msg["Auto-Submitted"] = "auto-replied"
        # 7-bit safe on the wire, whatever the relay supports.
        msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
        msg["Content-Language"] = lang  # after set_content, which resets Content-* headers
        return msg

    def send(self, address: str, text: str) -> None:
        s = self.settings
        if not address or "@" not in address or re.search(r"[\s<>,;\x00-\x1f]", address):
            raise SendError("the address is not an e-mail address")
        try:
            msg = self.message(address, text)
        except (ValueError, TypeError, IndexError) as exc:
            raise SendError("the message could not be composed") from exc
        context = s.tls_context()
        try:
            smtp: smtplib.SMTP
            if s.smtp_security == "tls":
                smtp = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.timeout_seconds, context=context
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds)
            with smtp:
                smtp.ehlo()
                if s.smtp_security == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise SendError("the SMTP server does not offer STARTTLS")
                    smtp.starttls(context=context)
                    smtp.ehlo()
                smtp.login(s.smtp_username or s.username, s.smtp_password)
                smtp.send_message(msg, from_addr=s.address, to_addrs=[address])
        except SendError:
            raise
        except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            # The type only: an SMTP error's text can quote the address.
            raise SendError(f"SMTP delivery failed ({type(exc).__name__})") from None
