"""The map's own database: plain SQLite (everything in it is public).

Tables: ``entries`` (every field of a published entry, plus the bundle ``sequence`` that
added it), ``entry_types`` (an entry's types: a list, so a join table), ``retractions``
(every retracted id and the bundle that retracted it; the retracted entry's row is
deleted, its text is not kept: ``secure_delete`` zeroes it, ``truncate_wal`` empties the
WAL), ``bundles`` (one row per applied bundle) and ``chain``
(per verify key: the last sequence and SHA-256 applied, and the day). Indexes serve the
site's filters (type, month, district, service, perpetrator type) and the list's order.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from securedrop_like.db import immediate

DB_FILE = "map.sqlite3"
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    district TEXT,
    point_kind TEXT,
    lat_e6 INTEGER,
    lon_e6 INTEGER,
    month TEXT,
    perpetrator TEXT,
    service TEXT,
    language TEXT NOT NULL,
    summary TEXT NOT NULL,
    story TEXT,
    sequence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entry_types (
    entry_id TEXT NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    PRIMARY KEY (entry_id, type)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entry_types_by_type ON entry_types(type, entry_id);
CREATE INDEX IF NOT EXISTS entries_by_month ON entries(month);
-- The list's and the stories' order (newest month first, no month last, then id).
CREATE INDEX IF NOT EXISTS entries_in_list_order ON entries(COALESCE(month, '') DESC, id);
CREATE INDEX IF NOT EXISTS entries_by_district ON entries(district);
CREATE INDEX IF NOT EXISTS entries_by_service ON entries(service);
CREATE INDEX IF NOT EXISTS entries_by_perpetrator ON entries(perpetrator);
CREATE TABLE IF NOT EXISTS retractions (
    id TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL,
    known INTEGER NOT NULL  -- 1 if the map held the entry when it was retracted
);
CREATE TABLE IF NOT EXISTS bundles (
    sequence INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    created_day TEXT NOT NULL,
    applied_day TEXT NOT NULL,
    entries INTEGER NOT NULL,
    retractions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chain (
    verify_key TEXT PRIMARY KEY,
    last_sequence INTEGER NOT NULL,
    last_sha256 TEXT,
    applied_day TEXT
);
"""


@dataclass(frozen=True)
class ChainState:
    """Where the chain stands: ``last_sequence`` 0 and ``last_sha256`` None before the
    first bundle."""

    verify_key: str
    last_sequence: int
    last_sha256: str | None
    applied_day: str | None


#: Seconds a connection waits for another process's write lock before "database is
#: locked" (ingest answers "busy, try again"; tests set it short).
BUSY_TIMEOUT = 30.0


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit: ``db.immediate``).
    ``secure_delete`` is set, not left to how SQLite was compiled: a retracted entry's
    row is overwritten with zeros, so her text does not linger in free pages of the
    database file (or in the pages the WAL carries back to it)."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def create(path: Path, verify_key_text: str) -> None:
    """Make the database with the chain at its start, for this verify key."""
    conn = connect(path)
    try:
        conn.executescript(SCHEMA)  # IF NOT EXISTS: safe to run again
        with immediate(conn):
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute(
                "INSERT OR IGNORE INTO chain (verify_key, last_sequence, last_sha256, applied_day)"
                " VALUES (?, 0, NULL, NULL)",
                (verify_key_text,),
            )
    finally:
        conn.close()


def truncate_wal(path: Path) -> bool:
    """Copy the WAL into the database and empty the WAL file. After a bundle that
    retracts entries: the frames that inserted them stay in the WAL file (and old frames
    beyond its end after a restart) while any connection holds the database open, the
    server's readers included. Waits for readers in a transaction (the busy timeout);
    True if done, False if one held on (the next call, or the last close, does it)."""
    conn = connect(path)
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        return bool(busy == 0)
    finally:
        conn.close()


def chain_state(conn: sqlite3.Connection, verify_key_text: str) -> ChainState:
    row = conn.execute(
        "SELECT verify_key, last_sequence, last_sha256, applied_day FROM chain"
        " WHERE verify_key = ?",
        (verify_key_text,),
    ).fetchone()
    if row is None:
        return ChainState(verify_key_text, 0, None, None)
    return ChainState(row[0], row[1], row[2], row[3])


def dump(conn: sqlite3.Connection) -> list[str]:
    """Every row of every table, as text (tests compare it before and after a refusal)."""
    return list(conn.iterdump())
