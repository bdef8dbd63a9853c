"""Import an export bundle into the case store: decrypt every item, one case per source.

All or nothing: the whole import is one transaction. The bundle reader checks every
member's size and SHA-256 as it streams (``securedrop_like/BUNDLES.md``); a damaged or
tampered bundle raises :class:`BundleRefused` and leaves the store exactly as it was.

Idempotent: the bundle's SHA-256 is recorded, and importing the same file again changes
nothing; an item already in the store (from an overlapping bundle, or a reply written on
this workstation coming back) is skipped.

Each item is opened as ``BUNDLES.md`` requires, with
``expected=EnvelopeContext.for_item(kind, id, source_key)``: the source's key (for a
reply) comes from the export (version 2) or from an earlier import, never from the
envelope. An item that does not open (not sealed to this reviewer, moved from another
item, damaged inside, no key yet for a reply, a document that is not what its kind says)
is kept with its error and does not stop the import.

Files are stored decrypted in ``file_chunks`` rows of at most 64 KiB as they are decrypted,
so memory stays bounded whatever their size.

Withdrawal notices delete her material (items, files, index entries, consent decisions,
her key) with ``secure_delete`` on, then the WAL is checkpointed; items a withdrawal
named are never imported again from an older bundle; ``publish.queue_retractions(conn,
case_id)`` is called for anything published from her case.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3

from crypto import CryptoError, EnvelopeContext, PublicKey, decrypt_stream
from securedrop_like import bundles
from securedrop_like.db import today
from securedrop_like.documents import MESSAGE_FORMAT, REPLY_FORMAT, REPORT_FORMAT

from .casestore import CaseStore, Connection
from .keypin import pin_source_key
from .keys import Unlocked, WorkstationError
from .publish import (  # publish never imports the importer (no cycle)
    apply_decisions,
    queue_retractions,
    record_decision,
)
from .search import index_item, unindex_case, unindex_items

__all__ = [
    "DOCUMENT_FORMATS",
    "MAX_DOCUMENT_BYTES",
    "BundleRefused",
    "ImportResult",
    "apply_withdrawal",
    "import_bundle",
]

Progress = Callable[[int, int], None]
DOCUMENT_FORMATS = {"report": REPORT_FORMAT, "message": MESSAGE_FORMAT, "reply": REPLY_FORMAT}
#: A report or message is a few KiB of JSON; anything far larger is not one of ours.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
FILE_CHUNK_BYTES = 64 * 1024
_HASH_BLOCK = 1024 * 1024


class BundleRefused(WorkstationError):
    """The file is not a valid export bundle, or was damaged or changed: nothing imported."""


@dataclass
class ImportResult:
    bundle_sha256: str
    created_day: str
    items: int  # listed in the bundle
    new_items: int = 0  # stored now (opened or kept with an error)
    skipped: int = 0  # already in the store, or withdrawn
    errors: int = 0  # stored with an error: did not open
    withdrawals: int = 0  # withdrawal notices applied now
    already_imported: bool = False
    case_ids: set[int] = field(default_factory=set)
    error_items: list[tuple[str, str]] = field(default_factory=list)  # (item id, reason)
    key_conflicts: list[str] = field(default_factory=list)  # designations: key refused


def _sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            sha.update(block)
    return sha.hexdigest()


# -- the import ------------------------------------------------------------------------


def import_bundle(
    store: CaseStore,
    unlocked: Unlocked,
    path: Path | str,
    progress: Progress | None = None,
) -> ImportResult:
    """Import the export bundle at ``path``; see the module docstring."""
    path = Path(path)
    try:
        sha = _sha256_file(path)
    except OSError as exc:
        raise WorkstationError(f"cannot read {path.name}: {exc.strerror}") from exc
    with store.connection() as conn:
        done = conn.execute(
            "SELECT created_day, items FROM imports WHERE bundle_sha256 = ?", (sha,)
        ).fetchone()
    if done is not None:
        if progress:
            progress(int(done["items"]), int(done["items"]))
        return ImportResult(sha, done["created_day"], int(done["items"]), already_imported=True)
    try:
        with open(path, "rb") as handle, store.transaction() as conn:
            result = _import(conn, unlocked, handle, sha, progress)
    except bundles.BundleError as exc:
        raise BundleRefused(
            f"The bundle was refused and nothing was imported: {exc}. "
            "It is damaged or was changed on its way; make a new export."
        ) from exc
    except OSError as exc:
        raise WorkstationError(f"cannot read {path.name}: {exc.strerror}") from exc
    if result.withdrawals:
        with store.connection() as conn:
            conn.execute("INSERT INTO search_index (search_index) VALUES ('optimize')")
    store.checkpoint()  # into the file, and the WAL (as large as the import) emptied
    return result


def _import(
    conn: Connection,
    unlocked: Unlocked,
    handle: io.BufferedReader,
    sha: str,
    progress: Progress | None,
) -> ImportResult:
    with bundles.read_export(handle) as reader:
        manifest = reader.manifest
        total = len(manifest.items)
        result = ImportResult(sha, manifest.created_day, total)
        if progress:
            progress(0, total)
        for retraction in manifest.retractions:
            if apply_withdrawal(
                conn, retraction.id, retraction.designation, retraction.day, retraction.item_ids
            ):
                result.withdrawals += 1
        for designation, source in manifest.sources.items():
            if _apply_source(conn, designation, source, manifest.created_day):
                result.key_conflicts.append(designation)
        withdrawn = {str(r[0]) for r in conn.execute("SELECT designation FROM withdrawals")}
        for n, (entry, stream) in enumerate(reader, start=1):
            if entry.source in withdrawn or _known(conn, entry.id):
                result.skipped += 1
            else:
                case_id = _case_for(conn, entry.source, entry.day)
                result.case_ids.add(case_id)
                key = _source_key(conn, case_id) if entry.kind == "reply" else None
                error = _store_item(conn, unlocked, case_id, entry, stream, key)
                result.new_items += 1
                if error:
                    result.errors += 1
                    result.error_items.append((entry.id, error))
            if progress:
                progress(n, total)
        _name_files(conn)
    conn.execute(
        "INSERT INTO imports (bundle_sha256, created_day, imported_day, items, new_items)"
        " VALUES (?, ?, ?, ?, ?)",
        (sha, result.created_day, today(), total, result.new_items),
    )
    return result


def _apply_source(
    conn: Connection, designation: str, source: bundles.ExportSource, day: str
) -> bool:
    """Her key (pinned: ``keypin``), channel and consent decisions from export version 2;
    True if the export named a different key for her and it was refused."""
    if conn.execute("SELECT 1 FROM withdrawals WHERE designation = ?", (designation,)).fetchone():
        return False
    case_id = _case_for(conn, designation, day, touch=False)
    status = getattr(source, "status", None)  # once the staff interface has a case status
    conn.execute(
        "UPDATE cases SET channel = coalesce(?, channel), status = coalesce(?, status)"
        " WHERE id = ?",
        (source.channel or None, status, case_id),
    )
    key_refused = pin_source_key(conn, case_id, source.public_key)
    changed = False  # her decisions: the newer wins; a refusal may retract an entry
    for decision in source.consent:
        changed |= record_decision(
            conn, case_id, decision.draft_id, decision.decision, decision.day
        )
    if changed:
        apply_decisions(conn, case_id)
    return key_refused


def _known(conn: Connection, item_id: str) -> bool:
    row = conn.execute("SELECT error FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is not None and row["error"] is not None:
        # It did not open last time: try again with what this bundle brings (her key).
        conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
        return False
    if row is not None:
        conn.execute("UPDATE items SET sent = 1 WHERE id = ?", (item_id,))  # back from the server
        return True
    return (
        conn.execute("SELECT 1 FROM withdrawn_items WHERE item_id = ?", (item_id,)).fetchone()
        is not None
    )


def _case_for(conn: Connection, designation: str, day: str, *, touch: bool = True) -> int:
    row = conn.execute("SELECT id FROM cases WHERE designation = ?", (designation,)).fetchone()
    if row is None:
        cur = conn.execute(
            "INSERT INTO cases (designation, first_day, last_day) VALUES (?, ?, ?)",
            (designation, day, day),
        )
        return int(cur.lastrowid)
    case_id = int(row["id"])
    if touch:
        conn.execute(
            "UPDATE cases SET first_day = min(first_day, ?), last_day = max(last_day, ?)"
            " WHERE id = ?",
            (day, day, case_id),
        )
    return case_id


def _source_key(conn: Connection, case_id: int) -> PublicKey | None:
    row = conn.execute("SELECT source_public_key FROM cases WHERE id = ?", (case_id,)).fetchone()
    raw = row["source_public_key"] if row else None
    return PublicKey(bytes(raw)) if raw else None


class _CappedBuffer:
    """A plaintext sink for documents: refuses more than MAX_DOCUMENT_BYTES."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, view: Any) -> int:
        if len(self.data) + len(view) > MAX_DOCUMENT_BYTES:
            raise ValueError("the document is too large to be a report or message")
        self.data += view
        return len(view)


