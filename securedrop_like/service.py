"""The reporting core's one service: everything a source's actions do to the store.

Views ask the app for this service; they never open the database or the store
themselves. Plaintext exists here only in memory, for the length of a call:
reports are sealed to the reviewers' keys before anything is written, and a
source's replies are opened with a private key the caller holds only for her
session.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from crypto import (
    CryptoError,
    EnvelopeContext,
    PrivateKey,
    PublicKey,
    SourceKeys,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
)

from . import models, store
from .commands import item_tuple
from .config import Config, sqlite_tmp_dir
from .db import Database, today
from .documents import DOCUMENT_VERSION, MESSAGE_FORMAT, REPLY_FORMAT, REPORT_FORMAT
from .errors import (
    MissingBlob,
    NotFound,
    NotReady,
    StorageFull,
    UnknownDraft,
    is_storage_full,
)
from .store import BlobReader, EncryptingSpool, new_id
from .writer import GroupCommitWriter
from .writer_process import RemoteWriter

log = logging.getLogger(__name__)

_KEY_CACHE_SECONDS = 5.0


class Writer(Protocol):
    """Runs :mod:`securedrop_like.commands`: in this process or in the writer process."""

    def command(self, name: str, args: tuple[Any, ...]) -> Any: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Attachment:
    """A file already encrypted into the database (an unclaimed blob) by an
    :class:`EncryptingSpool`."""

    item_id: str
    name: str
    content_type: str
    plain_size: int
    size: int

    @classmethod
    def from_spool(cls, spool: EncryptingSpool, name: str, content_type: str) -> Attachment:
        return cls(spool.item_id, name, content_type, spool.plain_size, spool.size)


@dataclass
class Submission:
    """A report or a later message: a JSON document plus attachments."""

    kind: str  # "report" or "message"
    document: dict[str, Any]
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True)
class ConsentRequest:
    """A draft public entry a reviewer asks her about, carried inside a sealed reply
    (``"consent_request": {"draft_id": …, "text": …}``); the server never stores it."""

    draft_id: str
    text: str


@dataclass(frozen=True)
class Reply:
    """One of her replies, opened. ``readable`` is False (and ``text`` empty) for a
    reply that does not open for her: moved from another item or source, damaged.
    ``consent_request`` is the draft it asks her about, if any."""

    item: models.Item
    text: str
    lang: str
    readable: bool = True
    consent_request: ConsentRequest | None = None


def _consent_request(document: dict[str, Any]) -> ConsentRequest | None:
    """A well-formed consent_request of a reply document, else None (shown as a plain
    reply: a malformed request is never offered for a decision)."""
    raw = document.get("consent_request")
    if not isinstance(raw, dict):
        return None
    draft_id, text = raw.get("draft_id"), raw.get("text")
    if not (isinstance(draft_id, str) and isinstance(text, str) and text.strip()):
        return None
    if len(draft_id) != 32 or any(c not in "0123456789abcdef" for c in draft_id):
        return None
    return ConsentRequest(draft_id, text)


class ReportService:
    def __init__(
        self,
        config: Config,
        db: Database,
        writer: Writer,
        clock: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.writer = writer
        self._clock = clock
        # Partial uploads whose deletion failed too (a full disk): retried on the
        # next submission; the master's sweep is the backstop.
        self._leftovers: set[str] = set()
        self._leftovers_lock = threading.Lock()
        self._keys: list[PublicKey] = []
        self._keys_at = -1.0
        self._keys_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        config: Config,
        writer_address: str | None = None,
        writer_authkey: bytes | None = None,
        writer_timeout: float | None = None,
    ) -> Self:
        """Open the instance's store. Writes go to the server's writer process
        when its address is given, else through a writer in this process. A
        remote command waits ``writer_timeout`` seconds at most (default: the
        writer_reply_timeout_seconds setting), then raises WriterUnavailable."""
        db = Database.for_config(config)
        writer: Writer
        if writer_address and writer_authkey:
            timeout = writer_timeout or config.writer_reply_timeout_seconds
            writer = RemoteWriter(writer_address, writer_authkey, timeout)
        else:
            writer = GroupCommitWriter(lambda: db.open(check_same_thread=False))
        return cls(config, db, writer)

    def close(self) -> None:
        self.writer.close()
        self.db.close()

    def today(self) -> str:
        return today(self._clock)

    # -- keys ----------------------------------------------------------------------------
    def recipients(self) -> list[PublicKey]:
        """The active reviewers' public keys (re-read every few seconds)."""
        now = time.monotonic()
        with self._keys_lock:
            if self._keys_at < 0 or now - self._keys_at > _KEY_CACHE_SECONDS:
                rows = models.reviewer_keys(self.db.reader())
                self._keys = [PublicKey(r.public_key) for r in rows]
                self._keys_at = now
            keys = list(self._keys)
        if not keys:
            raise NotReady("no reviewer key installed")
        return keys

    def forget_cached_keys(self) -> None:
        with self._keys_lock:
            self._keys_at = -1.0

    def spool(self) -> EncryptingSpool:
        """A spool for one uploaded file, sealed to the reviewers as a ``file`` item."""
        return EncryptingSpool(
            self.config.spool_dir, self.recipients(), self.config.max_file_bytes, self._ingest
        )

    def _command(self, name: str, args: tuple[Any, ...]) -> Any:
        """A writer command; a full disk (in this process or the writer's) is StorageFull."""
        try:
            return self.writer.command(name, args)
        except StorageFull:
            raise
        except Exception as exc:
            if is_storage_full(exc):
                raise StorageFull() from exc
            raise

    def _ingest(self, spool: EncryptingSpool) -> None:
        """Copy a finished upload's ciphertext into the database, an unclaimed blob,
        in batches of store.INGEST_BATCH chunks (bounded memory here and in the writer)."""
        sha = hashlib.sha256()
        first = 0
        try:
            for batch in store.read_chunks(spool.file, spool.size):
                for data in batch:
                    sha.update(data)
                last = first + len(batch) >= -(-spool.size // store.CHUNK_BYTES)
                self._command(
                    "put_blob",
                    (
                        spool.item_id,
                        first,
                        batch,
                        spool.size if last else None,
                        sha.digest() if last else None,
                    ),
                )
                first += len(batch)
        except BaseException:
            if first:
                try:
                    self._command("discard_uploads", ([spool.item_id],))
                except Exception:  # noqa: BLE001 - retried later; the sweep is the backstop
                    with self._leftovers_lock:
                        self._leftovers.add(spool.item_id)
            raise

    def _discard_leftovers(self) -> None:
        with self._leftovers_lock:
            ids, self._leftovers = sorted(self._leftovers), set()
        if not ids:
            return
        try:
            self._command("discard_uploads", (ids,))
        except Exception:  # noqa: BLE001 - next time
            with self._leftovers_lock:
                self._leftovers.update(ids)

    def discard_uploads(self, ids: Iterable[str]) -> int:
        """Delete uploads that no submission claimed (files kept for a form that
        was never sent again, a refused request). Claimed ciphertexts are never
        touched."""
        wanted = [i for i in ids if i]
        if not wanted:
            return 0
        deleted: int = self._command("discard_uploads", (wanted,))
        return deleted

    def unclaimed_uploads(self) -> set[str]:
        """Ids of uploads in the database that no item has claimed (yet)."""
        return store.unclaimed_ids(self.db.reader())

    def sweep_unclaimed(self, keep: Collection[str] = frozenset()) -> int:
        """Delete every unclaimed upload not in ``keep``, at once. Only safe when no
        request can be between an upload and its submission (before any worker of
        any server of the instance starts); else use :class:`UnclaimedSweeper`."""
        return self.discard_and_checkpoint(sorted(self.unclaimed_uploads() - set(keep)))

    def discard_and_checkpoint(self, ids: Iterable[str]) -> int:
        """:meth:`discard_uploads`, then a WAL checkpoint if anything went (so no
        copy of what was deleted lingers in the WAL)."""
        deleted = self.discard_uploads(ids)
        if deleted:
            self._command("checkpoint", ())
        return deleted

    def vacuum(self, force: bool = False) -> str:
        """The day's VACUUM (see commands.daily_vacuum): "ran", "already" (done
        today) or "too_big" (over daily_vacuum_max_bytes; ``force`` ignores
        both). Never started by a submission: the writer process runs it at its
        first turn after 00:00 UTC (writer_process.DailyVacuum), and an
        administrator with ``sesim vacuum``."""
        args = (
            self.today(),
            str(sqlite_tmp_dir(self.config)),
            self.config.daily_vacuum_max_bytes,
            force,
        )
        result: str = self._command("daily_vacuum", args)
        return result

    # -- sources ---------------------------------------------------------------------------
    def find_source(self, lookup_id: str) -> models.Source | None:
        return models.source_by_lookup(self.db.reader(), lookup_id)

    def source(self, source_id: str) -> models.Source:
        found = models.source_by_id(self.db.reader(), source_id)
        if found is None:
            raise NotFound("source")
        return found

    def create_source(self, keys: SourceKeys, submission: Submission, channel: str = "web") -> str:
        """Create a source and her first submission in one transaction."""
        self._discard_leftovers()
        records = [item_tuple(r) for r in self._seal(submission)]
        args = (keys.lookup_id, keys.public_key.raw, self.today(), channel, records)
        source_id: str = self._command("create_source", args)
        return source_id

    def rekey(self, source_id: str, keys: SourceKeys) -> None:
        try:
            self.writer.command("rekey", (source_id, keys.lookup_id, keys.public_key.raw))
        except LookupError as exc:
            raise NotFound("source") from exc

    def add_submission(self, source_id: str, submission: Submission) -> list[str]:
        """Store a later message and its files. Raises MissingBlob (nothing written)
        if any of its uploads is gone, NotFound if she is."""
        self._discard_leftovers()
        records = self._seal(submission)
        try:
            ids: list[str] = self._command(
                "insert_items", (source_id, self.today(), [item_tuple(r) for r in records])
            )
        except MissingBlob:
            raise
        except LookupError as exc:
            raise NotFound("source") from exc
        return ids

    def _seal(self, submission: Submission) -> list[models.NewItem]:
        """Encrypt the document (with the attachment list inside) to every reviewer."""
        recipients = self.recipients()
        document = dict(submission.document)
        document["format"] = REPORT_FORMAT if submission.kind == "report" else MESSAGE_FORMAT
        document["v"] = DOCUMENT_VERSION
        document["attachments"] = [
            {"id": a.item_id, "name": a.name, "type": a.content_type, "size": a.plain_size}
            for a in submission.attachments
        ]
        main_id = new_id()
        context = EnvelopeContext.for_item(submission.kind, main_id)
        ciphertext = self.encrypt_document(_dumps(document), recipients, context=context)
        main = self._record(submission.kind, ciphertext, item_id=main_id)
        files = [
            models.NewItem(kind="file", size=a.size, item_id=a.item_id, parent_id=main.item_id)
            for a in submission.attachments
        ]
        return [main, *files]

    def encrypt_document(
        self, plaintext: bytes, recipients: list[PublicKey], *, context: EnvelopeContext
    ) -> bytes:
        """Seal a document to its recipients, bound to its item (the benchmark swaps
        in OpenPGP here)."""
        return encrypt_bytes(plaintext, recipients, context=context)

    def _record(
        self, kind: str, ciphertext: bytes, author: str | None = None, *, item_id: str
    ) -> models.NewItem:
        if len(ciphertext) <= self.config.inline_ciphertext_bytes:
            return models.NewItem(kind, len(ciphertext), item_id, inline=ciphertext, author=author)
        return models.NewItem(kind, len(ciphertext), item_id, author=author, blob=ciphertext)

    # -- items and replies -----------------------------------------------------------------
    def items(self, source_id: str) -> list[models.Item]:
        return models.items_of(self.db.reader(), source_id)

    def ciphertext(self, item: models.Item) -> bytes:
        """A small item's whole ciphertext (use :meth:`open_ciphertext` to stream)."""
        with self.open_ciphertext(item) as fh:
            return fh.read()

    def open_ciphertext(self, item: models.Item) -> io.BytesIO | BlobReader:
        """An item's ciphertext as a readable stream, one chunk in memory at a time."""
        conn = self.db.reader()
        if item.is_inline:
            data = models.inline_ciphertext(conn, item.id)
            if data is None:
                raise NotFound("item")
            return io.BytesIO(data)
        try:
            return BlobReader(conn, item.id)
        except FileNotFoundError as exc:
            raise NotFound("item") from exc

    def ciphertext_sha256(self, item: models.Item) -> str | None:
        """The SHA-256 (hex) recorded when a blob was written; None for inline items."""
        return None if item.is_inline else store.blob_sha256(self.db.reader(), item.id)

    def place_reply(self, source_id: str, text: str, lang: str, author: str) -> str:
        """Seal a reply to the source and to every reviewer, then store it."""
        source = self.source(source_id)
        document = {"format": REPLY_FORMAT, "v": DOCUMENT_VERSION, "text": text, "lang": lang}
        source_key = PublicKey(source.public_key)
        recipients = [source_key, *self.recipients()]
        reply_id = new_id()
        context = EnvelopeContext.reply(reply_id, source_key)
        ciphertext = encrypt_bytes(_dumps(document), recipients, context=context)
        record = self._record("reply", ciphertext, author, item_id=reply_id)
        queued = self._channel_delivery(source_id, lambda _thread: (text, lang))
        if queued:
            ids: list[str] = self._command(
                "insert_reply_and_queue", (source_id, self.today(), [item_tuple(record)], queued)
            )
        else:
            ids = self._command("insert_items", (source_id, self.today(), [item_tuple(record)]))
        return ids[0]

    # -- the channels (issue 12) -------------------------------------------------------------
    def _channel_delivery(
        self, source_id: str, message: Callable[[models.ChannelThread], tuple[str, str]]
    ) -> list[tuple[str, str, str, bytes]]:
        """An outbox row for her, if her thread takes replies now (opted in, address
        kept, case open): (id, source id, provider, text and lang sealed to the channel
        key, with no address: the courier resolves it from her thread at delivery, so a
        withdrawal or a closed case stops it). The writer checks again when it stores it."""
        from .channels import channel_public_key, has_channel_key

        thread = models.delivery_thread(self.db.reader(), source_id)
        if thread is None or not has_channel_key(self.config):
            return []
        text, lang = message(thread)
        outbox_id = new_id()
        sealed = encrypt_bytes(
            _dumps({"text": text, "lang": lang}),
            [channel_public_key(self.config)],
            context=EnvelopeContext.message(outbox_id),
        )
        return [(outbox_id, source_id, thread.provider, sealed)]

    def set_case_status(self, source_ids: list[str], status: str) -> list[tuple[str, str]]:
        """Set the case status of sources; returns (id, old status) of each that changed.
        Closing deletes her channel thread (hash and sealed address) and her queue,
        then checkpoints."""
        changed: list[tuple[str, str]] = self._command("set_case_status", (source_ids, status))
        if status == "closed":
            self._command("checkpoint", ())
        return changed

    def seal_items(
        self,
        kind: str,
        document: dict[str, Any],
        files: list[tuple[str, str, bytes]],
    ) -> list[models.NewItem]:
        """Seal a document and its files (name, content type, bytes) held in memory, to
        every reviewer, as a report or message item and its ``file`` items: what
        :meth:`_seal` makes from uploads, for the channels (an e-mail's ``.eml``)."""
        recipients = self.recipients()
        document = dict(document)
        document["format"] = REPORT_FORMAT if kind == "report" else MESSAGE_FORMAT
        document["v"] = DOCUMENT_VERSION
        main_id = new_id()
        sealed_files = []
        listed = []
        for name, content_type, data in files:
            file_id = new_id()
            ciphertext = encrypt_bytes(data, recipients, context=EnvelopeContext.file(file_id))
            sealed_files.append(self._record("file", ciphertext, item_id=file_id))
            listed.append({"id": file_id, "name": name, "type": content_type, "size": len(data)})
        document["attachments"] = listed
        context = EnvelopeContext.for_item(kind, main_id)
        ciphertext = self.encrypt_document(_dumps(document), recipients, context=context)
        main = self._record(kind, ciphertext, item_id=main_id)
        files_out = [
            models.NewItem(
                "file", f.size, f.item_id, inline=f.inline, parent_id=main_id, blob=f.blob
            )
            for f in sealed_files
        ]
        return [main, *files_out]

    def replies(self, source_id: str, private_key: PrivateKey) -> list[Reply]:
        """Open her replies with her private key, held only for her session.

        Each must be bound to its own id and to her (stored) public key; one that
        is not (moved from another item or source) or does not open is returned
        with ``readable=False`` rather than failing the page.
        """
        source = models.source_by_id(self.db.reader(), source_id)
        if source is None:  # deleted meanwhile: nothing of hers is left to open
            return []
        source_key = PublicKey(source.public_key)
        out = []
        for item in self.items(source_id):
            if item.kind != "reply":
                continue
            expected = EnvelopeContext.reply(item.id, source_key)
            try:
                document = json.loads(
                    decrypt_bytes(self.ciphertext(item), private_key, expected=expected)
                )
                if not isinstance(document, dict):
                    raise ValueError("a reply document is a JSON object")
            except (CryptoError, ValueError) as exc:
                log.warning("a reply could not be opened: %s", type(exc).__name__)
                out.append(Reply(item, "", "", readable=False))
                continue
            out.append(
                Reply(
                    item,
                    str(document.get("text", "")),
                    str(document.get("lang", "")),
                    consent_request=_consent_request(document),
                )
            )
        return out

    # -- consent ---------------------------------------------------------------------------
    def consent(self, source_id: str) -> dict[str, models.Consent]:
        """Her latest decision per draft id."""
        return {c.draft_id: c for c in models.consent_of(self.db.reader(), source_id)}

    def decide(self, source_id: str, private_key: PrivateKey, draft_id: str, decision: str) -> str:
        """Record her decision about a draft, with today's day; returns the day.

        The draft must be asked about by one of *her* replies that opens with *her* key
        (so nobody can decide for her, or about a draft she was never shown): else
        UnknownDraft, and nothing is stored. Only the draft's id, the decision and the
        day are stored: never the draft's text.
        """
        if decision not in models.CONSENT_DECISIONS:
            raise UnknownDraft("unknown decision")
        asked = {
            r.consent_request.draft_id
            for r in self.replies(source_id, private_key)
            if r.readable and r.consent_request is not None
        }
        if draft_id not in asked:
            raise UnknownDraft("no reply of hers asks about this draft")
        day = self.today()
        try:
            self._command("set_consent", (source_id, draft_id, decision, day))
        except LookupError as exc:
            raise NotFound("source") from exc
        return day

    def mark_replies_read(self, source_id: str, item_ids: list[str]) -> None:
        if item_ids:
            self.writer.command("mark_read", (source_id, item_ids))

    def delete_reply(self, source_id: str, item_id: str) -> None:
        """Delete one of her replies: row and ciphertext (secure_delete, then the WAL
        is checkpointed so no copy lingers there)."""
        try:
            self._command("delete_item", (source_id, item_id, ("reply",)))
        except LookupError as exc:
            raise NotFound("item") from exc
        self._command("checkpoint", ())

    def store_sealed_replies(self, replies: list[tuple[str, str, str, bytes]]) -> int:
        """Store replies sealed elsewhere (the workstation), as they are, all or none.

        Each is (source id, reply id, author, ciphertext); the caller has checked
        the bundle, that each source exists, each id is new and each reply is
        sealed to its source's key and bound to its id and source (envelope
        version 2, ``EnvelopeContext.reply(reply id, her public key)``).
        """
        per_source: dict[str, list[models.NewItem]] = {}
        for source_id, reply_id, author, ciphertext in replies:
            record = self._record("reply", ciphertext, author, item_id=reply_id)
            per_source.setdefault(source_id, []).append(record)
        today = self.today()
        batch = [(sid, today, [item_tuple(r) for r in rs]) for sid, rs in per_source.items()]
        notices = []
        for source_id in per_source:
            notices += self._channel_delivery(source_id, _reply_notice)
        if notices:
            self._command("store_replies_and_notify", (batch, notices))
        else:
            self._command("store_replies", (batch,))
        return len(replies)

    def delete_items(self, source_id: str, item_ids: list[str]) -> int:
        """Delete some of a source's items with their ciphertexts (secure_delete, then
        a WAL checkpoint)."""
        deleted, _ = self._command("delete_items", (source_id, item_ids))
        self._command("checkpoint", ())
        return len(deleted)

    def delete_source(self, source_id: str) -> None:
        """Delete a source and everything of hers (staff decision, not a withdrawal)."""
        try:
            self._command("delete_source", (source_id,))
        except LookupError as exc:
            raise NotFound("source") from exc
        self._command("checkpoint", ())

    def withdraw(self, source_id: str) -> models.Retraction:
        """Delete everything she sent and her account; leave a notice for reviewers."""
        try:
            fields = self._command("withdraw", (source_id, self.today()))
        except LookupError as exc:
            raise NotFound("source") from exc
        self._command("checkpoint", ())
        return models.Retraction(*fields)

    def expected_context(self, item: models.Item) -> EnvelopeContext:
        """The context ``item``'s envelope must carry, from the database's own records:
        its id and kind and, for a reply, its source's stored public key."""
        source_key = None
        if item.kind == "reply":
            source_key = PublicKey(self.source(item.source_id).public_key)
        return EnvelopeContext.for_item(item.kind, item.id, source_key)

    def decrypt_item_to(self, item: models.Item, private_key: PrivateKey, sink: Any) -> int:
        """Stream-decrypt one item (tests and the demo reviewer use this); ContextMismatch
        if its ciphertext was written for another item, kind or source."""
        expected = self.expected_context(item)
        with self.open_ciphertext(item) as fh:
            return decrypt_stream(fh, sink, private_key, expected=expected)


class UnclaimedSweeper:
    """Deletes uploads nobody will claim, without racing the requests that will.

    An upload is an unclaimed blob from the end of its part until its
    submission's insert claims it at the end of the same request, or for as
    long as a live session keeps it for a failed form. So a blob is deleted
    only if it was unclaimed *and* not in ``keep`` at ``runs`` runs in a row
    (two by default; the first run only marks). Call :meth:`run`
    periodically with the ids every live session refers to
    (``source_interface.uploads.pending_ids(data)`` of each). The time
    between the first and the last of those runs must be longer than the
    longest request: a form with several files holds the first ones
    unclaimed while the later ones arrive, which over Tor can take minutes.
    A refused submission is never acknowledged (her text is kept and she is
    asked to attach the file again), but don't make her.

    ``open_service`` is called for each run and the service closed after, so
    no database connection stays open in the calling process (a server's
    master forks its workers).
    """

    def __init__(self, open_service: Callable[[], ReportService], runs: int = 2) -> None:
        if runs < 2:
            raise ValueError("an upload must be seen unclaimed at two runs at least")
        self._open_service = open_service
        self._runs = runs
        self._seen: dict[str, int] = {}

    def run(self, keep: Collection[str] = frozenset()) -> int:
        """One sweep; returns how many uploads it deleted."""
        service = self._open_service()
        try:
            unclaimed = service.unclaimed_uploads() - set(keep)
            seen = {i: self._seen.get(i, 0) + 1 for i in unclaimed}
            doomed = sorted(i for i, n in seen.items() if n >= self._runs)
            deleted = service.discard_and_checkpoint(doomed)
        finally:
            service.close()
        for i in doomed:
            del seen[i]
        self._seen = seen
        return deleted


def _reply_notice(thread: models.ChannelThread) -> tuple[str, str]:
    """What her phone gets for a reply sealed on the workstation (the server cannot read
    it): a short notice in her language. Kept within two SMS segments (UCS-2: 134
    characters) in every language."""
    from flask_babel import force_locale

    from .i18n import gettext as _

    with force_locale(thread.lang):
        text = _("A lawyer has answered you. Read the answer on the site with your receipt.")
    return text, thread.lang


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
