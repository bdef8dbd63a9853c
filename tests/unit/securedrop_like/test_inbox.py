"""The inbox query: order, keyset paging, filters and unread counts."""

from __future__ import annotations

import random

import pytest

from securedrop_like import inbox, models
from securedrop_like.db import Database
from tests.conftest import Instance


@pytest.fixture
def conn(instance: Instance):  # type: ignore[no-untyped-def]
    connection = Database.for_config(instance.config).open()
    yield connection
    connection.close()


def _add(conn, n: int, day: str, starred: int = 0, assigned: str | None = None) -> str:  # type: ignore[no-untyped-def]
    conn.execute("BEGIN IMMEDIATE")
    source_id = models.insert_source(conn, lookup_id=f"{n:064x}", public_key=bytes(32), day=day)
    conn.execute(
        "UPDATE sources SET starred = ?, assigned_to = ? WHERE id = ?",
        (starred, assigned, source_id),
    )
    models.insert_items(conn, source_id, day, [models.NewItem("report", 10, inline=b"x")])
    conn.execute("COMMIT")
    return source_id


def test_pages_cover_every_source_once_in_inbox_order(conn) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    made = [
        _add(conn, n, f"2026-11-{rng.randint(1, 28):02d}", starred=int(rng.random() < 0.2))
        for n in range(23)
    ]
    seen, cursor = [], None
    while True:
        result = inbox.page(conn, cursor=cursor, limit=5)
        seen += result.rows
        if result.next_cursor is None:
            break
        cursor = result.next_cursor
    assert sorted(r.id for r in seen) == sorted(made)
    keys = [(r.starred, r.activity_day, r.id) for r in seen]
    assert keys == sorted(keys, reverse=True)
    assert all(r.unread == 1 and r.items == 1 for r in seen)


def test_unread_counts_ignore_replies_and_read_items(conn) -> None:  # type: ignore[no-untyped-def]
    source_id = _add(conn, 1, "2026-11-01")
    conn.execute("BEGIN IMMEDIATE")
    models.insert_items(
        conn,
        source_id,
        "2026-11-02",
        [models.NewItem("message", 5, inline=b"y"), models.NewItem("reply", 5, inline=b"z")],
    )
    conn.execute("UPDATE items SET staff_read = 1 WHERE kind = 'report'")
    conn.execute("COMMIT")
    (row,) = inbox.page(conn).rows
    assert (row.unread, row.items, row.activity_day) == (1, 3, "2026-11-02")


def _staff(conn, username: str, *, disabled: bool = False) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        "INSERT INTO staff (id, username, password_hash, totp_secret, disabled, created_day)"
        " VALUES (?, ?, 'x', 'x', ?, '2026-11-01')",
        (username, username, int(disabled)),
    )


def test_filters_by_lawyer_and_by_designation(conn) -> None:  # type: ignore[no-untyped-def]
    _staff(conn, "staff-a")
    _staff(conn, "staff-b")
    mine = _add(conn, 1, "2026-11-01", assigned="staff-a")
    _add(conn, 2, "2026-11-02", assigned="staff-b")
    assert [r.id for r in inbox.page(conn, assigned_to="staff-a").rows] == [mine]
    token = inbox.page(conn, assigned_to="staff-a").rows[0].designation
    exact = inbox.DesignationFilter(frozenset({token[:2]}), frozenset({token[2:4]}), token[-4:])
    assert [r.id for r in inbox.page(conn, designation=exact).rows] == [mine]
    assert inbox.page(conn, designation=inbox.DesignationFilter(first=frozenset())).rows == []
    other = inbox.DesignationFilter(suffix="zzzz")
    assert inbox.page(conn, designation=other).rows == []


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "bm90IGpzb24",
        inbox.encode_cursor(inbox.InboxRow("x", "d", "web", "2026-01-01", False, None, 0, 0))[:-2],
    ],
)
def test_a_damaged_cursor_is_refused(conn, cursor: str) -> None:  # type: ignore[no-untyped-def]
    _add(conn, 1, "2026-11-01")
    if not cursor:  # no cursor: the first page
        assert len(inbox.page(conn, cursor=cursor).rows) == 1
        return
    with pytest.raises(inbox.BadCursor):
        inbox.page(conn, cursor=cursor)


