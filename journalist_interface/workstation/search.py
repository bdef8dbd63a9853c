"""Full-text search across cases (SQLite FTS5 inside the encrypted case store).

What the reviewer types is never handed to FTS5's query language: it is cut into words
(letters and digits, any script), each word quoted as a phrase with a prefix star, and the
words joined with AND. So ``"``, ``*``, ``NEAR(``, ``-`` or ``OR`` in a query are just
text, and no input can make a syntax error. The index folds case and diacritics
(``unicode61 remove_diacritics 2``): ``şikayət`` finds ``sikayet``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .casestore import CaseStore, Connection

__all__ = [
    "MAX_QUERY_WORDS",
    "Hit",
    "fts_query",
    "index_item",
    "search",
    "unindex_case",
    "unindex_items",
]

MAX_QUERY_WORDS = 16
MAX_QUERY_CHARS = 500
_WORD = re.compile(r"\w+", re.UNICODE)
_MARK_OPEN = "\x02"
_MARK_CLOSE = "\x03"


@dataclass(frozen=True)
class Hit:
    case_id: int
    designation: str
    item_id: str
    kind: str
    day: str
    # Plain text around the match; the matched words are between \x02 and \x03 (escape
    # the text, then turn those into <mark>): see :meth:`parts`.
    snippet: str

    def parts(self) -> list[tuple[str, bool]]:
        """The snippet as (text, is_match) pieces, for safe rendering."""
        out: list[tuple[str, bool]] = []
        for n, piece in enumerate(re.split(f"[{_MARK_OPEN}{_MARK_CLOSE}]", self.snippet)):
            if piece:
                out.append((piece, n % 2 == 1))
        return out


def fts_query(text: str) -> str | None:
    """The FTS5 query for what a person typed, or None if it holds no word."""
    words = _WORD.findall((text or "")[:MAX_QUERY_CHARS])
    words = [w.replace("_", " ").strip() for w in words]
    words = [w for w in words if w][:MAX_QUERY_WORDS]
    if not words:
        return None
    return " AND ".join('"' + w.replace('"', '""') + '"*' for w in words)


def search(store: CaseStore, query: str, *, limit: int = 50) -> list[Hit]:
    """The best matches for ``query``, at most ``limit``; [] for a query with no word."""
    match = fts_query(query)
    if match is None:
        return []
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT s.item_id, s.case_id, c.designation, i.kind, i.day,"
            " snippet(search_index, 0, ?, ?, '…', 16) AS snip"
            " FROM search_index s"
            " JOIN items i ON i.id = s.item_id"
            " JOIN cases c ON c.id = s.case_id"
            " WHERE search_index MATCH ? ORDER BY rank LIMIT ?",
            (_MARK_OPEN, _MARK_CLOSE, match, max(1, min(int(limit), 500))),
        ).fetchall()
    return [
        Hit(
            case_id=int(r["case_id"]),
            designation=r["designation"],
            item_id=r["item_id"],
            kind=r["kind"],
            day=r["day"],
            snippet=r["snip"] or "",
        )
        for r in rows
    ]


def index_item(conn: Connection, case_id: int, item_id: str, body: str) -> None:
    """Add a new item's text to the index (an item is indexed once, when it opens)."""
    if body.strip():
        conn.execute(
            "INSERT INTO search_index (body, item_id, case_id) VALUES (?, ?, ?)",
            (body, item_id, case_id),
        )


def unindex_case(conn: Connection, case_id: int) -> None:
    """Remove a case's text from the index (the table is in secure-delete mode, so its
    tokens are removed from the index pages too, not only marked deleted)."""
    conn.execute("DELETE FROM search_index WHERE case_id = ?", (case_id,))


def unindex_items(conn: Connection, item_ids: list[str]) -> None:
    """Remove some items' text from the index."""
    for item_id in item_ids:
        conn.execute("DELETE FROM search_index WHERE item_id = ?", (item_id,))
