"""Every database write a server makes, as a named command with plain-data arguments.

Plain data (strings, bytes, numbers, tuples) so that a command can run in
this process, through :class:`~securedrop_like.writer.GroupCommitWriter`, or
be sent to the server's writer process (see writer_process.py) that commits
the writes of all worker processes together. ``GROUPED`` commands take a
list of arguments and apply them in a few statements (see models.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import models, store
from .db import Connection

# An item as plain data: (kind, size, item_id, inline, parent_id, author, blob).
ItemTuple = tuple[str, int, str, bytes | None, str | None, str | None, bytes | None]


def item_tuple(item: models.NewItem) -> ItemTuple:
    return (
        item.kind,
        item.size,
        item.item_id,
        item.inline,
        item.parent_id,
        item.author,
        item.blob,
    )


def _items(raw: list[ItemTuple] | tuple[ItemTuple, ...]) -> list[models.NewItem]:
    return [models.NewItem(*fields) for fields in raw]


def create_source(conn: Connection, args: tuple[Any, ...]) -> str:
    lookup_id, public_key, day, channel, items = args
    source_id = models.insert_source(
        conn, lookup_id=lookup_id, public_key=public_key, day=day, channel=channel
    )
    models.insert_items(conn, source_id, day, _items(items))
    return source_id


def insert_items(conn: Connection, many: list[tuple[Any, ...]]) -> list[list[str] | BaseException]:
    return models.insert_items_many(
        conn, [(source_id, day, _items(items)) for source_id, day, items in many]
    )


def rekey(conn: Connection, args: tuple[Any, ...]) -> None:
    source_id, lookup_id, public_key = args
    models.rekey_source(conn, source_id, lookup_id=lookup_id, public_key=public_key)


def mark_read(conn: Connection, args: tuple[Any, ...]) -> None:
    source_id, item_ids = args
    models.mark_source_read(conn, source_id, list(item_ids))


def delete_item(conn: Connection, args: tuple[Any, ...]) -> None:
    source_id, item_id, kinds = args
    models.delete_item(conn, source_id, item_id, tuple(kinds))


def delete_items(conn: Connection, args: tuple[Any, ...]) -> tuple[list[str], list[str]]:
    source_id, item_ids = args
    return models.delete_items(conn, source_id, list(item_ids))


def delete_source(conn: Connection, args: tuple[Any, ...]) -> None:
    (source_id,) = args
    models.delete_source(conn, source_id)


def store_replies(conn: Connection, args: tuple[Any, ...]) -> list[list[str]]:
    """Replies from a reply bundle, for several sources, all or none (one SAVEPOINT)."""
    (per_source,) = args
    results = models.insert_items_many(
        conn, [(source_id, day, _items(items)) for source_id, day, items in per_source]
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


def put_blob(conn: Connection, args: tuple[Any, ...]) -> None:
    """A batch of an upload's ciphertext chunks (see store.put_chunks)."""
    blob_id, first, chunks, size, sha256 = args
    store.put_chunks(conn, blob_id, first, list(chunks), size, sha256)


def discard_uploads(conn: Connection, args: tuple[Any, ...]) -> int:
    """Delete uploads no submission claimed (kept files of an ended session,
    a refused form, the sweep); never a claimed ciphertext."""
    (ids,) = args
    return store.delete_unclaimed(conn, list(ids))


def set_reply_template(conn: Connection, args: tuple[Any, ...]) -> None:
    code, lang, body = args
    if body is None:
        conn.execute("DELETE FROM reply_templates WHERE code = ? AND lang = ?", (code, lang))
    else:
        conn.execute(
            "INSERT INTO reply_templates (code, lang, body) VALUES (?, ?, ?)"
            " ON CONFLICT (code, lang) DO UPDATE SET body = excluded.body",
            (code, lang, body),
        )


def withdraw(conn: Connection, args: tuple[Any, ...]) -> tuple[Any, ...]:
    source_id, day = args
    retraction = models.withdraw(conn, source_id, day)
    return (retraction.id, retraction.designation, retraction.day, retraction.item_ids)


def mark_staff_read(conn: Connection, args: tuple[Any, ...]) -> None:
    source_id, item_ids, read = args
    conn.executemany(
        "UPDATE items SET staff_read = ? WHERE source_id = ? AND id = ?",
        [(int(bool(read)), source_id, item_id) for item_id in item_ids],
    )


def mark_sources_staff_read(conn: Connection, args: tuple[Any, ...]) -> None:
    """Mark everything the given sources sent as read (or unread) by staff."""
    source_ids, read = args
    conn.executemany(
        "UPDATE items SET staff_read = ? WHERE source_id = ? AND kind != 'reply'",
        [(int(bool(read)), source_id) for source_id in source_ids],
    )


def set_stars(conn: Connection, args: tuple[Any, ...]) -> None:
    source_ids, starred = args
    conn.executemany(
        "UPDATE sources SET starred = ? WHERE id = ?",
        [(int(bool(starred)), source_id) for source_id in source_ids],
    )


