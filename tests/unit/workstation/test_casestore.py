"""The case store: SQLCipher under the derived key, schema applied once, safe search."""

from __future__ import annotations

from pathlib import Path

import pytest

from journalist_interface.workstation import keys
from journalist_interface.workstation.casestore import CaseStore, schema_files
from journalist_interface.workstation.search import fts_query, index_item
from tests.unit.workstation.conftest import make_home

CANARY = "Canary9f1e xüsusi mətn: she met him at the ASAN centre"


def _add_case(store: CaseStore, designation: str, text: str, item_id: str) -> int:
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO cases (designation, first_day, last_day) VALUES (?, ?, ?)",
            (designation, "2024-05-01", "2024-05-01"),
        )
        case_id = int(cur.lastrowid)
        conn.execute(
            "INSERT INTO items (id, case_id, kind, day, size, document)"
            " VALUES (?, ?, 'report', '2024-05-01', 100, json_object('text', ?))",
            (item_id, case_id, text),
        )
        index_item(conn, case_id, item_id, text)
    return case_id


def test_schema_applied_once_and_file_is_encrypted(
    ws_home: Path, unlocked: keys.Unlocked, store: CaseStore
) -> None:
    case_id = _add_case(store, "qırmızı nar", CANARY, "a" * 32)
    store.checkpoint()
    with store.connection() as conn:
        versions = [tuple(r) for r in conn.execute("SELECT version, name FROM schema_version")]
        assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert versions == [(n, name) for n, name, _ in schema_files()]
    store.close()
    raw = b"".join(p.read_bytes() for p in ws_home.glob("cases.db*"))
    assert len(raw) > 4096
    for needle in (b"Canary9f1e", "xüsusi".encode(), b"ASAN", "qırmızı".encode(), b"SQLite"):
        assert needle not in raw
    # Opening again applies nothing twice and finds the case.
    with CaseStore.open(ws_home, unlocked) as again:
        assert again.get_case(case_id).report is not None
        assert again.get_case(case_id).report.text == CANARY  # type: ignore[union-attr]


def test_another_workstations_keys_do_not_open_it(
    ws_home: Path, store: CaseStore, tmp_path: Path
) -> None:
    _add_case(store, "x", "text", "b" * 32)
    store.close()
    make_home(tmp_path / "other")
    with keys.unlock(tmp_path / "other", "correct horse battery staple") as other:
        with pytest.raises(keys.WorkstationError, match="does not open"):
            CaseStore.open(ws_home, other)


@pytest.mark.parametrize(
    "query",
    ['"', "*", "NEAR(", "a OR", "-x", "AND", "(((", "^", "col:x", "'; DROP TABLE cases;--", "\x00"],
)
def test_search_never_raises_on_query_syntax(store: CaseStore, query: str) -> None:
    _add_case(store, "x", "text and more", "c" * 32)
    assert isinstance(store.search(query), list)


def test_search_finds_words_folding_case_diacritics_and_prefixes(store: CaseStore) -> None:
    case_id = _add_case(store, "mavi göl", CANARY, "d" * 32)
    _add_case(store, "yaşıl", "Другое: полицейский требовал деньги", "e" * 32)
    assert [h.case_id for h in store.search("canary9f1e")] == [case_id]
    assert [h.case_id for h in store.search("XUSUSI")] == [case_id]
    assert [h.case_id for h in store.search("asan cent")] == [case_id]
    assert [h.designation for h in store.search("полицейск")] == ["yaşıl"]
    assert store.search("asan полицейский") == []
    (hit,) = store.search("ASAN")
    assert ("ASAN", True) in hit.parts()
    assert fts_query("  ") is None
    assert fts_query('a"b') == '"a"* AND "b"*'
