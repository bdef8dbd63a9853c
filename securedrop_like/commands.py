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
from .db import today as db_today

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
    changed, read inside the same transaction so the audit says what it really was.
    Closing a case deletes her channel thread (the keyed hash of her address, and her
    sealed address) and what is queued to her (issue 12): a closed case gets no more
    messages on her phone, and nothing links her number to it any more (callers then
    checkpoint, see ReportService.set_case_status)."""
    source_ids, status = args
    changed: list[tuple[str, str]] = []
    for source_id in source_ids:
        row = conn.execute("SELECT case_status FROM sources WHERE id = ?", (source_id,)).fetchone()
        if row is not None and row[0] != status:
            conn.execute("UPDATE sources SET case_status = ? WHERE id = ?", (status, source_id))
            changed.append((source_id, str(row[0])))
        if row is not None and status == "closed":
            models.forget_addresses(conn, source_id)
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


# -- the channels (issue 12; see intake_store.py) ---------------------------------------
# Each is one transaction: a replay mark, her part or her thread, and what is queued to
# her are written together or not at all.

# A thread move: (current hash, key version, older hashes, address resealed for the
# current hash or None).
ThreadMove = tuple[str, int, list[str], bytes | None]
# An outbox row: (id, source id or None, provider, sealed).
OutboxTuple = tuple[str, str | None, str, bytes]

REPLAY = "replay"


def _seen_or_mark(conn: Connection, marks: list[str], day: str) -> bool:
    """True if a message with one of ``marks`` was stored before; else mark it (the
    first mark is the current key's)."""
    if models.any_seen(conn, list(marks)):
        return True
    models.insert_seen(conn, marks[0], day)
    return False


def _move(conn: Connection, move: ThreadMove) -> models.ChannelThread | None:
    current, version, old, resealed = move
    return models.move_thread(conn, current, version, list(old), resealed)


def intake_add_part(conn: Connection, args: tuple[Any, ...]) -> bool:
    """A pending part with its replay mark; False (nothing written) for a replay."""
    marks, day, move, part_id, sealed, address = args
    if _seen_or_mark(conn, marks, day):
        return False
    _move(conn, move)
    models.insert_part(conn, part_id, move[0], sealed, address)
    return True


def intake_opt_in(conn: Connection, args: tuple[Any, ...]) -> str:
    """YES: keep her sealed address on her thread and queue the confirmation ("opted_in"),
    or, with no thread or a closed case, store the message as a part ("part")."""
    marks, day, move, part, address_for_thread, provider, confirmation = args
    if _seen_or_mark(conn, marks, day):
        return REPLAY
    thread = _move(conn, move)
    if thread is None or thread.case_status == "closed":
        part_id, sealed, address = part
        models.insert_part(conn, part_id, move[0], sealed, address)
        return "part"
    conn.execute(
        "UPDATE channel_threads SET opt_in = 1, address = ?, provider = ? WHERE thread_hash = ?",
        (address_for_thread, provider, thread.thread_hash),
    )
    outbox_id, sealed_text = confirmation
    models.insert_outbox(conn, [(outbox_id, thread.source_id, provider, sealed_text)], day)
    return "opted_in"


def intake_withdraw(conn: Connection, args: tuple[Any, ...]) -> Any:
    """STOP: withdraw her source (if any) as the web does, delete her pending parts,
    thread and queue, and queue the confirmation (no source: it outlives her).
    Returns the retractions as plain tuples, or REPLAY."""
    marks, day, hashes, confirmation = args
    if _seen_or_mark(conn, marks, day):
        return REPLAY
    hashes = list(hashes)
    places = ", ".join("?" * len(hashes))
    sources = [
        str(r[0])
        for r in conn.execute(
            f"SELECT DISTINCT source_id FROM channel_threads WHERE thread_hash IN ({places})",  # noqa: S608
            hashes,
        ).fetchall()
    ]
    retractions = []
    for source_id in sources:
        r = models.withdraw(conn, source_id, day)
        retractions.append((r.id, r.designation, r.day, r.item_ids))
    conn.execute(f"DELETE FROM intake_parts WHERE thread_hash IN ({places})", hashes)  # noqa: S608
    conn.execute(f"DELETE FROM channel_threads WHERE thread_hash IN ({places})", hashes)  # noqa: S608
    outbox_id, no_source, provider, sealed = confirmation
    models.insert_outbox(conn, [(outbox_id, no_source, provider, sealed)], day)
    return retractions


FLUSH_GONE = "gone"  # the parts were flushed or withdrawn meanwhile
FLUSH_RETRY = "retry"  # her source went meanwhile: flush again (as a new source)


def intake_flush(conn: Connection, args: tuple[Any, ...]) -> str:
    """Join pending parts: a new source with her report (``new_source`` is (lookup id,
    public key, channel)) or a message to her known source; her thread; the parts
    deleted; the answers queued. Returns the source id, FLUSH_GONE or FLUSH_RETRY."""
    thread_hash, key_version, part_ids, new_source, known_source, items, day = args[:7]
    provider, lang, answers = args[7:]
    present = {
        str(r[0])
        for r in conn.execute(
            "SELECT id FROM intake_parts WHERE thread_hash = ?", (thread_hash,)
        ).fetchall()
    }
    if not set(part_ids) <= present or not part_ids:
        return FLUSH_GONE
    thread = models.thread_by_hash(conn, thread_hash)
    if known_source is not None:
        if thread is None or thread.source_id != known_source:
            return FLUSH_RETRY
        models.insert_items(conn, known_source, day, _items(items))
        source_id = known_source
        conn.execute(
            "UPDATE channel_threads SET provider = ?, lang = ?, key_version = ?"
            " WHERE thread_hash = ?",
            (provider, lang, key_version, thread_hash),
        )
    else:
        if thread is not None:
            return FLUSH_RETRY
        lookup_id, public_key, channel = new_source
        source_id = models.insert_source(
            conn, lookup_id=lookup_id, public_key=public_key, day=day, channel=channel
        )
        models.insert_items(conn, source_id, day, _items(items))
        conn.execute(
            "INSERT INTO channel_threads (thread_hash, key_version, source_id, provider, lang,"
            " opt_in, address) VALUES (?, ?, ?, ?, ?, 0, NULL)",
            (thread_hash, key_version, source_id, provider, lang),
        )
    conn.executemany("DELETE FROM intake_parts WHERE id = ?", [(p,) for p in part_ids])
    models.insert_outbox(
        conn, [(oid, source_id, prov, sealed) for oid, prov, sealed in answers], day
    )
    return str(source_id)


def insert_reply_and_queue(conn: Connection, args: tuple[Any, ...]) -> list[str]:
    """A staff reply, and (if her thread still takes replies) its delivery queued."""
    source_id, day, items, queued = args
    ids = models.insert_items(conn, source_id, day, _items(items))
    _queue_if_delivering(conn, [tuple(q) for q in queued], day)
    return ids


def store_replies_and_notify(conn: Connection, args: tuple[Any, ...]) -> list[list[str]]:
    """store_replies, plus the notices queued to those of them whose thread takes
    replies (checked again here, inside the transaction)."""
    per_source, notices = args
    results = store_replies(conn, (per_source,))
    day = max((str(d) for _, d, _ in per_source), default=db_today())
    _queue_if_delivering(conn, [tuple(n) for n in notices], day)
    return results


def _queue_if_delivering(conn: Connection, rows: list[Any], day: str) -> None:
    for outbox_id, source_id, provider, sealed in rows:
        if models.delivery_thread(conn, source_id) is not None:
            models.insert_outbox(conn, [(outbox_id, source_id, provider, sealed)], day)


def outbox_delete(conn: Connection, args: tuple[Any, ...]) -> int:
    (ids,) = args
    return sum(conn.execute("DELETE FROM outbox WHERE id = ?", (i,)).rowcount for i in ids)


def outbox_failed(conn: Connection, args: tuple[Any, ...]) -> bool:
    """Count a failed attempt; True if the row reached ``max_attempts`` and went."""
    outbox_id, max_attempts = args
    conn.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (outbox_id,))
    return bool(
        conn.execute(
            "DELETE FROM outbox WHERE id = ? AND attempts >= ?", (outbox_id, int(max_attempts))
        ).rowcount
    )


