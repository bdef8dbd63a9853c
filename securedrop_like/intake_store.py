"""The channels' side of the store: SMS, e-mail, Messenger and X messages (issue 12).

INTERFACE STUB written by the lead: the work package "core" fills it in and may
add to it, but keeps these names and meanings (other packages code against them).

A sender's address (phone number, e-mail address, platform user id) is never
stored in plaintext: threads are found by a keyed hash (``secrets/thread.keys``,
rotatable); the address itself is kept only sealed to the channel key
(``channel.pub`` / ``secrets/channel.key``; only the intake server reads the
private half) while she waits for an answer she asked for, and deleted on
withdrawal or when her case is closed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from crypto import CryptoError, EnvelopeContext, PrivateKey, decrypt_bytes, encrypt_bytes

from . import codenames, commands, models
from .channels import ThreadKeyCache, ThreadKeys, channel_public_key
from .commands import item_tuple
from .config import Config
from .db import Connection
from .derivation import Deriver
from .errors import BadCodename
from .service import ReportService
from .store import new_id

log = logging.getLogger(__name__)

#: A queued message that failed this many times is dropped.
MAX_ATTEMPTS = 8
#: Replay marks are kept this many days.
SEEN_DAYS = 30
#: A message still queued after this many days is deleted ([intake] outbox_max_days).
OUTBOX_MAX_DAYS = 7

#: The sources.channel values besides "web".
CHANNELS = ("sms", "email", "messenger", "x")
#: Providers, each belonging to one channel.
PROVIDERS = {
    "smssync": "sms",
    "twilio": "sms",
    "webhook": "sms",
    "imap": "email",
    "messenger": "messenger",
    "x": "x",
}


@dataclass(frozen=True)
class Inbound:
    """One authenticated inbound message, parsed by its channel module."""

    provider: str  # a key of PROVIDERS
    address: str  # normalised: E.164 phone, lower-case e-mail address, platform user id
    text: str  # her words ("" for an OpenPGP e-mail: its text is in the attachment)
    message_id: str  # the provider's id of this message: the replay key
    lang: str  # "az", "ru" or "en" (intake.texts.detect_language)
    # The e-mail as received: (("message.eml", "message/rfc822", raw bytes),)
    attachments: tuple[tuple[str, str, bytes], ...] = ()
    join: bool = True  # False: store at once, never wait for more parts (e-mail)
    # False: store it (sealed) but never answer it, and never read it as STOP or YES
    # (an auto-reply, a bounce, our own answer come back, a message with no sender).
    answer: bool = True
    # False: STOP and YES words are not honoured: it is an ordinary part (an e-mail
    # STOP whose sender is not proven). Ignored when ``answer`` is False.
    commands: bool = True
    # Texts (in her language) to queue to her once this part is stored, instead of the
    # usual "received" (her first answers, with her receipt, are still sent before them).
    notices: tuple[str, ...] = ()

    @property
    def channel(self) -> str:
        return PROVIDERS[self.provider]


@dataclass(frozen=True)
class Outgoing:
    """A message waiting in the outbox, opened with the channel key."""

    id: str
    provider: str
    address: str
    lang: str
    text: str  # what to send, already in her language
    source_id: str | None = None  # her source (None: a STOP confirmation)
    staff_reply: bool = False  # the address came from her thread (a lawyer's reply or notice)


def ordered_ids(count: int) -> list[str]:
    """``count`` new outbox ids that sort in queue order among themselves (the
    outbox is read ``ORDER BY attempts, id``: her receipt before the YES question)
    and in no order against any other batch: one random 120-bit prefix, then the
    position. Still 32 hex characters, as an envelope's item id must be."""
    if not 0 <= count <= 256:
        raise ValueError("at most 256 messages in one batch")
    prefix = new_id()[:30]
    return [f"{prefix}{n:02x}" for n in range(count)]


