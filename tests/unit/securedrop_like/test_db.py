"""The SQLCipher database: keyed connections, safety PRAGMAs, versioned migrations."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from securedrop_like import db
from securedrop_like.db import DatabaseError
from tests.conftest import Instance

MARKER = "plaintext-marker-4f1c9a"


@pytest.fixture
def key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "db.sqlite"


@pytest.fixture
def conn(path: Path, key: bytes) -> Iterator[db.Connection]:
    connection = db.connect(path, key)
    yield connection
    connection.close()


def _fake_migrations(monkeypatch: pytest.MonkeyPatch, folder: Path, files: dict[str, str]) -> None:
    """Point migrations() at our own folder instead of the package's."""
    (folder / "migrations").mkdir()
    for name, sql in files.items():
        (folder / "migrations" / name).write_text(sql, encoding="utf-8")
    monkeypatch.setattr(importlib.resources, "files", lambda _package: folder)


def test_shipped_migrations_are_numbered_one_to_n() -> None:
    found = db.migrations()
    assert found, "the package ships no migration"
    assert [version for version, _, _ in found] == list(range(1, len(found) + 1))
    assert all(db.MIGRATION_RE.match(name) for _, name, _ in found)


def test_migrate_from_zero_sets_user_version_to_the_number_of_migrations(
    conn: db.Connection,
) -> None:
    assert db.schema_version(conn) == 0
    assert db.migrate(conn) == len(db.migrations())
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(db.migrations())
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sources", "items", "retractions", "reviewer_keys"} <= tables


def test_migrate_is_idempotent(conn: db.Connection) -> None:
    first = db.migrate(conn)
    schema = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    assert db.migrate(conn) == first
    assert db.schema_version(conn) == first
    assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema


def test_migrate_to_target_zero_leaves_a_new_database_at_version_zero(
    conn: db.Connection,
) -> None:
    assert db.migrate(conn, target=0) == 0
    assert db.schema_version(conn) == 0
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_migrations_with_a_gap_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_migrations(
        monkeypatch, tmp_path, {"0001_a.sql": "CREATE TABLE a (x);", "0003_c.sql": "SELECT 1;"}
    )
    with pytest.raises(DatabaseError, match="without gaps"):
        db.migrations()


def test_a_failing_migration_rolls_back_alone_and_keeps_the_earlier_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, conn: db.Connection
) -> None:
    _fake_migrations(
        monkeypatch,
        tmp_path,
        {
            "0001_first.sql": "CREATE TABLE a (x);",
            "0002_broken.sql": "CREATE TABLE b (x);\nINSERT INTO missing VALUES (1);",
        },
    )
    with pytest.raises(DatabaseError, match="0002_broken.sql"):
        db.migrate(conn)
    assert db.schema_version(conn) == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"a"}


def test_comments_are_stripped_when_splitting_a_migration() -> None:
    sql = "-- a comment; with a semicolon\nCREATE TABLE a (x); -- trailing\n\nSELECT 1;"
    assert db._split_sql(sql) == ["CREATE TABLE a (x)", "SELECT 1"]


def test_a_connection_with_the_wrong_key_raises_database_error(
    path: Path, conn: db.Connection
) -> None:
    db.migrate(conn)
    conn.close()
    with pytest.raises(DatabaseError, match="wrong key"):
        db.connect(path, secrets.token_bytes(32))


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_a_key_that_is_not_32_bytes_is_refused(path: Path, length: int) -> None:
    with pytest.raises(DatabaseError, match="32 bytes"):
        db.connect(path, b"k" * length)
    assert not path.exists()


def test_the_file_on_disk_is_not_plaintext_sqlite(
    path: Path, key: bytes, conn: db.Connection
) -> None:
    db.migrate(conn)
    conn.execute(
        "INSERT INTO reviewer_keys (key_id, name, public_key, added_day) VALUES (?, ?, ?, ?)",
        ("k1", MARKER, b"\x01" * 32, "2024-01-01"),
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = path.read_bytes()
    assert len(raw) > 0
    assert not raw.startswith(b"SQLite format 3")
    assert MARKER.encode() not in raw
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or MARKER.encode() not in wal.read_bytes()
    # …and the right key still reads it back.
    again = db.connect(path, key)
    try:
        assert again.execute("SELECT name FROM reviewer_keys").fetchone()[0] == MARKER
    finally:
        again.close()


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [("journal_mode", "wal"), ("secure_delete", 1), ("foreign_keys", 1), ("synchronous", 2)],
)
def test_connections_carry_the_safety_pragmas(
    conn: db.Connection, pragma: str, expected: object
) -> None:
    assert conn.execute(f"PRAGMA {pragma}").fetchone()[0] == expected


def test_today_with_an_injected_clock_is_the_day_only() -> None:
    moment = dt.datetime(2024, 3, 5, 23, 59, 58, 123456, tzinfo=dt.UTC)
    assert db.today(lambda: moment) == "2024-03-05"


def test_today_without_a_clock_is_a_utc_day() -> None:
    before = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    value = db.today()
    after = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    assert value in {before, after}
    assert dt.datetime.strptime(value, "%Y-%m-%d")


def test_today_converts_an_aware_clock_to_the_utc_day() -> None:
    baku = dt.timezone(dt.timedelta(hours=4))
    # 01:00 in Baku on 6 March is 21:00 UTC on 5 March.
    assert db.today(lambda: dt.datetime(2024, 3, 6, 1, 0, tzinfo=baku)) == "2024-03-05"


def test_database_reuses_one_reader_per_thread_and_closes_them_all(path: Path, key: bytes) -> None:
    database = db.Database(path, key)
    mine = database.reader()
    assert database.reader() is mine
    other: list[db.Connection] = []
    thread = threading.Thread(target=lambda: other.append(database.reader()))
    thread.start()
    thread.join()
    assert other[0] is not mine
    database.close()
    with pytest.raises(Exception, match="closed"):
        mine.execute("SELECT 1")
    fresh = database.reader()
    assert fresh is not mine
    database.close()


def test_database_for_config_opens_the_instance_database(instance: Instance) -> None:
    database = db.Database.for_config(instance.config)
    try:
        assert db.schema_version(database.reader()) == len(db.migrations())
    finally:
        database.close()
