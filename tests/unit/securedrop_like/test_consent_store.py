"""Consent decisions in the server's database (migration 4) and its writer commands."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from securedrop_like import bundles, commands, db, models

DRAFT = "ab" * 16
OTHER_DRAFT = "cd" * 16


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[db.Connection]:
    connection = db.connect(tmp_path / "db.sqlite", secrets.token_bytes(32))
    db.migrate(connection)
    yield connection
    connection.close()


def _source(conn: db.Connection) -> str:
    return models.insert_source(
        conn, lookup_id=secrets.token_hex(32), public_key=b"\x01" * 32, day="2024-06-01"
    )


def _rows(conn: db.Connection) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in conn.execute("SELECT * FROM consent_decisions ORDER BY draft_id").fetchall()
    ]


def test_the_latest_decision_counts_and_becomes_unexported_again(conn: db.Connection) -> None:
    her = _source(conn)
    commands.set_consent(conn, (her, DRAFT, "approve", "2024-06-01"))
    commands.set_consent(conn, (her, OTHER_DRAFT, "refuse", "2024-06-01"))
    assert models.sources_with_unexported_consent(conn) == [her]
    commands.mark_consent_exported(conn, ([(her, DRAFT, "approve", "2024-06-01")],))
    commands.set_consent(conn, (her, DRAFT, "refuse", "2024-06-02"))  # she changed her mind
    assert _rows(conn) == [
        (her, DRAFT, "refuse", "2024-06-02", 0),
        (her, OTHER_DRAFT, "refuse", "2024-06-01", 0),
    ]
    # An export planned before her change marks only what it carried.
    commands.mark_consent_exported(
        conn,
        ([(her, DRAFT, "approve", "2024-06-01"), (her, OTHER_DRAFT, "refuse", "2024-06-01")],),
    )
    assert [r[-1] for r in _rows(conn)] == [0, 1]
    assert [c.decision for c in models.consent_of(conn, her)] == ["refuse", "refuse"]


@pytest.mark.parametrize(
    ("draft_id", "decision", "error"),
    [
        (DRAFT, "maybe", ValueError),
        ("AB" * 16, "approve", ValueError),
        ("ab", "approve", ValueError),
        (DRAFT, "approve", LookupError),  # no such source
    ],
)
def test_bad_decisions_are_refused(
    conn: db.Connection, draft_id: str, decision: str, error: type[Exception]
) -> None:
    source = "0" * 32 if error is LookupError else _source(conn)
    with pytest.raises(error):
        commands.set_consent(conn, (source, draft_id, decision, "2024-06-01"))
    assert _rows(conn) == []


@pytest.mark.parametrize("how", ["withdraw", "delete_source"])
def test_her_decisions_go_with_her(conn: db.Connection, how: str) -> None:
    her, other = _source(conn), _source(conn)
    commands.set_consent(conn, (her, DRAFT, "approve", "2024-06-01"))
    commands.set_consent(conn, (other, DRAFT, "refuse", "2024-06-01"))
    if how == "withdraw":
        commands.withdraw(conn, (her, "2024-06-02"))
    else:
        commands.delete_source(conn, (her,))
    assert [r[0] for r in _rows(conn)] == [other]


def test_the_server_and_the_format_share_the_decisions() -> None:
    assert models.CONSENT_DECISIONS == bundles.CONSENT_DECISIONS