class _ChunkSink:
    """A plaintext sink for files: rows of at most FILE_CHUNK_BYTES, written as they come."""

    def __init__(self, conn: Connection, item_id: str) -> None:
        self._conn = conn
        self._item_id = item_id
        self._seq = 0
        self._pending = bytearray()
        self.size = 0

    def write(self, view: Any) -> int:
        self._pending += view
        self.size += len(view)
        while len(self._pending) >= FILE_CHUNK_BYTES:
            self._flush(FILE_CHUNK_BYTES)
        return len(view)

    def _flush(self, n: int) -> None:
        data = bytes(self._pending[:n])
        del self._pending[:n]
        self._conn.execute(
            "INSERT INTO file_chunks (item_id, seq, data) VALUES (?, ?, ?)",
            (self._item_id, self._seq, data),
        )
        self._seq += 1

    def close(self) -> None:
        if self._pending:
            self._flush(len(self._pending))
        self._pending = bytearray()


def _insert_item(
    conn: Connection,
    case_id: int,
    entry: bundles.ExportEntry,
    *,
    lang: str | None = None,
    document: str | None = None,
    error: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO items (id, case_id, kind, parent_id, day, size, lang, document, error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (entry.id, case_id, entry.kind, entry.parent, entry.day, entry.size, lang, document, error),
    )


def _store_item(
    conn: Connection,
    unlocked: Unlocked,
    case_id: int,
    entry: bundles.ExportEntry,
    stream: bundles.ItemStream,
    source_key: PublicKey | None,
) -> str | None:
    """Decrypt and store one item; return why it did not open, or None.

    A BundleError (the bundle itself is bad) is raised on, to roll the import back."""
    if entry.kind == "reply" and source_key is None:
        error = (
            "no public key for this source yet: the export bundle (version 1) does not "
            "carry it; the reply opens when a version 2 export is imported"
        )
        _insert_item(conn, case_id, entry, error=error)
        return error
    expected = EnvelopeContext.for_item(entry.kind, entry.id, source_key)
    conn.execute("SAVEPOINT item")
    try:
        if entry.kind == "file":
            conn.execute(
                "INSERT INTO items (id, case_id, kind, parent_id, day, size)"
                " VALUES (?, ?, 'file', ?, ?, ?)",
                (entry.id, case_id, entry.parent, entry.day, entry.size),
            )
            conn.execute(
                "INSERT INTO files (item_id, plain_size) VALUES (?, 0)",
                (entry.id,),
            )
            sink = _ChunkSink(conn, entry.id)
            decrypt_stream(stream, sink, unlocked.submission, expected=expected)
            sink.close()
            conn.execute("UPDATE files SET plain_size = ? WHERE item_id = ?", (sink.size, entry.id))
        else:
            if entry.size > MAX_DOCUMENT_BYTES * 2:
                raise ValueError("the item is too large to be a report or message")
            buffer = _CappedBuffer()
            decrypt_stream(stream, buffer, unlocked.submission, expected=expected)
            document = _parse_document(entry.kind, bytes(buffer.data))
            buffer.data[:] = bytes(len(buffer.data))
            text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
            lang = document.get("lang")
            _insert_item(
                conn,
                case_id,
                entry,
                lang=lang if isinstance(lang, str) else None,
                document=text,
            )
            index_item(conn, case_id, entry.id, _searchable(document))
        conn.execute("RELEASE item")
        return None
    except bundles.BundleError:
        conn.execute("ROLLBACK TO item")
        conn.execute("RELEASE item")
        raise
    except (OSError, sqlcipher3.Error):
        raise  # the bundle file or the store failed, not this item: the import rolls back
    except Exception as exc:  # noqa: BLE001 - one hostile item never blocks the rest
        # CryptoError, ValueError, and whatever else a crafted plaintext provokes
        # (RecursionError from JSON nested 200,000 deep, ...): kept with its reason.
        conn.execute("ROLLBACK TO item")
        conn.execute("RELEASE item")
        error = _reason(exc)
        _insert_item(conn, case_id, entry, error=error)
        return error


def _reason(exc: Exception) -> str:
    if not isinstance(exc, CryptoError | ValueError):
        return f"did not open: the document could not be read ({type(exc).__name__})"
    text = str(exc) or type(exc).__name__
    return f"did not open: {text}"[:500]


def _parse_document(kind: str, data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("the document is not JSON") from exc
    if not isinstance(document, dict):
        raise ValueError("the document is not a JSON object")
    if document.get("format") != DOCUMENT_FORMATS[kind]:
        raise ValueError(f"the document is not a {kind} ({document.get('format')!r})")
    if not isinstance(document.get("text", ""), str):
        raise ValueError("the document's text is not text")
    return document


def _searchable(document: dict[str, Any]) -> str:
    parts = [document.get("text")]
    where = document.get("where")
    if isinstance(where, dict):
        parts.append(where.get("landmark"))
    request = document.get("consent_request")
    if isinstance(request, dict):
        parts.append(request.get("text"))
    return "\n".join(p for p in parts if isinstance(p, str) and p)


def _name_files(conn: Connection) -> None:
    """Give files without a name the name and type their report or message lists."""
    rows = conn.execute(
        "SELECT f.item_id, i.parent_id, i.case_id, p.document FROM files f"
        " JOIN items i ON i.id = f.item_id JOIN items p ON p.id = i.parent_id"
        " WHERE f.name IS NULL AND p.document IS NOT NULL"
    ).fetchall()
    for row in rows:
        try:
            attachments = json.loads(row["document"]).get("attachments") or []
        except (ValueError, AttributeError):
            continue
        for attachment in attachments if isinstance(attachments, list) else []:
            if isinstance(attachment, dict) and attachment.get("id") == row["item_id"]:
                name, kind = attachment.get("name"), attachment.get("type")
                name = name if isinstance(name, str) else None
                conn.execute(
                    "UPDATE files SET name = ?, content_type = ? WHERE item_id = ?",
                    (name, kind if isinstance(kind, str) else None, row["item_id"]),
                )
                if name:
                    index_item(conn, int(row["case_id"]), row["item_id"], name)
                break


# -- withdrawals -----------------------------------------------------------------------


def apply_withdrawal(
    conn: Connection, notice_id: str, designation: str, day: str, item_ids: Iterable[str]
) -> bool:
    """Delete everything of hers (inside the caller's transaction); False if this notice
    was applied before. The caller checkpoints the WAL after committing."""
    if conn.execute("SELECT 1 FROM withdrawals WHERE id = ?", (notice_id,)).fetchone():
        return False
    named = list(item_ids)
    row = conn.execute("SELECT id FROM cases WHERE designation = ?", (designation,)).fetchone()
    case_id = None if row is None else int(row["id"])
    ids = set(named)
    if case_id is not None:
        ids.update(
            str(r[0]) for r in conn.execute("SELECT id FROM items WHERE case_id = ?", (case_id,))
        )
        unindex_case(conn, case_id)
    unindex_items(conn, sorted(ids))
    for item_id in sorted(ids):
        conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
        conn.execute("INSERT OR IGNORE INTO withdrawn_items (item_id) VALUES (?)", (item_id,))
    if case_id is not None:
        conn.execute("DELETE FROM consent_decisions WHERE case_id = ?", (case_id,))
        conn.execute("DELETE FROM key_conflicts WHERE case_id = ?", (case_id,))
        conn.execute(
            "UPDATE cases SET withdrawn_day = ?, source_public_key = NULL WHERE id = ?",
            (day, case_id),
        )
    conn.execute(
        "INSERT INTO withdrawals (id, case_id, designation, day) VALUES (?, ?, ?, ?)",
        (notice_id, case_id, designation, day),
    )
    if case_id is not None:
        queue_retractions(conn, case_id)
    return True