class IntakeStore:
    """The intake server's store: pending parts, threads, replay marks, the outbox.

    Sealing (see docs/intake-core.md): a part's text (with her language, the provider
    and an e-mail's attachments) is sealed to the reviewers and the channel key, bound
    to ``EnvelopeContext.message(part id)``; its address to the channel key alone,
    bound to ``EnvelopeContext.file(part id)``; a thread's kept address to the channel
    key, bound to ``EnvelopeContext.file(thread hash[:32])``; an outbox row to the
    channel key, bound to ``EnvelopeContext.message(outbox id)``. So no sealed value
    can be moved to another row (or the address put where a text is expected).
    """

    def __init__(self, service: ReportService) -> None:
        self.service = service
        self.config = service.config
        self.keys = ThreadKeyCache(self.config)
        self.keys.get()  # a missing or broken key file is a ConfigError now, not later
        self.channel_public = channel_public_key(self.config)
        self.deriver = Deriver(self.config)

    @classmethod
    def open(cls, config: Config) -> Self:
        return cls(ReportService.open(config))

    def close(self) -> None:
        self.service.close()

    # -- sealing -----------------------------------------------------------------------------
    def _seal_channel(self, data: bytes, context: EnvelopeContext) -> bytes:
        return encrypt_bytes(data, [self.channel_public], context=context)

    def _sealed_outgoing(self, outbox_id: str, address: str | None, text: str, lang: str) -> bytes:
        document: dict[str, Any] = {"text": text, "lang": lang}
        if address is not None:
            document["address"] = address
        return self._seal_channel(_dumps(document), EnvelopeContext.message(outbox_id))

    def _part(self, msg: Inbound) -> tuple[str, bytes, bytes]:
        """(part id, sealed text, sealed address) of a message."""
        part_id = new_id()
        document: dict[str, Any] = {
            "text": msg.text,
            "lang": msg.lang,
            "provider": msg.provider,
            "attachments": [
                {"name": name, "type": ctype, "data": base64.b64encode(data).decode("ascii")}
                for name, ctype, data in msg.attachments
            ],
        }
        if not msg.answer:
            document["answer"] = False
        if msg.notices:
            document["notices"] = list(msg.notices)
        recipients = [*self.service.recipients(), self.channel_public]
        sealed = encrypt_bytes(
            _dumps(document), recipients, context=EnvelopeContext.message(part_id)
        )
        address = self._seal_channel(msg.address.encode("utf-8"), EnvelopeContext.file(part_id))
        return part_id, sealed, address

    def _thread_address(self, thread_hash: str, address: str) -> bytes:
        return self._seal_channel(address.encode("utf-8"), _thread_context(thread_hash))

    def _move(self, keys: ThreadKeys, msg: Inbound) -> commands.ThreadMove:
        hashes = keys.thread_hashes(msg.channel, msg.address)
        current = hashes[0][1]
        old = [h for _, h in hashes[1:]]
        resealed = self._thread_address(current, msg.address) if old else None
        return (current, keys.current_version, old, resealed)

    # -- webhook side: the same work whoever the sender is --------------------------------
    def add_part(self, msg: Inbound) -> bool:
        """Seal ``msg`` (to the reviewers and the channel key; the address to the channel
        key alone) and keep it as a pending part of its thread, with its replay mark, in
        one transaction. False, and nothing stored, if its (provider, message_id) was
        seen before."""
        keys = self.keys.get()
        marks = keys.seen_marks(msg.provider, msg.message_id)
        part_id, sealed, address = self._part(msg)
        args = (marks, self.service.today(), self._move(keys, msg), part_id, sealed, address)
        return bool(self.service._command("intake_add_part", args))

    def withdraw(self, msg: Inbound, confirmation: str) -> bool:
        """STOP: withdraw her source as the web's withdrawal does (retraction notice
        for the reviewers), delete her pending parts, thread, sealed address and queued
        outbox rows, and queue ``confirmation`` to her address; replay-marked. The same
        rows are written whether or not she was known. False if a replay."""
        keys = self.keys.get()
        marks = keys.seen_marks(msg.provider, msg.message_id)
        hashes = [h for _, h in keys.thread_hashes(msg.channel, msg.address)]
        outbox_id = new_id()
        sealed = self._sealed_outgoing(outbox_id, msg.address, confirmation, msg.lang)
        args = (marks, self.service.today(), hashes, (outbox_id, None, msg.provider, sealed))
        result = self.service._command("intake_withdraw", args)
        if result == commands.REPLAY:
            return False
        self.service._command("checkpoint", ())
        return True

    def opt_in(self, msg: Inbound, confirmation: str) -> bool:
        """YES: keep her address sealed to the channel key so that replies reach her on
        this channel (while her case is open), and queue ``confirmation``. Without a
        thread (or with her case closed) it is an ordinary part (``add_part``). False if
        a replay."""
        keys = self.keys.get()
        marks = keys.seen_marks(msg.provider, msg.message_id)
        move = self._move(keys, msg)
        thread_address = move[3] or self._thread_address(move[0], msg.address)
        outbox_id = new_id()
        sealed = self._sealed_outgoing(outbox_id, msg.address, confirmation, msg.lang)
        args = (
            marks,
            self.service.today(),
            move,
            self._part(msg),
            thread_address,
            msg.provider,
            (outbox_id, sealed),
        )
        return bool(self.service._command("intake_opt_in", args) != commands.REPLAY)

    def prune_seen(self, days: int = SEEN_DAYS) -> int:
        """Forget replay marks older than ``days`` days."""
        today = dt.date.fromisoformat(self.service.today())
        cutoff = (today - dt.timedelta(days=days)).isoformat()
        return int(self.service._command("intake_prune_seen", (cutoff,)))

    def thread_hash(self, msg: Inbound) -> str:
        """The hash her parts are kept under (the current thread key's): what to pass to
        :meth:`flush` to flush her thread at once (an e-mail, ``join=False``)."""
        return self.keys.get().thread_hash(msg.channel, msg.address)

    def receipt_owns_thread(self, msg: Inbound, receipt: str) -> bool:
        """Whether ``receipt`` (her 20 digits, any spacing) is the codename of the source
        that ``msg``'s thread belongs to: what proves that an e-mail STOP or YES comes from
        her and not from someone who knows her address. One Argon2id derivation (through
        the shared derivation slots): only for a command that carries 20 digits, never on
        a webhook's path. False for a malformed receipt or an unknown thread."""
        try:
            derived = self.deriver.derive(self.deriver.normalise(receipt))
        except BadCodename:
            return False
        conn = self.service.db.reader()
        source = models.source_by_lookup(conn, derived.lookup_id)
        if source is None:
            return False
        for _version, thread_hash in self.keys.get().thread_hashes(msg.channel, msg.address):
            thread = models.thread_by_hash(conn, thread_hash)
            if thread is not None and hmac.compare_digest(thread.source_id, source.id):
                return True
        return False

    # -- courier side: the intake server's background threads ------------------------------
    def flush_pending(
        self, channel_key: PrivateKey, answer: Callable[[str, str | None], list[str]]
    ) -> list[str]:
        """Flush every thread with pending parts (the courier's start-up, after a crash);
        returns the source ids."""
        out = []
        for thread_hash in self.pending_threads():
            source_id = self.flush(thread_hash, channel_key, answer)
            if source_id is not None:
                out.append(source_id)
        return out

    def pending_threads(self) -> list[str]:
        """Thread hashes that have pending parts."""
        return models.pending_thread_hashes(self.service.db.reader())

    def flush(
        self,
        thread_hash: str,
        channel_key: PrivateKey,
        answer: Callable[[str, str | None], list[str]],
    ) -> str | None:
        """Join the thread's pending parts, in order, into one report of a new source
        (codename: a fresh 20-digit receipt, keys derived as the web does) or one
        message of her existing source; delete the parts; queue each text of
        ``answer(lang, receipt)`` (receipt None for a known source) to her address;
        all in one transaction. Returns the source id (None if nothing was pending).

        If the process dies anywhere in here, either all of it was committed or none:
        the parts are still pending and the next flush (at the latest the courier's at
        start-up) makes the report; no answer was queued for a receipt never stored."""
        for _attempt in range(3):
            result = self._flush_once(thread_hash, channel_key, answer)
            if result != commands.FLUSH_RETRY:
                return None if result == commands.FLUSH_GONE else result
        return None  # her source keeps vanishing: the parts stay for the next turn

    def _flush_once(
        self,
        thread_hash: str,
        channel_key: PrivateKey,
        answer: Callable[[str, str | None], list[str]],
    ) -> str | None:
        conn = self.service.db.reader()
        parts = models.pending_parts(conn, thread_hash)
        if not parts:
            return commands.FLUSH_GONE
        opened: list[dict[str, Any]] = []
        address = ""
        for part in parts:
            try:
                document = json.loads(
                    decrypt_bytes(
                        part.sealed, channel_key, expected=EnvelopeContext.message(part.id)
                    )
                )
                address = decrypt_bytes(
                    part.address, channel_key, expected=EnvelopeContext.file(part.id)
                ).decode("utf-8")
            except (CryptoError, ValueError) as exc:  # never expected: dropped with the rest
                log.error("a pending part does not open: %s", type(exc).__name__)
                continue
            opened.append(document)
        part_ids = [p.id for p in parts]
        if not opened:
            self.service._command(
                "intake_flush",
                (thread_hash, 0, part_ids, None, None, [], self.service.today(), "", "", []),
            )
            return commands.FLUSH_GONE
        provider = str(opened[-1]["provider"])
        channel = PROVIDERS[provider]
        lang = str(opened[0].get("lang") or "az")
        texts = [str(d.get("text", "")) for d in opened]
        files = [
            (str(a["name"]), str(a["type"]), base64.b64decode(a["data"]))
            for d in opened
            for a in d.get("attachments", [])
        ]
        document = {
            "text": "\n".join(t for t in texts if t),
            "lang": lang,
            "channel": channel,
            "parts": len(opened),
        }
        keys = self.keys.get()
        version = next((v for v, h in keys.thread_hashes(channel, address) if h == thread_hash), 0)
        thread = models.thread_by_hash(conn, thread_hash)
        new_source: tuple[str, bytes, str] | None = None
        known: str | None = None
        if thread is None:
            receipt: str | None = codenames.generate_receipt()
            derived = self.deriver.derive(self.deriver.normalise(receipt or ""))
            new_source = (derived.lookup_id, derived.public_key.raw, channel)
            kind = "report"
        else:
            receipt = None
            known = thread.source_id
            kind = "message"
        items = [item_tuple(i) for i in self.service.seal_items(kind, document, files)]
        answers = []
        texts = _answers(opened, answer, lang, receipt)
        for outbox_id, text in zip(ordered_ids(len(texts)), texts, strict=True):
            answers.append(
                (outbox_id, provider, self._sealed_outgoing(outbox_id, address, text, lang))
            )
        args = (
            thread_hash,
            version,
            part_ids,
            new_source,
            known,
            items,
            self.service.today(),
            provider,
            lang,
            answers,
        )
        result: str = self.service._command("intake_flush", args)
        return result

    def outbox(
        self, channel_key: PrivateKey, provider: str | None = None, limit: int = 50
    ) -> list[Outgoing]:
        """Queued messages, opened (staff replies resolve her sealed address now, and are
        dropped if she has withdrawn or her case closed)."""
        conn = self.service.db.reader()
        out: list[Outgoing] = []
        dropped: list[str] = []
        for row in models.outbox_rows(conn, provider, limit):
            try:
                document = json.loads(
                    decrypt_bytes(row.sealed, channel_key, expected=EnvelopeContext.message(row.id))
                )
                address = document.get("address")
                if address is None:
                    thread = models.delivery_thread(conn, row.source_id) if row.source_id else None
                    if thread is None or thread.address is None:
                        dropped.append(row.id)
                        continue
                    address = decrypt_bytes(
                        thread.address, channel_key, expected=_thread_context(thread.thread_hash)
                    ).decode("utf-8")
            except (CryptoError, ValueError) as exc:
                log.error("a queued message does not open: %s", type(exc).__name__)
                dropped.append(row.id)
                continue
            out.append(
                Outgoing(
                    row.id,
                    row.provider,
                    str(address),
                    str(document.get("lang", "az")),
                    str(document.get("text", "")),
                    row.source_id,
                    document.get("address") is None,
                )
            )
        if dropped:
            self.delivered(dropped)
        return out

    def still_queued(self, outbox_ids: list[str]) -> set[str]:
        """Which of ``outbox_ids`` are still queued: a plain SELECT of ids, nothing is
        opened (SMSSync's unauthenticated ``task=sent`` asks this)."""
        if not outbox_ids:
            return set()
        return models.outbox_ids_present(self.service.db.reader(), list(outbox_ids))

    def may_send(self, row: Outgoing) -> bool:
        """Whether ``row`` may still go out now, just before it is sent: it is still
        queued (STOP, a withdrawal or a closed case delete it) and, for a lawyer's reply
        or notice, her thread still takes replies. A cheap query, nothing opened."""
        conn = self.service.db.reader()
        if not models.outbox_ids_present(conn, [row.id]):
            return False
        if row.staff_reply:
            return row.source_id is not None and (
                models.delivery_thread(conn, row.source_id) is not None
            )
        return True

    def prune_outbox(self, max_days: int = OUTBOX_MAX_DAYS) -> int:
        """Delete queued messages older than ``max_days`` days (secure_delete, then a
        WAL checkpoint): an SMSSync phone that never polls again, say, would otherwise
        keep her sealed address and receipt here for ever. Returns how many went."""
        today = dt.date.fromisoformat(self.service.today())
        cutoff = (today - dt.timedelta(days=max_days)).isoformat()
        dropped = int(self.service._command("outbox_prune", (cutoff,)))
        if dropped:
            self.service._command("checkpoint", ())
        return dropped

    def drop_undeliverable(self, enabled_providers: list[str]) -> int:
        """Delete queued messages of providers that are not enabled (a provider removed
        from the configuration): nothing would ever send them, and each holds an address.
        For the intake server to call at start-up; returns how many went."""
        dropped = int(self.service._command("outbox_drop_providers", (list(enabled_providers),)))
        if dropped:
            self.service._command("checkpoint", ())
        return dropped

    def delivered(self, outbox_ids: list[str]) -> None:
        """Delete delivered rows (secure_delete, then a WAL checkpoint)."""
        if not outbox_ids:
            return
        self.service._command("outbox_delete", (list(outbox_ids),))
        self.service._command("checkpoint", ())

    def failed(self, outbox_id: str) -> None:
        """Count a failed attempt; a row that failed MAX_ATTEMPTS times is deleted."""
        if self.service._command("outbox_failed", (outbox_id, MAX_ATTEMPTS)):
            self.service._command("checkpoint", ())


