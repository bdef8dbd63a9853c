"""What the app reads and writes in the case store for the reviewer's pages.

Reads go through the core tables of schema 0001 (cases, items, files,
file_chunks); the reviewer's own work (notes, tags, what she read, cached
safe renderings) lives in the tables of schema 0003. Everything here takes
an open case-store connection: encrypted at rest like the rest.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from securedrop_like.db import today

MAX_NOTE_CHARS = 10_000
MAX_TAG_CHARS = 40
MAX_TAGS_PER_CASE = 30
PAGE_SIZE = 100
_TAG_RE = re.compile(r"[^\w\- ]+", re.UNICODE)


@dataclass(frozen=True)
class CaseRow:
    id: int
    designation: str
    channel: str | None
    first_day: str | None
    last_day: str | None
    withdrawn_day: str | None
    status: str | None
    items: int
    unread: int
    tags: tuple[str, ...]


@dataclass(frozen=True)
class FileInfo:
    item_id: str
    name: str
    content_type: str
    size: int
    day: str | None
    kind: str  # "image", "pdf" or "other" (from its first bytes, not its name)


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    day: str | None
    lang: str | None
    document: dict[str, Any] | None
    error: str | None
    files: tuple[FileInfo, ...] = ()

    @property
    def text(self) -> str:
        doc = self.document or {}
        for key in ("text", "message", "body"):
            value = doc.get(key)
            if isinstance(value, str):
                return value
        return ""


@dataclass(frozen=True)
class Note:
    id: int
    day: str
    author: str
    text: str


@dataclass
class CaseDetail:
    case: CaseRow
    report: Item | None
    messages: list[Item] = field(default_factory=list)
    replies: list[Item] = field(default_factory=list)
    files: list[FileInfo] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def _document(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        doc = json.loads(raw if isinstance(raw, str) else bytes(raw).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _case_rows(
    conn: Any, where: str, params: Sequence[Any], limit: int, offset: int
) -> list[CaseRow]:
    rows = conn.execute(
        f"""
        SELECT c.id, c.designation, c.channel, c.first_day, c.last_day, c.withdrawn_day, c.status,
               (SELECT count(*) FROM items i WHERE i.case_id = c.id AND i.kind != 'reply') AS n,
               (SELECT count(*) FROM items i WHERE i.case_id = c.id AND i.kind != 'reply'
                   AND i.id NOT IN (SELECT item_id FROM item_reads)) AS unread,
               (SELECT group_concat(tag, char(31)) FROM
                   (SELECT tag FROM case_tags t WHERE t.case_id = c.id ORDER BY tag)) AS tags
        FROM cases c {where}
        ORDER BY c.last_day DESC, c.id DESC LIMIT ? OFFSET ?
        """,  # noqa: S608 - `where` is one of this module's fixed clauses
        (*params, limit, offset),
    ).fetchall()
    return [
        CaseRow(
            id=int(r[0]),
            designation=str(r[1]),
            channel=r[2],
            first_day=r[3],
            last_day=r[4],
            withdrawn_day=r[5],
            status=r[6],
            items=int(r[7]),
            unread=int(r[8]),
            tags=tuple(str(r[9]).split("\x1f")) if r[9] else (),
        )
        for r in rows
    ]


def list_case_rows(
    conn: Any,
    *,
    tag: str | None = None,
    ids: Iterable[int] | None = None,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> list[CaseRow]:
    """Cases, newest activity first; only those with ``tag`` / among ``ids``."""
    clauses: list[str] = []
    params: list[Any] = []
    if tag:
        clauses.append("c.id IN (SELECT case_id FROM case_tags WHERE tag = ?)")
        params.append(tag)
    if ids is not None:
        wanted = sorted({int(i) for i in ids})[:1000]
        if not wanted:
            return []
        clauses.append(f"c.id IN ({','.join('?' * len(wanted))})")
        params.extend(wanted)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    return _case_rows(conn, where, params, limit, offset)


def all_tags(conn: Any) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT DISTINCT tag FROM case_tags ORDER BY tag")]


def sniff(head: bytes) -> str:
    """What a file is, from its first bytes (names and declared types are hers):
    "image" or "pdf" when the sandbox renders such files (sanitize.sniff), else "other"."""
    from .sanitize import sniff as renderable

    return renderable(head) or "other"


def _files(conn: Any, case_id: int) -> dict[str | None, list[FileInfo]]:
    by_parent: dict[str | None, list[FileInfo]] = {}
    rows = conn.execute(
        """
        SELECT i.id, i.parent_id, i.day, f.name, f.content_type, f.plain_size,
               (SELECT substr(data, 1, 1024) FROM file_chunks c
                WHERE c.item_id = i.id ORDER BY seq LIMIT 1)
        FROM items i JOIN files f ON f.item_id = i.id
        WHERE i.case_id = ? AND i.kind = 'file' ORDER BY i.day, i.id
        """,
        (case_id,),
    ).fetchall()
    for r in rows:
        head = bytes(r[6]) if r[6] is not None else b""
        info = FileInfo(
            str(r[0]), str(r[3] or ""), str(r[4] or ""), int(r[5] or 0), r[2], sniff(head)
        )
        by_parent.setdefault(r[1], []).append(info)
    return by_parent


def case_detail(conn: Any, case_id: int) -> CaseDetail | None:
    rows = list_case_rows(conn, ids=[case_id], limit=1)
    if not rows:
        return None
    files = _files(conn, case_id)
    detail = CaseDetail(case=rows[0], report=None)
    for r in conn.execute(
        "SELECT id, kind, day, lang, document, error FROM items "
        "WHERE case_id = ? AND kind != 'file' ORDER BY kind != 'report', day, id",
        (case_id,),
    ).fetchall():
        item = Item(
            str(r[0]), str(r[1]), r[2], r[3], _document(r[4]), r[5], tuple(files.pop(str(r[0]), []))
        )
        if item.kind == "report" and detail.report is None:
            detail.report = item
        elif item.kind == "reply":
            detail.replies.append(item)
        else:
            detail.messages.append(item)
    detail.files = [f for group in files.values() for f in group]  # files with no parent shown
    detail.notes = [
        Note(int(r[0]), str(r[1]), str(r[2]), str(r[3]))
        for r in conn.execute(
            "SELECT id, day, author, text FROM case_notes WHERE case_id = ? ORDER BY id", (case_id,)
        )
    ]
    return detail


def mark_read(conn: Any, case_id: int) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO item_reads(item_id) SELECT id FROM items WHERE case_id = ?",
        (case_id,),
    )


def mark_unread(conn: Any, case_id: int) -> None:
    conn.execute(
        "DELETE FROM item_reads WHERE item_id IN (SELECT id FROM items WHERE case_id = ?)",
        (case_id,),
    )


def clean_note(text: str) -> str | None:
    note = text.replace("\r\n", "\n").strip()
    return note if note and len(note) <= MAX_NOTE_CHARS else None


def add_note(conn: Any, case_id: int, author: str, text: str) -> None:
    conn.execute(
        "INSERT INTO case_notes(case_id, day, author, text) VALUES (?, ?, ?, ?)",
        (case_id, today(), author[:100], text),
    )


def delete_note(conn: Any, case_id: int, note_id: int) -> None:
    conn.execute("DELETE FROM case_notes WHERE id = ? AND case_id = ?", (note_id, case_id))


def clean_tag(text: str) -> str | None:
    """A tag as stored: NFC, lower case, letters, digits, spaces and hyphens; None if empty
    or too long."""
    tag = " ".join(_TAG_RE.sub(" ", unicodedata.normalize("NFC", text)).split()).lower()
    return tag if tag and len(tag) <= MAX_TAG_CHARS else None


def add_tag(conn: Any, case_id: int, tag: str) -> bool:
    """False if the case has too many tags already."""
    (n,) = conn.execute("SELECT count(*) FROM case_tags WHERE case_id = ?", (case_id,)).fetchone()
    if n >= MAX_TAGS_PER_CASE:
        return False
    conn.execute("INSERT OR IGNORE INTO case_tags(case_id, tag) VALUES (?, ?)", (case_id, tag))
    return True


def remove_tag(conn: Any, case_id: int, tag: str) -> None:
    conn.execute("DELETE FROM case_tags WHERE case_id = ? AND tag = ?", (case_id, tag))


def file_info(conn: Any, item_id: str) -> FileInfo | None:
    row = conn.execute(
        """
        SELECT i.id, i.day, f.name, f.content_type, f.plain_size,
               (SELECT substr(data, 1, 1024) FROM file_chunks c
                WHERE c.item_id = i.id ORDER BY seq LIMIT 1)
        FROM items i JOIN files f ON f.item_id = i.id WHERE i.id = ? AND i.kind = 'file'
        """,
        (item_id,),
    ).fetchone()
    if row is None:
        return None
    head = bytes(row[5]) if row[5] is not None else b""
    return FileInfo(
        str(row[0]), str(row[2] or ""), str(row[3] or ""), int(row[4] or 0), row[1], sniff(head)
    )


def file_case(conn: Any, item_id: str) -> int | None:
    row = conn.execute("SELECT case_id FROM items WHERE id = ?", (item_id,)).fetchone()
    return int(row[0]) if row else None


def file_chunks(conn: Any, item_id: str) -> Iterator[bytes]:
    for (data,) in conn.execute(
        "SELECT data FROM file_chunks WHERE item_id = ? ORDER BY seq", (item_id,)
    ):
        yield bytes(data)


@dataclass(frozen=True)
class Page:
    png: bytes
    width: int
    height: int


def cached_renderings(conn: Any, item_id: str) -> list[Page]:
    return [
        Page(bytes(r[0]), int(r[1]), int(r[2]))
        for r in conn.execute(
            "SELECT png, width, height FROM renderings WHERE item_id = ? ORDER BY page", (item_id,)
        )
    ]


def store_renderings(conn: Any, item_id: str, pages: Sequence[Any]) -> None:
    conn.execute("DELETE FROM renderings WHERE item_id = ?", (item_id,))
    conn.executemany(
        "INSERT INTO renderings(item_id, page, png, width, height) VALUES (?, ?, ?, ?, ?)",
        [(item_id, n, bytes(p.png), int(p.width), int(p.height)) for n, p in enumerate(pages)],
    )
