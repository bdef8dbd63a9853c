"""The reporting core's one service: everything a source's actions do to the store.

Views ask the app for this service; they never open the database or the store
themselves. Plaintext exists here only in memory, for the length of a call:
reports are sealed to the reviewers' keys before anything is written, and a
source's replies are opened with a private key the caller holds only for her
session.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from crypto import PrivateKey, PublicKey, SourceKeys, decrypt_bytes, decrypt_stream, encrypt_bytes

from . import models
from .config import Config
from .db import Connection, Database, today
from .errors import NotFound, NotReady
from .store import CiphertextStore, EncryptingSpool, new_id
from .writer import GroupCommitWriter

REPORT_FORMAT = "sesim-report"
MESSAGE_FORMAT = "sesim-message"
REPLY_FORMAT = "sesim-reply"
DOCUMENT_VERSION = 1
_KEY_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Attachment:
    """A file already encrypted into the store by an :class:`EncryptingSpool`."""

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
class Reply:
    item: models.Item
    text: str
    lang: str


class ReportService:
    def __init__(
        self,
        config: Config,
        db: Database,
        writer: GroupCommitWriter,
        store: CiphertextStore,
        clock: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.writer = writer
        self.store = store
        self._clock = clock
        self._keys: list[PublicKey] = []
        self._keys_at = -1.0
        self._keys_lock = threading.Lock()

    @classmethod
    def open(cls, config: Config, process_lock: Any = None) -> Self:
        """Open the instance's store; ``process_lock`` serialises writers across processes."""
        db = Database.for_config(config)
        writer = GroupCommitWriter(
            lambda: db.open(check_same_thread=False), process_lock=process_lock
        )
        return cls(config, db, writer, CiphertextStore(config.store_dir))

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
        return self.store.spool(self.recipients(), self.config.max_file_bytes)

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
        records = self._seal(submission)
        day = self.today()

        def job(conn: Connection) -> str:
            source_id = models.insert_source(
                conn,
                lookup_id=keys.lookup_id,
                public_key=keys.public_key.raw,
                day=day,
                channel=channel,
            )
            models.insert_items(conn, source_id, day, records)
            return source_id

        return self.writer.run(job)

    def rekey(self, source_id: str, keys: SourceKeys) -> None:
        try:
            self.writer.run(
                lambda conn: models.rekey_source(
                    conn, source_id, lookup_id=keys.lookup_id, public_key=keys.public_key.raw
                )
            )
        except LookupError as exc:
            raise NotFound("source") from exc

    def add_submission(self, source_id: str, submission: Submission) -> list[str]:
        records = self._seal(submission)
        try:
            ids: list[str] = self.writer.run_grouped(
                models.insert_items_many, (source_id, self.today(), records)
            )
        except LookupError as exc:
            self.store.delete(r.item_id for r in records if r.inline is None)
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
        ciphertext = self.encrypt_document(_dumps(document), recipients)
        main = self._record(submission.kind, ciphertext)
        files = [
            models.NewItem(kind="file", size=a.size, item_id=a.item_id, parent_id=main.item_id)
            for a in submission.attachments
        ]
        return [main, *files]

    def encrypt_document(self, plaintext: bytes, recipients: list[PublicKey]) -> bytes:
        """Seal a document to its recipients (the benchmark swaps in OpenPGP here)."""
        return encrypt_bytes(plaintext, recipients)

    def _record(self, kind: str, ciphertext: bytes, author: str | None = None) -> models.NewItem:
        item_id = new_id()
        if len(ciphertext) <= self.config.inline_ciphertext_bytes:
            return models.NewItem(kind, len(ciphertext), item_id, inline=ciphertext, author=author)
        self.store.write_bytes(item_id, ciphertext)
        return models.NewItem(kind, len(ciphertext), item_id, author=author)

    # -- items and replies -----------------------------------------------------------------
    def items(self, source_id: str) -> list[models.Item]:
        return models.items_of(self.db.reader(), source_id)

    def ciphertext(self, item: models.Item) -> bytes:
        if item.is_inline:
            data = models.inline_ciphertext(self.db.reader(), item.id)
            if data is None:
                raise NotFound("item")
            return data
        with self.store.open(item.id) as fh:
            return fh.read()

    def place_reply(self, source_id: str, text: str, lang: str, author: str) -> str:
        """Seal a reply to the source and to every reviewer, then store it."""
        source = self.source(source_id)
        document = {"format": REPLY_FORMAT, "v": DOCUMENT_VERSION, "text": text, "lang": lang}
        recipients = [PublicKey(source.public_key), *self.recipients()]
        record = self._record("reply", encrypt_bytes(_dumps(document), recipients), author)
        day = self.today()
        return self.writer.run(lambda conn: models.insert_items(conn, source_id, day, [record]))[0]

    def replies(self, source_id: str, private_key: PrivateKey) -> list[Reply]:
        """Open her replies with her private key, held only for her session."""
        out = []
        for item in self.items(source_id):
            if item.kind != "reply":
                continue
            document = json.loads(decrypt_bytes(self.ciphertext(item), private_key))
            out.append(Reply(item, str(document.get("text", "")), str(document.get("lang", ""))))
        return out

    def mark_replies_read(self, source_id: str, item_ids: list[str]) -> None:
        if item_ids:
            self.writer.run(lambda conn: models.mark_source_read(conn, source_id, item_ids))

    def delete_reply(self, source_id: str, item_id: str) -> None:
        def job(conn: Connection) -> models.Item:
            try:
                return models.delete_item(conn, source_id, item_id, ("reply",))
            except LookupError as exc:
                raise NotFound("item") from exc

        item = self.writer.run(job)
        if not item.is_inline:
            self.store.delete([item.id])

    def withdraw(self, source_id: str) -> models.Retraction:
        """Delete everything she sent and her account; leave a notice for reviewers."""
        day = self.today()

        def job(conn: Connection) -> tuple[models.Retraction, list[str]]:
            try:
                return models.withdraw(conn, source_id, day)
            except LookupError as exc:
                raise NotFound("source") from exc

        retraction, file_ids = self.writer.run(job)
        self.store.delete(file_ids)
        # Deleted pages may still sit in the WAL file; fold it back and truncate it.
        self.writer.run(_checkpoint, transaction=False)
        return retraction

    def decrypt_item_to(self, item: models.Item, private_key: PrivateKey, sink: Any) -> int:
        """Stream-decrypt one item (tests and the demo reviewer use this)."""
        if item.is_inline:
            plaintext = decrypt_bytes(self.ciphertext(item), private_key)
            sink.write(plaintext)
            return len(plaintext)
        with self.store.open(item.id) as fh:
            return decrypt_stream(fh, sink, private_key)

    def sweep_orphans(self, keep: set[str] | None = None) -> int:
        return self.store.sweep(models.all_file_ids(self.db.reader()), keep)


def _checkpoint(conn: Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
