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
from typing import Any, Protocol, Self

from crypto import PrivateKey, PublicKey, SourceKeys, decrypt_bytes, decrypt_stream, encrypt_bytes

from . import models
from .commands import item_tuple
from .config import Config
from .db import Database, today
from .errors import NotFound, NotReady
from .store import CiphertextStore, EncryptingSpool, new_id
from .writer import GroupCommitWriter
from .writer_process import RemoteWriter

REPORT_FORMAT = "sesim-report"
MESSAGE_FORMAT = "sesim-message"
REPLY_FORMAT = "sesim-reply"
DOCUMENT_VERSION = 1
_KEY_CACHE_SECONDS = 5.0


class Writer(Protocol):
    """Runs :mod:`securedrop_like.commands`: in this process or in the writer process."""

    def command(self, name: str, args: tuple[Any, ...]) -> Any: ...
    def close(self) -> None: ...


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
        writer: Writer,
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
    def open(
        cls, config: Config, writer_address: str | None = None, writer_authkey: bytes | None = None
    ) -> Self:
        """Open the instance's store. Writes go to the server's writer process
        when its address is given, else through a writer in this process."""
        db = Database.for_config(config)
        writer: Writer
        if writer_address and writer_authkey:
            writer = RemoteWriter(writer_address, writer_authkey)
        else:
            writer = GroupCommitWriter(lambda: db.open(check_same_thread=False))
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
        records = [item_tuple(r) for r in self._seal(submission)]
        args = (keys.lookup_id, keys.public_key.raw, self.today(), channel, records)
        source_id: str = self.writer.command("create_source", args)
        return source_id

    def rekey(self, source_id: str, keys: SourceKeys) -> None:
        try:
            self.writer.command("rekey", (source_id, keys.lookup_id, keys.public_key.raw))
        except LookupError as exc:
            raise NotFound("source") from exc

    def add_submission(self, source_id: str, submission: Submission) -> list[str]:
        records = self._seal(submission)
        try:
            ids: list[str] = self.writer.command(
                "insert_items", (source_id, self.today(), [item_tuple(r) for r in records])
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

    def _record(
        self, kind: str, ciphertext: bytes, author: str | None = None, item_id: str | None = None
    ) -> models.NewItem:
        item_id = item_id or new_id()
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
        ids: list[str] = self.writer.command(
            "insert_items", (source_id, self.today(), [item_tuple(record)])
        )
        return ids[0]

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
            self.writer.command("mark_read", (source_id, item_ids))

    def delete_reply(self, source_id: str, item_id: str) -> None:
        try:
            deleted, inline = self.writer.command("delete_item", (source_id, item_id, ("reply",)))
        except LookupError as exc:
            raise NotFound("item") from exc
        if not inline:
            self.store.delete([deleted])

    def store_sealed_replies(self, replies: list[tuple[str, str, str, bytes]]) -> int:
        """Store replies sealed elsewhere (the workstation), as they are, all or none.

        Each is (source id, reply id, author, ciphertext); the caller has checked
        the bundle, that each source exists, each id is new and each reply is
        sealed to its source's key.
        """
        per_source: dict[str, list[models.NewItem]] = {}
        written: list[str] = []
        try:
            for source_id, reply_id, author, ciphertext in replies:
                record = self._record("reply", ciphertext, author, item_id=reply_id)
                if record.inline is None:
                    written.append(reply_id)
                per_source.setdefault(source_id, []).append(record)
            today = self.today()
            batch = [(sid, today, [item_tuple(r) for r in rs]) for sid, rs in per_source.items()]
            self.writer.command("store_replies", (batch,))
        except BaseException:
            self.store.delete(written)
            raise
        return len(replies)

    def delete_items(self, source_id: str, item_ids: list[str]) -> int:
        """Delete some of a source's items: rows go (secure_delete), files are wiped."""
        deleted, files = self.writer.command("delete_items", (source_id, item_ids))
        self.store.delete(files)
        self.writer.command("checkpoint", ())
        return len(deleted)

    def delete_source(self, source_id: str) -> None:
        """Delete a source and everything of hers (staff decision, not a withdrawal)."""
        try:
            files: list[str] = self.writer.command("delete_source", (source_id,))
        except LookupError as exc:
            raise NotFound("source") from exc
        self.store.delete(files)
        self.writer.command("checkpoint", ())

    def withdraw(self, source_id: str) -> models.Retraction:
        """Delete everything she sent and her account; leave a notice for reviewers."""
        try:
            fields, file_ids = self.writer.command("withdraw", (source_id, self.today()))
        except LookupError as exc:
            raise NotFound("source") from exc
        self.store.delete(file_ids)
        self.writer.command("checkpoint", ())
        return models.Retraction(*fields)

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


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
