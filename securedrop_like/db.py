"""The SQLCipher database: one function opens it, migrations are versioned.

The SQLCipher key PRAGMA lives in :func:`connect` and nowhere else. We use a
raw 256-bit key (``x'…'``) read from ``secrets/db.key`` rather than a
passphrase, so opening a connection costs no PBKDF2 and the key file is the
only thing that opens the database. This is defence in depth for backups and
discarded disks; reports themselves are envelope-encrypted to keys the server
never holds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.resources
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlcipher3

from .config import Config

Connection = Any  # sqlcipher3 ships no type information
MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseError(Exception):
    """The database could not be opened (wrong key, corrupt file) or migrated."""


def today(clock: Callable[[], dt.datetime] | None = None) -> str:
    """The current UTC day, the finest time grain Səsim ever stores."""
    now = clock() if clock else dt.datetime.now(dt.UTC)
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC)
    return now.strftime("%Y-%m-%d")


@contextlib.contextmanager
def immediate(conn: Any) -> Iterator[Any]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception: the write lock
    is held from the first read to the commit (SQLCipher or plain SQLite alike)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def connect(db_path: Path, key: bytes, *, check_same_thread: bool = True) -> Connection:
    """Open a SQLCipher connection with the key and the safety PRAGMAs.

    ``secure_delete`` zeroes freed pages so deleted ciphertexts and rows do
    not linger in the file; WAL lets readers run beside the single writer.
    """
    if len(key) != 32:
        raise DatabaseError("the database key must be 32 bytes")
    conn = sqlcipher3.connect(
        str(db_path), isolation_level=None, check_same_thread=check_same_thread, timeout=30
    )
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")  # noqa: S608 - hex of our own key
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError as exc:
        conn.close()
        raise DatabaseError("cannot open the database: wrong key or not a database") from exc
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


def migrations() -> list[tuple[int, str, str]]:
    """All migrations shipped with the package, in order: (version, name, sql)."""
    found = []
    folder = importlib.resources.files("securedrop_like") / "migrations"
    for entry in folder.iterdir():
        match = MIGRATION_RE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise DatabaseError(f"migrations must be numbered 1..n without gaps: {versions}")
    return found


def schema_version(conn: Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: Connection, target: int | None = None) -> int:
    """Apply pending migrations, each in its own transaction. Returns the version."""
    current = schema_version(conn)
    for version, name, sql in migrations():
        if version <= current or (target is not None and version > target):
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _split_sql(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version:d}")
            conn.execute("COMMIT")
        except sqlcipher3.Error as exc:
            conn.execute("ROLLBACK")
            raise DatabaseError(f"migration {name} failed: {exc}") from exc
        current = version
    return current


def _split_sql(sql: str) -> list[str]:
    """Statements of a migration file. Migrations keep ``--`` and ``;`` out of strings."""
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return [part.strip() for part in without_comments.split(";") if part.strip()]


class Database:
    """Connections to one instance's database.

    Readers get one connection per thread, reused across requests: opening a
    SQLCipher connection costs far more than a query, and the gthread server
    keeps a fixed pool of threads. All writes go through
    :class:`securedrop_like.writer.GroupCommitWriter`, which owns its own
    connection.
    """

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key
        self._local = threading.local()
        self._all: list[Connection] = []
        self._lock = threading.Lock()

    @classmethod
    def for_config(cls, config: Config) -> Database:
        return cls(config.db_path, config.read_secret(config.db_key_path))

    def open(self, *, check_same_thread: bool = True) -> Connection:
        """A new connection (the caller closes it)."""
        return connect(self.path, self._key, check_same_thread=check_same_thread)

    def reader(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.open(check_same_thread=False)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlcipher3.Error:  # pragma: no cover - closing anyway
                    pass
            self._all.clear()
        self._local = threading.local()