def assign_many(conn: Connection, args: tuple[Any, ...]) -> None:
    source_ids, username = args
    conn.executemany(
        "UPDATE sources SET assigned_to = ? WHERE id = ?",
        [(username, source_id) for source_id in source_ids],
    )


def set_case_status(conn: Connection, args: tuple[Any, ...]) -> list[tuple[str, str]]:
    """Set the case status of the given sources; returns (id, old status) of each that
    changed, read inside the same transaction so the audit says what it really was."""
    source_ids, status = args
    changed: list[tuple[str, str]] = []
    for source_id in source_ids:
        row = conn.execute("SELECT case_status FROM sources WHERE id = ?", (source_id,)).fetchone()
        if row is not None and row[0] != status:
            conn.execute("UPDATE sources SET case_status = ? WHERE id = ?", (status, source_id))
            changed.append((source_id, str(row[0])))
    return changed


def mark_exported(conn: Connection, args: tuple[Any, ...]) -> None:
    (item_ids,) = args
    conn.executemany("UPDATE items SET exported = 1 WHERE id = ?", [(i,) for i in item_ids])


def set_consent(conn: Connection, args: tuple[Any, ...]) -> None:
    """Her decision about a draft (the caller checked it comes from a reply she opened)."""
    source_id, draft_id, decision, day = args
    models.set_consent(conn, source_id, draft_id, decision, day)


def mark_consent_exported(conn: Connection, args: tuple[Any, ...]) -> None:
    (decisions,) = args
    models.mark_consent_exported(conn, [tuple(d) for d in decisions])


def checkpoint(conn: Connection, args: tuple[Any, ...]) -> None:
    # Deleted pages may linger in the WAL file: fold it back and truncate it.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


VACUUM_RAN = "ran"
VACUUM_ALREADY = "already"  # this day's is done (by this server's writer or another's)
VACUUM_TOO_BIG = "too_big"  # skipped: over daily_vacuum_max_bytes


def database_bytes(conn: Connection) -> int:
    page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int(page_count) * int(page_size)


def daily_vacuum(conn: Connection, args: tuple[Any, ...]) -> str:
    """VACUUM, at most once a day across every process of the instance.

    New rows go to pages at the end of the file (or wherever free ones are),
    so page order follows arrival order; VACUUM rebuilds every table in key
    order, and the keys are random. What the day's arrivals wrote stays in
    arrival order until the next VACUUM: the finest a seized disk shows is
    the day. The writer process asks at its first turn after 00:00 UTC (never
    because of a submission); ``sesim vacuum`` asks with ``force``.

    The rebuild goes through a temporary file (unlinked at once by SQLite,
    encrypted with the database's key) in ``tmp_dir``, a 0700 folder inside
    the instance: ``PRAGMA temp_store_directory``, because SQLITE_TMPDIR is
    read only once per process, when SQLite initialises (checked with strace:
    a forked writer would still use /var/tmp). Above ``max_bytes`` (0: no
    limit) it is skipped, as writes would wait for minutes; the day is
    recorded all the same.
    """
    day, tmp_dir, max_bytes, force = args
    row = conn.execute("SELECT value FROM housekeeping WHERE key = 'vacuum_day'").fetchone()
    if not force and row is not None and row[0] >= day:
        return VACUUM_ALREADY
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO housekeeping (key, value) VALUES ('vacuum_day', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        (day,),
    )
    conn.execute("COMMIT")
    if not force and max_bytes and database_bytes(conn) > max_bytes:
        return VACUUM_TOO_BIG
    conn.execute("PRAGMA temp_store_directory = " + _sql_string(str(tmp_dir)))
    conn.execute("PRAGMA temp_store = FILE")
    try:
        conn.execute("VACUUM")
    finally:
        conn.execute("PRAGMA temp_store = MEMORY")
        # Even after a failed VACUUM (a full disk): give back the WAL's space.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return VACUUM_RAN


def _sql_string(value: str) -> str:
    # PRAGMA takes no bound parameters.
    return "'" + value.replace("'", "''") + "'"


COMMANDS: dict[str, Callable[[Connection, tuple[Any, ...]], Any]] = {
    "create_source": create_source,
    "rekey": rekey,
    "mark_read": mark_read,
    "delete_item": delete_item,
    "withdraw": withdraw,
    "delete_items": delete_items,
    "delete_source": delete_source,
    "store_replies": store_replies,
    "set_reply_template": set_reply_template,
    "checkpoint": checkpoint,
    "put_blob": put_blob,
    "discard_uploads": discard_uploads,
    "daily_vacuum": daily_vacuum,
    "set_stars": set_stars,
    "assign_many": assign_many,
    "set_case_status": set_case_status,
    "mark_sources_staff_read": mark_sources_staff_read,
    "mark_staff_read": mark_staff_read,
    "mark_exported": mark_exported,
    "set_consent": set_consent,
    "mark_consent_exported": mark_consent_exported,
}
GROUPED: dict[str, Callable[[Connection, list[tuple[Any, ...]]], list[Any]]] = {
    "insert_items": insert_items,
}
# Commands that a transaction forbids.
OUTSIDE_TRANSACTION = frozenset({"checkpoint", "daily_vacuum"})