def _answers(
    opened: list[dict[str, Any]],
    answer: Callable[[str, str | None], list[str]],
    lang: str,
    receipt: str | None,
) -> list[str]:
    """What a flush queues: nothing if no part wants an answer (auto-replies, bounces,
    no sender); else ``answer(lang, receipt)`` and the parts' notices, the notices alone
    for a known thread whose every answering part brought one, and for a known e-mail
    thread always (a robot that sends none of the automatic headers would otherwise
    loop with our "received": her first answers and the notices still go)."""
    answering = [d for d in opened if d.get("answer", True) is not False]
    if not answering:
        return []
    notices = [str(n) for d in answering for n in d.get("notices", [])]
    if receipt is None and (
        all(d.get("notices") for d in answering)
        or any(d.get("provider") == "imap" for d in answering)
    ):
        return notices
    return [*answer(lang, receipt), *notices]


def _thread_context(thread_hash: str) -> EnvelopeContext:
    """A thread's kept address is bound to its hash (the first 128 bits, the width of an
    item id); moving the thread to a new key re-seals it."""
    return EnvelopeContext.file(thread_hash[:32])


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def delivery_channel(conn: Connection, source_id: str) -> str | None:
    """The channel (a CHANNELS value) her replies are delivered through, or None if
    they wait on the web (she did not opt in, or her case is closed). For the staff
    interface's source page."""
    provider = models.delivery_channel(conn, source_id)
    return PROVIDERS.get(provider) if provider else None
