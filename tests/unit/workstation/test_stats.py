"""Statistics: counts per dimension, and small cells hidden in what leaves."""

from __future__ import annotations

import csv
import io

from journalist_interface.workstation import stats
from journalist_interface.workstation.stats import CaseFacts


def _report(
    types: list[str],
    district: str | None,
    date: str | None,
    service: str | None,
    perpetrator: str | None,
) -> dict[str, object]:
    when = {"precision": "day", "date": date} if date else {"precision": "unknown"}
    return {
        "text": "Private words that must never reach a statistic",
        "types": types,
        "when": when,
        "where": {"location": district, "landmark": "near the shop"},
        "perpetrator": perpetrator,
        "service": service,
    }


def test_facts_take_codes_from_the_report() -> None:
    facts = stats.facts_from_report(
        _report(["verbal", "touching", "verbal"], "sabail", "2026-03-14", "metro", "police")
    )
    assert facts == CaseFacts(("touching", "verbal"), "sabail", "2026-03", "metro", "police")


def test_missing_or_odd_answers_count_as_unknown() -> None:
    facts = stats.facts_from_report(
        {"types": "x", "where": None, "when": {"date": 5}}, "2026-05-02"
    )
    assert facts == CaseFacts(("unknown",), "unknown", "2026-05", "unknown", "unknown")
    assert stats.facts_from_report(None).month == "unknown"


def _many() -> list[CaseFacts]:
    facts = [CaseFacts(("verbal",), "sabail", "2026-01", "metro", "police")] * 7
    facts += [CaseFacts(("touching",), "nasimi", "2026-02", "bus", "stranger")] * 3
    facts += [CaseFacts(("verbal", "online"), "yasamal", "2026-02", "bus", "teacher")] * 6
    return facts


def test_counts_per_dimension() -> None:
    counted = stats.count(_many())
    assert counted["type"] == {"verbal": 13, "touching": 3, "online": 6}
    assert counted["district"] == {"sabail": 7, "nasimi": 3, "yasamal": 6}
    assert counted["month"] == {"2026-01": 7, "2026-02": 9}


def test_a_small_cell_is_hidden_with_its_complement() -> None:
    # Only nasimi (3) is small: yasamal (6), the next smallest, is hidden too,
    # else 16 - 7 - 6 would give it away.
    tab = stats.table("district", {"sabail": 7, "nasimi": 3, "yasamal": 6}, suppress=True)
    texts = {cell.code: cell.text for cell in tab.cells}
    assert texts == {"sabail": "7", "nasimi": "<5", "yasamal": "<5"}
    assert tab.total_text == "16"


def test_several_small_cells_and_zero() -> None:
    hidden = stats.suppressed_codes({"a": 1, "b": 4, "c": 5, "d": 0, "e": 30})
    assert hidden == {"a", "b"}
    assert stats.suppressed_codes({"a": 5, "b": 9}) == frozenset()


def test_a_small_total_is_hidden() -> None:
    tab = stats.table("service", {"metro": 2}, suppress=True)
    assert [c.text for c in tab.cells] == ["<5"] and tab.total_text == "<5"


def test_the_screen_shows_every_count() -> None:
    tab = stats.table("district", {"sabail": 7, "nasimi": 3}, suppress=False)
    assert [c.text for c in tab.cells] == ["7", "3"]


def test_the_csv_never_carries_a_count_under_five() -> None:
    text = stats.csv_text(_many(), lambda dim, code: code.upper())
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["dimension", "code", "label", "count"]
    counts = [row[3] for row in rows[1:]]
    assert "<5" in counts
    for value in counts:
        assert value == "<5" or value == "0" or int(value) >= 5
    assert ["district", "sabail", "SABAIL", "7"] in rows
    assert ["district", "nasimi", "NASIMI", "<5"] in rows
    assert "Private words" not in text and "near the shop" not in text


def test_the_csv_quotes_what_a_spreadsheet_would_run() -> None:
    text = stats.csv_text([CaseFacts(("x",), "d", "m", "s", "p")] * 5, lambda d, c: "=cmd()")
    assert "=cmd()" not in text.replace("'=cmd()", "")


def test_months_in_calendar_order_unknown_last() -> None:
    tab = stats.table("month", {"2026-02": 9, "unknown": 20, "2026-01": 1}, suppress=False)
    assert [c.code for c in tab.cells] == ["2026-01", "2026-02", "unknown"]
