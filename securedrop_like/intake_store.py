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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from crypto import PrivateKey

from .config import Config
from .db import Connection
from .service import ReportService

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


class IntakeStore:
    """The intake server's store: pending parts, threads, replay marks, the outbox."""

    def __init__(self, service: ReportService) -> None:
        raise NotImplementedError

    @classmethod
    def open(cls, config: Config) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- webhook side: the same work whoever the sender is --------------------------------
    def add_part(self, msg: Inbound) -> bool:
        """Seal ``msg`` (to the reviewers and the channel key; the address to the channel
        key alone) and keep it as a pending part of its thread, with its replay mark, in
        one transaction. False, and nothing stored, if its (provider, message_id) was
        seen before."""
        raise NotImplementedError

    def withdraw(self, msg: Inbound, confirmation: str) -> bool:
        """STOP: withdraw her source as the web's withdrawal does (retraction notice
        for the reviewers), delete her pending parts, thread, sealed address and queued
        outbox rows, and queue ``confirmation`` to her address; replay-marked. The same
        rows are written whether or not she was known. False if a replay."""
        raise NotImplementedError

    def opt_in(self, msg: Inbound, confirmation: str) -> bool:
        """YES: keep her address sealed to the channel key so that replies reach her on
        this channel (while her case is open), and queue ``confirmation``. Without a
        thread it is an ordinary part (``add_part``). False if a replay."""
        raise NotImplementedError

    # -- courier side: the intake server's background threads ------------------------------
    def pending_threads(self) -> list[str]:
        """Thread hashes that have pending parts."""
        raise NotImplementedError

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
        all in one transaction. Returns the source id (None if nothing was pending)."""
        raise NotImplementedError

    def outbox(
        self, channel_key: PrivateKey, provider: str | None = None, limit: int = 50
    ) -> list[Outgoing]:
        """Queued messages, opened (staff replies resolve her sealed address now, and are
        dropped if she has withdrawn or her case closed)."""
        raise NotImplementedError

    def delivered(self, outbox_ids: list[str]) -> None:
        """Delete delivered rows (secure_delete, then a WAL checkpoint)."""
        raise NotImplementedError

    def failed(self, outbox_id: str) -> None:
        """Count a failed attempt; a row that failed MAX_ATTEMPTS times is deleted."""
        raise NotImplementedError


def delivery_channel(conn: Connection, source_id: str) -> str | None:
    """The channel (a CHANNELS value) her replies are delivered through, or None if
    they wait on the web (she did not opt in, or her case is closed). For the staff
    interface's source page."""
    raise NotImplementedError
