"""The case store: every decrypted report, message, reply and file on the workstation.

One SQLCipher file, ``cases.db`` in the workstation home, keyed with
:attr:`~journalist_interface.workstation.keys.Unlocked.db_key` (derived from the unlocked
submission key, never stored). Connections are opened by
:func:`securedrop_like.db.connect`, as on the server: WAL, ``secure_delete`` on, foreign
keys on, temporary tables in memory.

Schema files ``workstation/schema/NNNN_name.sql`` are applied in number order at open,
each once, in its own transaction, and recorded in ``schema_version``. Several helpers own
files there (0001 here, 0002 publication, 0003 case work); numbers may have gaps while
their branches are apart.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3

from crypto import new_private_file
from securedrop_like.db import DatabaseError, connect, immediate

from .keys import Unlocked, WorkstationError

__all__ = [
    "DB_FILE",
    "CaseStore",
    "CaseSummary",
    "CaseView",
    "FileView",
    "ItemView",
    "ReportFields",
    "schema_files",
]

Connection = Any  # sqlcipher3 ships no type information
DB_FILE = "cases.db"
_SCHEMA_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def schema_files() -> list[tuple[int, str, str]]:
    """Every schema file shipped, in order: (number, file name, SQL)."""
    found = []
    folder = importlib.resources.files("journalist_interface.workstation") / "schema"
    for entry in folder.iterdir():
        match = _SCHEMA_RE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise WorkstationError(f"two schema files share a number: {numbers}")
    return found


def _migrate(conn: Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version"
        " (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
    )
    done = {int(r[0]) for r in conn.execute("SELECT version FROM schema_version")}
    for number, name, sql in schema_files():
        if number in done:
            continue
        # executescript keeps triggers (whose bodies hold ';') whole; it leaves the
        # transaction it began open, so the version row commits with the schema.
        try:
            conn.executescript("BEGIN IMMEDIATE;\n" + sql)
            conn.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", (number, name))
            conn.execute("COMMIT")
        except sqlcipher3.Error as exc:
            with contextlib.suppress(sqlcipher3.Error):
                conn.execute("ROLLBACK")
            raise WorkstationError(f"the case store could not be updated ({name}): {exc}") from exc


# -- what the helpers return -----------------------------------------------------------


@dataclass(frozen=True)
class CaseSummary:
    id: int
    designation: str
    channel: str | None
    first_day: str
    last_day: str
    withdrawn_day: str | None
    status: str | None
    items: int
    files: int
    replies: int
    errors: int
    types: tuple[str, ...]
    district: str | None


@dataclass(frozen=True)
class ReportFields:
    """Her report's structured answers, as codes (labels are the app's business)."""

    text: str
    types: tuple[str, ...]
    date: str | None  # YYYY-MM-DD, YYYY-MM, or None
    date_precision: str  # day, month, unknown
    part_of_day: str | None
    district: str | None  # location code (a district, or "online")
    landmark: str
    perpetrator_type: str | None
    service: str | None
    role: str | None
    wants: tuple[str, ...]
    consent: str | None
    lang: str | None
    channel: str | None

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ReportFields:
        when = doc.get("when") if isinstance(doc.get("when"), dict) else {}
        where = doc.get("where") if isinstance(doc.get("where"), dict) else {}
        assert isinstance(when, dict) and isinstance(where, dict)  # noqa: S101 - for mypy
        return cls(
            text=_str(doc.get("text")) or "",
            types=_strs(doc.get("types")),
            date=_str(when.get("date")),
            date_precision=_str(when.get("precision")) or "unknown",
            part_of_day=_str(when.get("part_of_day")),
            district=_str(where.get("location")),
            landmark=_str(where.get("landmark")) or "",
            perpetrator_type=_str(doc.get("perpetrator")),
            service=_str(doc.get("service")),
            role=_str(doc.get("role")),
            wants=_strs(doc.get("wants")),
            consent=_str(doc.get("consent")),
            lang=_str(doc.get("lang")),
            channel=_str(doc.get("channel")),
        )


@dataclass(frozen=True)
class ItemView:
    id: str
    kind: str
    parent_id: str | None
    day: str
    size: int
    lang: str | None
    document: dict[str, Any] | None
    error: str | None
    author: str | None = None
    origin: str = "import"
    sent: bool = True

    @property
    def text(self) -> str:
        return _str((self.document or {}).get("text")) or ""


@dataclass(frozen=True)
class FileView:
    item_id: str
    parent_id: str | None
    day: str
    name: str | None
    content_type: str | None
    plain_size: int | None
    error: str | None


@dataclass(frozen=True)
class CaseView:
    id: int
    designation: str
    source_public_key: bytes | None
    channel: str | None
    first_day: str
    last_day: str
    withdrawn_day: str | None
    status: str | None
    report: ReportFields | None
    report_item: ItemView | None
    messages: list[ItemView] = field(default_factory=list)
    replies: list[ItemView] = field(default_factory=list)
    files: list[FileView] = field(default_factory=list)
    errors: list[ItemView] = field(default_factory=list)
    consent_decisions: list[tuple[str, str, str]] = field(default_factory=list)
    # A different key the server named for her after it mattered (schema 0005, keypin):
    # replies are refused until a reviewer resolves it.
    offered_key: bytes | None = None
    key_conflict_day: str | None = None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _strs(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _document(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _item_view(row: Any) -> ItemView:
    return ItemView(
        id=row["id"],
        kind=row["kind"],
        parent_id=row["parent_id"],
        day=row["day"],
        size=int(row["size"]),
        lang=row["lang"],
        document=_document(row["document"]),
        error=row["error"],
        author=row["author"],
        origin=row["origin"],
        sent=bool(row["sent"]),
    )


# -- the store -------------------------------------------------------------------------


class CaseStore:
    """The case store of one unlocked workstation home.

    :meth:`connection` gives this thread's connection (opened once, reused);
    :meth:`transaction` wraps it in ``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on
    error). Rows are ``sqlcipher3.Row`` (by name or index).
    """

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = bytearray(key)
        self._local = threading.local()
        self._all: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, home: Path, unlocked: Unlocked) -> CaseStore:
        """Open (creating if new) the case store of ``home`` and bring its schema up to
        date. WorkstationError if the key does not open it."""
        path = Path(home) / DB_FILE
        if not path.exists():
            # Created 0600 before SQLite opens it; its -wal and -shm files take its mode.
            with contextlib.suppress(FileExistsError), new_private_file(path, sync=False):
                pass
        store = cls(path, unlocked.db_key)
        try:
            with store.connection() as conn:
                _migrate(conn)
        except BaseException:
            store.close()
            raise
        return store

    def _open(self) -> Connection:
        if self._closed:
            raise WorkstationError("the case store is closed")
        try:
            conn = connect(self.path, bytes(self._key), check_same_thread=False)
        except DatabaseError as exc:
            raise WorkstationError(
                "the case store does not open with these keys (another workstation's, or damaged)"
            ) from exc
        conn.row_factory = sqlcipher3.Row
        # A bulk import writes many pages: NORMAL is safe in WAL mode (a crash can lose the
        # last transaction, never corrupt the file) and much faster than FULL.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -32768")  # 32 MiB of decrypted pages
        return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        yield conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.connection() as conn, immediate(conn):
            yield conn

    def checkpoint(self) -> None:
        """Copy the WAL into the file and empty it (after a deletion: no copy lingers)."""
        with self.connection() as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(sqlcipher3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()
        for i in range(len(self._key)):
            self._key[i] = 0
        self._closed = True

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------

    def list_cases(
        self, *, include_withdrawn: bool = True, limit: int | None = None, offset: int = 0
    ) -> list[CaseSummary]:
        """Every case, most recent activity first."""
        where = "" if include_withdrawn else "WHERE c.withdrawn_day IS NULL"
        # The page is chosen first, so the counts and the report's answers are computed
        # for its cases only; the answers are read with json_extract (not the whole text).
        sql = f"""
            WITH page AS (
              SELECT * FROM cases c {where}
              ORDER BY c.last_day DESC, c.id DESC LIMIT ? OFFSET ?
            )
            SELECT page.*,
              (SELECT json_array(count(*), sum(i.kind = 'file'), sum(i.kind = 'reply'),
                   count(i.error))
                 FROM items i INDEXED BY items_case_counts WHERE i.case_id = page.id)
                AS counts,
              (SELECT json_object(
                   'types', json_extract(r.document, '$.types'),
                   'location', json_extract(r.document, '$.where.location'))
                 FROM items r WHERE r.case_id = page.id AND r.kind = 'report'
                 AND r.document IS NOT NULL ORDER BY r.day LIMIT 1) AS report
            FROM page
            ORDER BY page.last_day DESC, page.id DESC
        """  # noqa: S608 - the only variable part is one of two fixed strings
        with self.connection() as conn:
            rows = conn.execute(sql, (-1 if limit is None else limit, offset)).fetchall()
        out = []
        for row in rows:
            answers = _document(row["report"]) or {}
            n_items, n_files, n_replies, n_errors = (int(n or 0) for n in json.loads(row["counts"]))
            types = answers.get("types")
            location = answers.get("location")
            out.append(
                CaseSummary(
                    id=row["id"],
                    designation=row["designation"],
                    channel=row["channel"],
                    first_day=row["first_day"],
                    last_day=row["last_day"],
                    withdrawn_day=row["withdrawn_day"],
                    status=row["status"],
                    items=n_items,
                    files=n_files,
                    replies=n_replies,
                    errors=n_errors,
                    types=_strs(types),
                    district=_str(location),
                )
            )
        return out

    def case_id(self, designation: str) -> int | None:
        with self.connection() as conn:
            row = conn.execute("SELECT id FROM cases WHERE designation = ?", (designation,))
            found = row.fetchone()
        return None if found is None else int(found[0])

    def get_case(self, case_id: int) -> CaseView:
        """One case with her report's fields, messages, replies and files, oldest first.
        WorkstationError if there is no such case."""
        with self.connection() as conn:
            case = conn.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
            if case is None:
                raise WorkstationError("no such case")
            rows = conn.execute(
                "SELECT * FROM items WHERE case_id = ? ORDER BY day, kind != 'report', id",
                (case_id,),
            ).fetchall()
            file_rows = conn.execute(
                "SELECT i.id, i.parent_id, i.day, i.error, f.name, f.content_type,"
                " f.plain_size FROM items i LEFT JOIN files f ON f.item_id = i.id"
                " WHERE i.case_id = ? AND i.kind = 'file' ORDER BY i.day, i.id",
                (case_id,),
            ).fetchall()
            decisions = conn.execute(
                "SELECT draft_id, decision, day FROM consent_decisions WHERE case_id = ?"
                " ORDER BY day, draft_id",
                (case_id,),
            ).fetchall()
            conflict = conn.execute(
                "SELECT offered_key, first_day FROM key_conflicts WHERE case_id = ?", (case_id,)
            ).fetchone()
        items = [_item_view(r) for r in rows]
        report_item = next((i for i in items if i.kind == "report" and i.document), None)
        return CaseView(
            id=case["id"],
            designation=case["designation"],
            source_public_key=case["source_public_key"],
            channel=case["channel"],
            first_day=case["first_day"],
            last_day=case["last_day"],
            withdrawn_day=case["withdrawn_day"],
            status=case["status"],
            report=ReportFields.from_document(report_item.document)
            if report_item and report_item.document
            else None,
            report_item=report_item,
            messages=[i for i in items if i.kind == "message"],
            replies=[i for i in items if i.kind == "reply"],
            files=[
                FileView(
                    item_id=r["id"],
                    parent_id=r["parent_id"],
                    day=r["day"],
                    name=r["name"],
                    content_type=r["content_type"],
                    plain_size=r["plain_size"],
                    error=r["error"],
                )
                for r in file_rows
            ],
            errors=[i for i in items if i.error],
            consent_decisions=[(d["draft_id"], d["decision"], d["day"]) for d in decisions],
            offered_key=None if conflict is None else bytes(conflict["offered_key"]),
            key_conflict_day=None if conflict is None else conflict["first_day"],
        )

    def get_file(self, item_id: str) -> FileView:
        with self.connection() as conn:
            row = conn.execute(
                "SELECT i.id, i.parent_id, i.day, i.error, f.name, f.content_type,"
                " f.plain_size FROM items i LEFT JOIN files f ON f.item_id = i.id"
                " WHERE i.id = ? AND i.kind = 'file'",
                (item_id,),
            ).fetchone()
        if row is None:
            raise WorkstationError("no such file")
        return FileView(
            item_id=row["id"],
            parent_id=row["parent_id"],
            day=row["day"],
            name=row["name"],
            content_type=row["content_type"],
            plain_size=row["plain_size"],
            error=row["error"],
        )

    def file_plaintext(self, item_id: str) -> Iterator[bytes]:
        """A decrypted file's bytes, one stored chunk (≤ 64 KiB) at a time."""
        with self.connection() as conn:
            if conn.execute("SELECT 1 FROM files WHERE item_id = ?", (item_id,)).fetchone() is None:
                raise WorkstationError("no such file, or it did not open")
        seq = -1
        while True:
            with self.connection() as conn:
                row = conn.execute(
                    "SELECT seq, data FROM file_chunks WHERE item_id = ? AND seq > ?"
                    " ORDER BY seq LIMIT 1",
                    (item_id, seq),
                ).fetchone()
            if row is None:
                return
            seq = row["seq"]
            yield bytes(row["data"])

    def search(self, query: str, *, limit: int = 50) -> list[Any]:
        """Full-text search (see :mod:`journalist_interface.workstation.search`)."""
        from .search import search

        return search(self, query, limit=limit)
