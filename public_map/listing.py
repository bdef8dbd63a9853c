"""The list view's query: filters from GET parameters, a count, and pages by key.

Order is stable: month descending (entries with no month last), then public id. A page
cursor is the last row's key (``month:id``), so a new bundle between two pages neither
repeats nor skips an entry that was already there. Filters: ``type``, ``district``,
``service``, ``perpetrator`` (each may repeat: any of the values), ``from`` and ``to``
(``YYYY-MM``, inclusive; an entry with no month is outside any period). The stories page
uses the same query with ``Filters(with_story=True)`` (only entries with a story) and
``texts=True`` (the story itself in each row).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from securedrop_like import geo, taxonomy

#: Used with ``fullmatch`` only, and ASCII digits only: ``\d`` takes any Unicode digit and
#: ``$`` a trailing newline, which static/map.js (its own copy of these) refuses.
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
CURSOR = re.compile(r"([0-9]{4}-(?:0[1-9]|1[0-2]))?:([0-9a-f]{32})")
MAX_VALUES = 20  # per parameter; more is not a view anyone shares


class BadFilter(ValueError):
    """A parameter the list cannot use; ``field`` names it (the page says which)."""

    def __init__(self, field_name: str) -> None:
        super().__init__(field_name)
        self.field = field_name


@dataclass(frozen=True)
class Filters:
    types: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    perpetrators: tuple[str, ...] = ()
    month_from: str | None = None
    month_to: str | None = None
    #: Only entries with a story (the stories page; not a GET parameter).
    with_story: bool = False
    after: tuple[str, str] | None = field(default=None, compare=False)

    def params(self) -> list[tuple[str, str]]:
        """The filters as GET parameters (for links to the next page), without the cursor."""
        out: list[tuple[str, str]] = []
        for name, values in (
            ("type", self.types),
            ("district", self.districts),
            ("service", self.services),
            ("perpetrator", self.perpetrators),
        ):
            out.extend((name, v) for v in values)
        if self.month_from:
            out.append(("from", self.month_from))
        if self.month_to:
            out.append(("to", self.month_to))
        return out


def _codes(args: MultiDict[str, str], name: str, valid: frozenset[str]) -> tuple[str, ...]:
    values = [v for v in args.getlist(name) if v != ""]  # an empty <select> choice: no filter
    if len(values) > MAX_VALUES or any(v not in valid for v in values):
        raise BadFilter(name)
    return tuple(sorted(set(values)))


def _month(args: MultiDict[str, str], name: str) -> str | None:
    value = args.get(name, "")
    if value == "":
        return None
    if not MONTH.fullmatch(value):
        raise BadFilter(name)
    return value


def parse(args: MultiDict[str, str]) -> Filters:
    """Filters from the query string; :class:`BadFilter` for an unknown code, a bad month,
    a period that ends before it starts, or a cursor that is not one this site wrote."""
    month_from, month_to = _month(args, "from"), _month(args, "to")
    if month_from and month_to and month_from > month_to:
        raise BadFilter("to")
    after = parse_cursor(args.get("after", ""))
    return Filters(
        types=_codes(args, "type", taxonomy.codes(taxonomy.HARASSMENT_TYPES)),
        districts=_codes(args, "district", geo.location_codes()),
        services=_codes(args, "service", taxonomy.codes(taxonomy.SERVICES)),
        perpetrators=_codes(args, "perpetrator", taxonomy.codes(taxonomy.PERPETRATOR_TYPES)),
        month_from=month_from,
        month_to=month_to,
        after=after,
    )


def parse_cursor(cursor: str) -> tuple[str, str] | None:
    """A page cursor (``after=<month>:<id>``) as (month or "", id); None for ""; BadFilter
    ("after") for one this site did not write."""
    if not cursor:
        return None
    found = CURSOR.fullmatch(cursor) if len(cursor) <= 40 else None
    if not found:
        raise BadFilter("after")
    return (found.group(1) or "", found.group(2))


def where(filters: Filters) -> tuple[str, list[str]]:
    """The filters as an SQL condition on ``entries`` (only ``?`` marks) and its values."""
    clauses: list[str] = []
    params: list[str] = []
    if filters.types:
        marks = ",".join("?" * len(filters.types))
        sub = f"SELECT entry_id FROM entry_types WHERE type IN ({marks})"  # noqa: S608
        clauses.append(f"id IN ({sub})")
        params.extend(filters.types)
    for column, values in (
        ("district", filters.districts),
        ("service", filters.services),
        ("perpetrator", filters.perpetrators),
    ):
        if values:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    if filters.month_from:
        clauses.append("month >= ?")
        params.append(filters.month_from)
    if filters.month_to:
        clauses.append("month <= ?")
        params.append(filters.month_to)
    if filters.with_story:
        clauses.append("story IS NOT NULL")
    return (" AND ".join(clauses) or "1"), params


def count(conn: sqlite3.Connection, filters: Filters) -> int:
    cond, params = where(filters)
    sql = f"SELECT COUNT(*) FROM entries WHERE {cond}"  # noqa: S608 (only ? marks)
    return int(conn.execute(sql, params).fetchone()[0])


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


_ORDER = "ORDER BY COALESCE(month, '') DESC, id"


def _columns(texts: bool) -> str:
    return "id, district, month, perpetrator, service, language, summary," + (
        " story, story IS NOT NULL AS has_story" if texts else " story IS NOT NULL AS has_story"
    )


def _with_types(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with its ``types`` (a sorted list), looked up in one query."""
    ids = [r["id"] for r in rows]
    types: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        marks = ",".join("?" * len(ids))
        for row in conn.execute(
            f"SELECT entry_id, type FROM entry_types WHERE entry_id IN ({marks}) ORDER BY type",  # noqa: S608
            ids,
        ):
            types[row[0]].append(row[1])
    for row in rows:
        row["types"] = types[row["id"]]
    return rows


