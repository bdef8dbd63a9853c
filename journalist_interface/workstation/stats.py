"""Statistics for advocacy over every case, with small cells suppressed.

Pure functions: facts are taken from each case's report document, counted per
dimension (type, district, month, service, perpetrator type), and turned into
tables for the page or CSV text meant to leave the workstation. In anything
that leaves, a count from 1 to 4 is shown as ``<5`` (a small cell can point at
one woman); when a table would have exactly one such cell, the next smallest
count is hidden too, so that the total does not give the hidden one away.
A total under 5 is hidden as well. Zero stays zero: it points at no one.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

THRESHOLD = 5
SUPPRESSED = "<5"
UNKNOWN = "unknown"
DIMENSIONS = ("type", "district", "month", "service", "perpetrator")


@dataclass(frozen=True)
class CaseFacts:
    """What one case adds to the statistics: codes only, never text."""

    types: tuple[str, ...]
    district: str
    month: str
    service: str
    perpetrator: str


def _code(value: Any) -> str:
    return value if isinstance(value, str) and value and len(value) <= 40 else UNKNOWN


def facts_from_report(
    document: Mapping[str, Any] | None, first_day: str | None = None
) -> CaseFacts:
    """The facts of one report document (the source interface's JSON).

    The month is the month she gave for what happened; failing that, the
    month the report arrived (``first_day``, YYYY-MM-DD); failing that, unknown.
    """
    doc: Mapping[str, Any] = document if isinstance(document, Mapping) else {}
    raw_types = doc.get("types")
    types = tuple(sorted({_code(t) for t in raw_types})) if isinstance(raw_types, list) else ()
    where = doc.get("where")
    district = _code(where.get("location")) if isinstance(where, Mapping) else UNKNOWN
    when = doc.get("when")
    month = UNKNOWN
    if isinstance(when, Mapping) and isinstance(when.get("date"), str):
        date = str(when["date"])
        if len(date) >= 7 and date[4] == "-" and date[:4].isdigit() and date[5:7].isdigit():
            month = date[:7]
    if month == UNKNOWN and isinstance(first_day, str) and len(first_day) >= 7:
        month = first_day[:7]
    return CaseFacts(
        types=types or (UNKNOWN,),
        district=district,
        month=month,
        service=_code(doc.get("service")),
        perpetrator=_code(doc.get("perpetrator")),
    )


def count(facts: Iterable[CaseFacts]) -> dict[str, Counter[str]]:
    """Counts per dimension. A case with several types counts once in each."""
    tables: dict[str, Counter[str]] = {name: Counter() for name in DIMENSIONS}
    for fact in facts:
        tables["type"].update(fact.types)
        tables["district"][fact.district] += 1
        tables["month"][fact.month] += 1
        tables["service"][fact.service] += 1
        tables["perpetrator"][fact.perpetrator] += 1
    return tables


def suppressed_codes(counts: Mapping[str, int], threshold: int = THRESHOLD) -> frozenset[str]:
    """The cells to hide: every count from 1 to threshold-1, and, if that is a
    single cell, also the smallest other non-zero one (so the total does not
    reveal it)."""
    small = {code for code, n in counts.items() if 0 < n < threshold}
    if len(small) == 1:
        others = sorted((n, code) for code, n in counts.items() if n > 0 and code not in small)
        if others:
            small.add(others[0][1])
    return frozenset(small)


def shown(n: int, hidden: bool) -> str:
    return SUPPRESSED if hidden else str(n)


@dataclass(frozen=True)
class Cell:
    code: str
    count: int
    text: str  # the count, or "<5" when suppressed


@dataclass(frozen=True)
class Table:
    dimension: str
    cells: tuple[Cell, ...]
    total: int
    total_text: str


def table(
    dimension: str, counts: Mapping[str, int], *, suppress: bool, threshold: int = THRESHOLD
) -> Table:
    """One dimension's table, largest first (months in calendar order), unknown last.

    With ``suppress`` the texts hide small cells; without it (the reviewer's own
    screen) they show every count."""
    hidden = suppressed_codes(counts, threshold) if suppress else frozenset()

    def order(item: tuple[str, int]) -> tuple[int, Any]:
        code, n = item
        if code == UNKNOWN:
            return (2, 0)
        return (1, code) if dimension == "month" else (0, (-n, code))

    cells = tuple(
        Cell(code, n, shown(n, code in hidden)) for code, n in sorted(counts.items(), key=order)
    )
    total = sum(counts.values())
    total_text = shown(total, suppress and 0 < total < threshold)
    return Table(dimension, cells, total, total_text)


def tables(facts: Iterable[CaseFacts], *, suppress: bool) -> list[Table]:
    counted = count(facts)
    return [table(name, counted[name], suppress=suppress) for name in DIMENSIONS]


def csv_text(
    facts: Iterable[CaseFacts],
    label: Callable[[str, str], str] = lambda dimension, code: code,
    header: tuple[str, str, str, str] = ("dimension", "code", "label", "count"),
) -> str:
    """The CSV meant to leave the workstation: always suppressed.

    One row per cell (dimension, code, label, count) and a ``total`` row per
    dimension. Labels come from ``label(dimension, code)``; a cell starting
    with = + - @ is quoted with a leading apostrophe (no formula in a
    spreadsheet)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for tab in tables(facts, suppress=True):
        for cell in tab.cells:
            writer.writerow(
                [tab.dimension, _safe(cell.code), _safe(label(tab.dimension, cell.code)), cell.text]
            )
        writer.writerow([tab.dimension, "total", "", tab.total_text])
    return out.getvalue()


def _safe(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