def outbox_drop_providers(conn: Connection, args: tuple[Any, ...]) -> int:
    """Delete queued rows of providers not in ``enabled`` (nobody will ever send them,
    and they hold her sealed address)."""
    (enabled,) = args
    enabled = list(enabled)
    if not enabled:
        return int(conn.execute("DELETE FROM outbox").rowcount)
    places = ", ".join("?" * len(enabled))
    return int(
        conn.execute(
            f"DELETE FROM outbox WHERE provider NOT IN ({places})",  # noqa: S608 - placeholders
            enabled,
        ).rowcount
    )


def outbox_prune(conn: Connection, args: tuple[Any, ...]) -> int:
    """Delete queued rows from before ``before_day`` (never delivered)."""
    (before_day,) = args
    return models.prune_outbox(conn, str(before_day))


def intake_prune_seen(conn: Connection, args: tuple[Any, ...]) -> int:
    (before_day,) = args
    return models.prune_seen(conn, before_day)


def retire_threads(conn: Connection, args: tuple[Any, ...]) -> int:
    (key_version,) = args
    return models.delete_threads_not_under(conn, key_version)


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
    "intake_add_part": intake_add_part,
    "intake_opt_in": intake_opt_in,
    "intake_withdraw": intake_withdraw,
    "intake_flush": intake_flush,
    "insert_reply_and_queue": insert_reply_and_queue,
    "store_replies_and_notify": store_replies_and_notify,
    "outbox_delete": outbox_delete,
    "outbox_failed": outbox_failed,
    "outbox_drop_providers": outbox_drop_providers,
    "outbox_prune": outbox_prune,
    "intake_prune_seen": intake_prune_seen,
    "retire_threads": retire_threads,
}
GROUPED: dict[str, Callable[[Connection, list[tuple[Any, ...]]], list[Any]]] = {
    "insert_items": insert_items,
}
# Commands that a transaction forbids.
OUTSIDE_TRANSACTION = frozenset({"checkpoint", "daily_vacuum"})