def test_a_disabled_lawyers_sources_read_as_unassigned(conn) -> None:  # type: ignore[no-untyped-def]
    _staff(conn, "aysel")
    _staff(conn, "leyla", disabled=True)
    hers = _add(conn, 1, "2026-11-01", assigned="aysel")
    gone = _add(conn, 2, "2026-11-02", assigned="leyla")
    nobody = _add(conn, 3, "2026-11-03")
    ghost = _add(conn, 4, "2026-11-04", assigned="deleted-account")
    rows = {r.id: r.assigned_to for r in inbox.page(conn).rows}
    assert rows == {hers: "aysel", gone: None, nobody: None, ghost: None}
    unassigned = inbox.Filters(assigned=inbox.UNASSIGNED)
    assert {r.id for r in inbox.page(conn, filters=unassigned).rows} == {gone, nobody, ghost}
    assert inbox.page(conn, filters=inbox.Filters(assigned="leyla")).rows == []
    meta = inbox.source_meta(conn, gone)
    assert meta is not None and meta.assigned_to is None
    conn.execute("UPDATE staff SET disabled = 0 WHERE username = 'leyla'")  # enabled again
    assert [r.id for r in inbox.page(conn, filters=inbox.Filters(assigned="leyla")).rows] == [gone]


def test_each_filter_and_their_combinations(conn) -> None:  # type: ignore[no-untyped-def]
    _staff(conn, "aysel")
    made = {}
    for n, (starred, assigned, status, read) in enumerate(
        [
            (1, "aysel", "in_progress", False),
            (1, None, "new", True),
            (0, "aysel", "closed", True),
            (0, None, "in_progress", False),
            (1, "aysel", "in_progress", True),
        ]
    ):
        source_id = _add(conn, n, f"2026-11-0{n + 1}", starred=starred, assigned=assigned)
        conn.execute("UPDATE sources SET case_status = ? WHERE id = ?", (status, source_id))
        if read:
            conn.execute("UPDATE items SET staff_read = 1 WHERE source_id = ?", (source_id,))
        made[n] = source_id

    def shown(**kw: object) -> set[int]:
        rows = inbox.page(conn, filters=inbox.Filters(**kw)).rows  # type: ignore[arg-type]
        return {n for n, i in made.items() if i in {r.id for r in rows}}

    assert shown() == {0, 1, 2, 3, 4}
    assert shown(unread=True) == {0, 3}
    assert shown(starred=True) == {0, 1, 4}
    assert shown(assigned="aysel") == {0, 2, 4}
    assert shown(assigned=inbox.UNASSIGNED) == {1, 3}
    assert shown(status="in_progress") == {0, 3, 4}
    assert shown(status="referred") == set()
    assert shown(unread=True, starred=True) == {0}
    assert shown(starred=True, status="in_progress") == {0, 4}
    assert shown(assigned="aysel", status="in_progress", unread=False) == {0, 4}
    assert shown(assigned=inbox.UNASSIGNED, unread=True, status="in_progress") == {3}
    assert shown(unread=True, starred=True, assigned="aysel", status="in_progress") == {0}
    # the status is on every row, and filters page like the unfiltered inbox
    assert {r.case_status for r in inbox.page(conn).rows} == {"new", "in_progress", "closed"}
    first = inbox.page(conn, filters=inbox.Filters(status="in_progress"), limit=2)
    assert first.next_cursor is not None
    rest = inbox.page(
        conn, filters=inbox.Filters(status="in_progress"), cursor=first.next_cursor, limit=2
    )
    seen = [r.id for r in first.rows + rest.rows]
    assert sorted(seen) == sorted([made[0], made[3], made[4]]) and rest.next_cursor is None


def test_the_database_refuses_an_unknown_case_status(conn) -> None:  # type: ignore[no-untyped-def]
    source_id = _add(conn, 1, "2026-11-01")
    with pytest.raises(Exception, match="CHECK"):
        conn.execute("UPDATE sources SET case_status = 'lost' WHERE id = ?", (source_id,))