def page(
    conn: sqlite3.Connection,
    filters: Filters,
    size: int,
    *,
    texts: bool = False,
    offset: int = 0,
) -> Page:
    """Up to ``size`` entries after the cursor (and ``offset`` more: the static site's
    numbered pages), and the cursor of the next page (None on the last). ``texts``: each
    row also has its ``story``."""
    cond, params = where(filters)
    if filters.after is not None:
        cond += " AND (COALESCE(month, '') < ? OR (COALESCE(month, '') = ? AND id > ?))"
        params += [filters.after[0], filters.after[0], filters.after[1]]
    found = conn.execute(
        f"SELECT {_columns(texts)} FROM entries"  # noqa: S608 (only ? marks)
        f" WHERE {cond} {_ORDER} LIMIT ? OFFSET ?",
        [*params, size + 1, max(0, offset)],
    ).fetchall()
    rows = _with_types(conn, [dict(r) for r in found[:size]])
    cursor = None
    if len(found) > size:
        last = rows[-1]
        cursor = f"{last['month'] or ''}:{last['id']}"
    return Page(rows, cursor)


def every_page(
    conn: sqlite3.Connection, filters: Filters, size: int, *, texts: bool = False
) -> Iterator[Page]:
    """Every page under ``filters`` in order, from one query (the static build: page n of
    this is what ``page(…, offset=(n - 1) * size)`` gives). At least one (maybe empty)."""
    cond, params = where(filters)
    cursor = conn.execute(
        f"SELECT {_columns(texts)} FROM entries WHERE {cond} {_ORDER}",  # noqa: S608
        params,
    )
    chunk = [dict(r) for r in cursor.fetchmany(size)]
    while True:
        following = [dict(r) for r in cursor.fetchmany(size)] if chunk else []
        rows = _with_types(conn, chunk)
        next_cursor = f"{rows[-1]['month'] or ''}:{rows[-1]['id']}" if following else None
        yield Page(rows, next_cursor)
        if not following:
            return
        chunk = following


def entry(conn: sqlite3.Connection, public_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, district, month, perpetrator, service, language, summary, story"
        " FROM entries WHERE id = ?",
        (public_id,),
    ).fetchone()
    if row is None:
        return None
    out = dict(row)
    out["types"] = [
        r[0]
        for r in conn.execute(
            "SELECT type FROM entry_types WHERE entry_id = ? ORDER BY type", (public_id,)
        )
    ]
    return out
