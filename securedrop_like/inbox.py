"""What the staff inbox reads: sources newest activity first, a page at a time.

Metadata only — designations, channels, days, counts, flags. Paging is by
key (the last row's sort key), never by OFFSET, so the thousandth page costs
what the first does; unread counts are computed for the rows of one page
only. The sort is: starred first, then newest activity, then the random id
(which only breaks ties; it carries no order of arrival).

A source assigned to an account that is now disabled (or gone) reads as
unassigned: ``assigned_to`` is the assignee only while her account is enabled,
so a disabled lawyer's cases turn up under "unassigned" for a colleague to
take, and come back to her if she is enabled again before anyone does.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

from .db import Connection

PAGE_SIZE = 50
# The assignee while her account is enabled, else NULL (see the module docstring).
_ASSIGNEE = "(SELECT username FROM staff WHERE username = sources.assigned_to AND disabled = 0)"
_UNREAD = (
    "EXISTS (SELECT 1 FROM items WHERE items.source_id = sources.id"
    " AND kind != 'reply' AND staff_read = 0)"
)
_COLUMNS = f"id, designation, channel, activity_day, starred, {_ASSIGNEE}, case_status"
_SELECT = f"SELECT {_COLUMNS} FROM sources"  # noqa: S608 - constants only
#: ``assigned`` value of :func:`page` for sources nobody (enabled) is assigned to.
UNASSIGNED = ""
_ORDER = " ORDER BY starred DESC, activity_day DESC, id DESC LIMIT ?"
_COUNTS = "SELECT source_id, SUM(kind != 'reply' AND staff_read = 0), COUNT(*) FROM items"


@dataclass(frozen=True)
class InboxRow:
    id: str
    designation: str
    channel: str
    activity_day: str
    starred: bool
    assigned_to: str | None
    unread: int
    items: int
    case_status: str = "new"


@dataclass(frozen=True)
class Filters:
    """What the inbox shows; every field optional, all of them together (AND).

    ``assigned`` is a username, :data:`UNASSIGNED` for nobody, or None for
    anyone; ``status`` a case status code (see case_status.py) or None.
    """

    unread: bool = False
    starred: bool = False
    assigned: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class DesignationFilter:
    """Which designation tokens to show: their first byte (the adjective),
    second byte (the noun) and last four hex digits (the suffix) — each
    optional. Built from what staff type (see journalist_interface/search.py)."""

    first: frozenset[str] | None = None
    second: frozenset[str] | None = None
    suffix: str | None = None


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None


def encode_cursor(row: InboxRow) -> str:
    raw = json.dumps([int(row.starred), row.activity_day, row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class BadCursor(ValueError):
    """An ``after=`` cursor this server did not write (damaged, truncated or crafted)."""


# A cursor is base64 of ``[0, "2026-11-01", "<32 hex>"]``: about 70 characters.
MAX_CURSOR_CHARS = 200
_CURSOR_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_ID_RE = re.compile(r"[0-9a-f]{32}", re.ASCII)


def decode_cursor(cursor: str) -> tuple[int, str, str]:
    """The sort key a cursor names; :class:`BadCursor` for anything else.

    Checked before parsing (length, alphabet) so that no input can make the
    JSON parser work hard or recurse deeply, then checked for its exact shape.
    """
    if len(cursor) > MAX_CURSOR_CHARS or not set(cursor) <= _CURSOR_CHARS:
        raise BadCursor("not a cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadCursor("not a cursor") from exc
    if not isinstance(key, list) or len(key) != 3:
        raise BadCursor("not a cursor")
    starred, day, source_id = key
    if type(starred) is not int or starred not in (0, 1):
        raise BadCursor("not a cursor")
    if not isinstance(day, str) or not _DAY_RE.fullmatch(day):
        raise BadCursor("not a cursor")
    if not isinstance(source_id, str) or not _ID_RE.fullmatch(source_id):
        raise BadCursor("not a cursor")
    return starred, day, source_id


def page(
    conn: Connection,
    *,
    cursor: str | None = None,
    assigned_to: str | None = None,
    designation: DesignationFilter | None = None,
    filters: Filters | None = None,
    limit: int = PAGE_SIZE,
) -> InboxPage:
    """One page of the inbox, optionally only one lawyer's sources, one designation,
    or what ``filters`` keeps (``assigned_to`` is ``Filters(assigned=...)``).

    ``cursor`` is the ``next_cursor`` of the previous page; :class:`BadCursor` if it is
    not one this module wrote.
    """
    where = []
    params: list[object] = []
    if assigned_to is not None:
        filters = Filters(
            unread=filters.unread if filters else False,
            starred=filters.starred if filters else False,
            assigned=assigned_to,
            status=filters.status if filters else None,
        )
    if filters is not None:
        if filters.unread:
            where.append(_UNREAD)
        if filters.starred:
            where.append("starred = 1")
        if filters.assigned == UNASSIGNED:
            where.append(f"{_ASSIGNEE} IS NULL")
        elif filters.assigned is not None:
            where.append(f"{_ASSIGNEE} = ?")
            params.append(filters.assigned)
        if filters.status is not None:
            where.append("case_status = ?")
            params.append(filters.status)
    if designation is not None:
        for start, allowed in ((1, designation.first), (3, designation.second)):
            if allowed is not None:
                marks = ", ".join("?" * len(allowed)) or "NULL"
                where.append(f"substr(designation, {start}, 2) IN ({marks})")
                params += sorted(allowed)
        if designation.suffix:
            where.append("substr(designation, -4) = ?")
            params.append(designation.suffix)
    key = decode_cursor(cursor) if cursor else None
    if key is not None:
        where.append("(starred, activity_day, id) < (?, ?, ?)")
        params += list(key)
    # Only fixed column conditions and placeholders are joined into the SQL.
    condition = " WHERE " + " AND ".join(where) if where else ""
    sql = f"{_SELECT}{condition}{_ORDER}"
    rows = conn.execute(sql, [*params, limit + 1]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    counts = _counts(conn, [r[0] for r in rows])
    out = [
        InboxRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5], *counts.get(r[0], (0, 0)), r[6])
        for r in rows
    ]
    return InboxPage(out, encode_cursor(out[-1]) if more and out else None)


def _counts(conn: Connection, ids: list[str]) -> dict[str, tuple[int, int]]:
    """(unread, total) items per source, for the given sources only."""
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    sql = f"{_COUNTS} WHERE source_id IN ({marks}) GROUP BY source_id"  # noqa: S608 - marks
    rows = conn.execute(sql, ids).fetchall()
    return {r[0]: (int(r[1] or 0), int(r[2])) for r in rows}


@dataclass(frozen=True)
class SourceMeta:
    """What the staff source page shows beside the items: star, assignee, case status."""

    starred: bool
    assigned_to: str | None
    case_status: str


def source_meta(conn: Connection, source_id: str) -> SourceMeta | None:
    """A source's staff metadata (the assignee as in the inbox: None if disabled)."""
    row = conn.execute(
        f"SELECT starred, {_ASSIGNEE}, case_status FROM sources WHERE id = ?",  # noqa: S608
        (source_id,),
    ).fetchone()
    return None if row is None else SourceMeta(bool(row[0]), row[1], str(row[2]))
