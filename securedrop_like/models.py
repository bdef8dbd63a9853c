"""Rows and the SQL that reads and writes them. No text a source typed is here.

Write functions take the writer's connection and run inside its transaction
(see writer.py); read functions take any connection.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from . import store
from .db import Connection
from .errors import MissingBlob
from .store import new_id

ITEM_KINDS = ("report", "message", "file", "reply")


@dataclass(frozen=True)
class Source:
    id: str
    lookup_id: str
    public_key: bytes
    designation: str
    channel: str
    created_day: str
    activity_day: str
    has_replies: bool


@dataclass(frozen=True)
class Item:
    id: str
    source_id: str
    seq: int
    kind: str
    parent_id: str | None
    day: str
    size: int
    is_inline: bool
    author: str | None
    staff_read: bool
    source_read: bool


@dataclass(frozen=True)
class NewItem:
    """An item to record. Its ciphertext is ``inline`` (kept in the item row),
    or ``blob`` (written as chunked rows in the same transaction), or neither:
    then it is an upload already in the database as an unclaimed blob with
    the item's id, which the insert claims (or refuses, if it is gone)."""

    kind: str
    size: int
    item_id: str = ""
    inline: bytes | None = None
    parent_id: str | None = None
    author: str | None = None
    blob: bytes | None = None


@dataclass(frozen=True)
class Retraction:
    id: str
    designation: str
    day: str
    item_ids: list[str]


_SOURCE_COLS = (
    "id, lookup_id, public_key, designation, channel, created_day, activity_day, has_replies"
)
_ITEM_COLS = (
    "id, source_id, seq, kind, parent_id, day, size, inline IS NOT NULL, author,"
    " staff_read, source_read"
)


def _source(row: Any) -> Source | None:
    if row is None:
        return None
    return Source(
        id=str(row[0]),
        lookup_id=str(row[1]),
        public_key=bytes(row[2]),
        designation=str(row[3]),
        channel=str(row[4]),
        created_day=str(row[5]),
        activity_day=str(row[6]),
        has_replies=bool(row[7]),
    )


def _item(row: tuple[object, ...]) -> Item:
    values = list(row)
    for i in (7, 9, 10):
        values[i] = bool(values[i])
    return Item(*values)  # type: ignore[arg-type]


def new_designation() -> str:
    """A random handle staff use for a source. Never derived from her codename."""
    return secrets.token_hex(6)


# -- reads -----------------------------------------------------------------------------


def source_by_lookup(conn: Connection, lookup_id: str) -> Source | None:
    row = conn.execute(
        f"SELECT {_SOURCE_COLS} FROM sources WHERE lookup_id = ?",  # noqa: S608 - constant
        (lookup_id,),
    ).fetchone()
    return _source(row)


def source_by_id(conn: Connection, source_id: str) -> Source | None:
    row = conn.execute(
        f"SELECT {_SOURCE_COLS} FROM sources WHERE id = ?",  # noqa: S608 - constant
        (source_id,),
    ).fetchone()
    return _source(row)


def items_of(conn: Connection, source_id: str) -> list[Item]:
    rows = conn.execute(
        f"SELECT {_ITEM_COLS} FROM items WHERE source_id = ? ORDER BY seq",  # noqa: S608
        (source_id,),
    ).fetchall()
    return [_item(r) for r in rows]


def item_of(conn: Connection, source_id: str, item_id: str) -> Item | None:
    row = conn.execute(
        f"SELECT {_ITEM_COLS} FROM items WHERE source_id = ? AND id = ?",  # noqa: S608
        (source_id, item_id),
    ).fetchone()
    return _item(row) if row else None


def inline_ciphertext(conn: Connection, item_id: str) -> bytes | None:
    row = conn.execute("SELECT inline FROM items WHERE id = ?", (item_id,)).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


def retractions(conn: Connection) -> list[Retraction]:
    rows = conn.execute("SELECT id, designation, day, item_ids FROM retractions ORDER BY day")
    return [Retraction(r[0], r[1], r[2], json.loads(r[3])) for r in rows.fetchall()]


def count_sources(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM sources").fetchone()[0])


# -- writes (inside the writer's transaction) ------------------------------------------


def insert_source(
    conn: Connection, *, lookup_id: str, public_key: bytes, day: str, channel: str = "web"
) -> str:
    source_id = new_id()
    conn.execute(
        "INSERT INTO sources (id, lookup_id, public_key, designation, channel, created_day,"
        " activity_day) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (source_id, lookup_id, public_key, new_designation(), channel, day, day),
    )
    return source_id


def rekey_source(conn: Connection, source_id: str, *, lookup_id: str, public_key: bytes) -> None:
    """Give a source a new codename (before anything was sealed to the old key)."""
    cur = conn.execute(
        "UPDATE sources SET lookup_id = ?, public_key = ? WHERE id = ? AND has_replies = 0",
        (lookup_id, public_key, source_id),
    )
    if cur.rowcount != 1:
        raise LookupError("source cannot be re-keyed")


def insert_items(conn: Connection, source_id: str, day: str, items: list[NewItem]) -> list[str]:
    """Record items for a source in order; returns their ids (LookupError if she is
    gone, :class:`MissingBlob` if an upload it claims is not there)."""
    result = insert_items_many(conn, [(source_id, day, items)])[0]
    if isinstance(result, BaseException):
        raise result
    return result


_VALUE_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_FROM_VALUES = """
WITH v(id, source_id, off, kind, parent_id, day, size, inline, author, source_read)
AS (VALUES {rows})
INSERT INTO items (id, source_id, seq, kind, parent_id, day, size, inline, author,
                   staff_read, source_read)
SELECT v.id, v.source_id, s.next_seq + v.off, v.kind, v.parent_id, v.day, v.size, v.inline,
       v.author, 0, v.source_read
FROM v JOIN sources AS s ON s.id = v.source_id
"""
_ADVANCE_SOURCES = """
WITH t(id, n, day, replies) AS (VALUES {rows})
UPDATE sources SET next_seq = next_seq + t.n, activity_day = t.day,
                   has_replies = has_replies OR t.replies
FROM t WHERE sources.id = t.id
"""


class VanishedSource(LookupError):
    """A source withdrew while her message was on its way to the database."""


def insert_items_many(
    conn: Connection, args: list[tuple[str, str, list[NewItem]]]
) -> list[list[str] | BaseException]:
    """:func:`insert_items` for many (source id, day, items) at once, in two statements.

    Used by the group-commit writer: every statement costs a round trip for
    the GIL, so the sequence numbers are read and assigned inside SQL (an
    INSERT … SELECT joined with ``sources``) rather than fetched first.
    Raises :class:`VanishedSource` if any source is gone (the writer then
    retries each argument alone, so only hers fails). An argument whose
    uploads are not all there (unclaimed and complete) writes nothing and gets
    a :class:`MissingBlob` as its result.
    """
    rows: list[object] = []
    per_source: dict[str, tuple[int, str, int]] = {}
    results: list[list[str] | BaseException] = []
    blobs: list[tuple[str, bytes]] = []
    for source_id, day, items in args:
        uploads = {i.item_id: i.size for i in items if i.inline is None and i.blob is None}
        missing = store.claim(conn, uploads)
        if missing:
            results.append(MissingBlob(missing))
            continue
        count, _, replies = per_source.get(source_id, (0, day, 0))
        ids = []
        for offset, item in enumerate(items, start=count):
            if item.kind not in ITEM_KINDS:
                raise ValueError(f"unknown item kind {item.kind!r}")
            item_id = item.item_id or new_id()
            if item.blob is not None:
                blobs.append((item_id, item.blob))
            rows += [
                item_id,
                source_id,
                offset,
                item.kind,
                item.parent_id,
                day,
                item.size,
                item.inline,
                item.author,
                0 if item.kind == "reply" else 1,
            ]
            ids.append(item_id)
            replies |= item.kind == "reply"
        per_source[source_id] = (count + len(items), day, replies)
        results.append(ids)
    expected = len(rows) // 10
    if expected:
        sql = _INSERT_FROM_VALUES.format(rows=", ".join([_VALUE_ROW] * expected))
        if conn.execute(sql, rows).rowcount != expected:
            raise VanishedSource("no such source")
    params: list[object] = []
    for source_id, (count, day, replies) in per_source.items():
        params += [source_id, count, day, replies]
    if params:
        sql = _ADVANCE_SOURCES.format(rows=", ".join(["(?, ?, ?, ?)"] * len(per_source)))
        if conn.execute(sql, params).rowcount != len(per_source):
            raise VanishedSource("no such source")
    for item_id, data in blobs:
        store.insert_blob(conn, item_id, data)
    return results


def mark_source_read(conn: Connection, source_id: str, item_ids: list[str]) -> None:
    conn.executemany(
        "UPDATE items SET source_read = 1 WHERE source_id = ? AND id = ?",
        [(source_id, i) for i in item_ids],
    )


def delete_item(conn: Connection, source_id: str, item_id: str, kinds: tuple[str, ...]) -> Item:
    """Delete one item of the given kinds, with its ciphertext; returns it."""
    item = item_of(conn, source_id, item_id)
    if item is None or item.kind not in kinds:
        raise LookupError("no such item")
    conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
    store.delete_blobs(conn, [item_id])
    return item


def delete_items(
    conn: Connection, source_id: str, item_ids: list[str]
) -> tuple[list[str], list[str]]:
    """Staff delete some of a source's items (any kind; ids not hers are ignored).

    Returns the ids deleted and, of those, the ones whose ciphertext was a
    blob (deleted with them, in this transaction).
    """
    wanted = set(item_ids)
    doomed = [i for i in items_of(conn, source_id) if i.id in wanted]
    conn.executemany("DELETE FROM items WHERE id = ?", [(i.id,) for i in doomed])
    store.delete_blobs(conn, [i.id for i in doomed if not i.is_inline])
    return [i.id for i in doomed], [i.id for i in doomed if not i.is_inline]


def delete_source(conn: Connection, source_id: str) -> None:
    """Staff delete a source and all her items with their ciphertexts (no
    retraction: she did not withdraw)."""
    if source_by_id(conn, source_id) is None:
        raise LookupError("no such source")
    store.delete_blobs(conn, [i.id for i in items_of(conn, source_id) if not i.is_inline])
    conn.execute("DELETE FROM items WHERE source_id = ?", (source_id,))
    conn.execute("DELETE FROM consent_decisions WHERE source_id = ?", (source_id,))
    _delete_channel_rows(conn, source_id)
    conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))


def _delete_channel_rows(conn: Connection, source_id: str) -> None:
    """Her thread (with its sealed address) and what is queued to her: the foreign keys
    cascade too, but said here so that it does not hang on a PRAGMA."""
    conn.execute("DELETE FROM outbox WHERE source_id = ?", (source_id,))
    conn.execute("DELETE FROM channel_threads WHERE source_id = ?", (source_id,))


def source_by_designation(conn: Connection, designation: str) -> Source | None:
    row = conn.execute(
        f"SELECT {_SOURCE_COLS} FROM sources WHERE designation = ?",  # noqa: S608 - constant
        (designation,),
    ).fetchone()
    return _source(row)


def existing_item_ids(conn: Connection, item_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT id FROM items WHERE id IN ({marks})",  # noqa: S608 - placeholders only
            chunk,
        ).fetchall()
        found.update(r[0] for r in rows)
    return found


def withdraw(conn: Connection, source_id: str, day: str) -> Retraction:
    """Delete a source and all her items with their ciphertexts, in this
    transaction; record a retraction for reviewers and return it."""
    source = source_by_id(conn, source_id)
    if source is None:
        raise LookupError("no such source")
    items = items_of(conn, source_id)
    retraction = Retraction(new_id(), source.designation, day, [i.id for i in items])
    conn.execute(
        "INSERT INTO retractions (id, designation, day, item_ids) VALUES (?, ?, ?, ?)",
        (retraction.id, retraction.designation, retraction.day, json.dumps(retraction.item_ids)),
    )
    conn.execute("DELETE FROM items WHERE source_id = ?", (source_id,))
    conn.execute("DELETE FROM consent_decisions WHERE source_id = ?", (source_id,))
    _delete_channel_rows(conn, source_id)
    conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))
    store.delete_blobs(conn, [i.id for i in items if not i.is_inline])
    return retraction


# -- consent decisions -----------------------------------------------------------------

CONSENT_DECISIONS = ("approve", "refuse")  # the same as bundles.CONSENT_DECISIONS


@dataclass(frozen=True)
class Consent:
    """Her latest decision about one draft: publish it ("approve") or not ("refuse")."""

    draft_id: str
    decision: str
    day: str


def consent_of(conn: Connection, source_id: str) -> list[Consent]:
    rows = conn.execute(
        "SELECT draft_id, decision, day FROM consent_decisions WHERE source_id = ?"
        " ORDER BY day, draft_id",
        (source_id,),
    ).fetchall()
    return [Consent(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def set_consent(conn: Connection, source_id: str, draft_id: str, decision: str, day: str) -> None:
    """Record (or change) her decision; it travels in the next export."""
    if decision not in CONSENT_DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    if len(draft_id) != 32 or any(c not in "0123456789abcdef" for c in draft_id):
        raise ValueError("a draft id is 32 lowercase hex digits")
    if source_by_id(conn, source_id) is None:
        raise LookupError("no such source")
    conn.execute(
        "INSERT INTO consent_decisions (source_id, draft_id, decision, day, exported)"
        " VALUES (?, ?, ?, ?, 0) ON CONFLICT (source_id, draft_id) DO UPDATE SET"
        " decision = excluded.decision, day = excluded.day, exported = 0",
        (source_id, draft_id, decision, day),
    )


def sources_with_unexported_consent(conn: Connection) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT source_id FROM consent_decisions WHERE exported = 0 ORDER BY source_id"
    ).fetchall()
    return [str(r[0]) for r in rows]


def mark_consent_exported(conn: Connection, decisions: list[tuple[str, str, str, str]]) -> None:
    """(source id, draft id, decision, day) as an export carried them; a decision changed
    since stays unexported, for the next export."""
    conn.executemany(
        "UPDATE consent_decisions SET exported = 1"
        " WHERE source_id = ? AND draft_id = ? AND decision = ? AND day = ?",
        decisions,
    )


# -- reviewer keys ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewerKey:
    key_id: str
    name: str
    public_key: bytes
    added_day: str
    active: bool


def reviewer_keys(conn: Connection, active_only: bool = True) -> list[ReviewerKey]:
    sql = "SELECT key_id, name, public_key, added_day, active FROM reviewer_keys"
    if active_only:
        sql += " WHERE active = 1"
    rows = conn.execute(sql + " ORDER BY name").fetchall()
    return [ReviewerKey(r[0], r[1], bytes(r[2]), r[3], bool(r[4])) for r in rows]


def insert_reviewer_key(
    conn: Connection, *, key_id: str, name: str, public_key: bytes, day: str
) -> None:
    conn.execute(
        "INSERT INTO reviewer_keys (key_id, name, public_key, added_day) VALUES (?, ?, ?, ?)",
        (key_id, name, public_key, day),
    )


def set_reviewer_key_active(conn: Connection, key_id: str, active: bool) -> bool:
    """Retire a key (new items are no longer sealed to it) or bring it back; False if
    there is no such key."""
    cursor = conn.execute(
        "UPDATE reviewer_keys SET active = ? WHERE key_id = ?", (int(active), key_id)
    )
    return bool(cursor.rowcount == 1)


# -- the channels (issue 12; see intake_store.py and migration 0006) -------------------


@dataclass(frozen=True)
class ChannelThread:
    """A sender's thread: found by its keyed hash, never by her address."""

    thread_hash: str
    key_version: int
    source_id: str
    provider: str
    lang: str
    opt_in: bool
    address: bytes | None  # sealed to the channel key, bound to the thread (see intake_store)
    case_status: str


@dataclass(frozen=True)
class PendingPart:
    id: str
    n: int
    sealed: bytes
    address: bytes


@dataclass(frozen=True)
class OutboxRow:
    id: str
    source_id: str | None
    provider: str
    sealed: bytes
    attempts: int


_THREAD_COLS = (
    "t.thread_hash, t.key_version, t.source_id, t.provider, t.lang, t.opt_in, t.address,"
    " s.case_status"
)


def _thread(row: Any) -> ChannelThread:
    return ChannelThread(
        str(row[0]),
        int(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        bool(row[5]),
        bytes(row[6]) if row[6] is not None else None,
        str(row[7]),
    )


def thread_by_hash(conn: Connection, thread_hash: str) -> ChannelThread | None:
    row = conn.execute(
        f"SELECT {_THREAD_COLS} FROM channel_threads AS t JOIN sources AS s"  # noqa: S608
        " ON s.id = t.source_id WHERE t.thread_hash = ?",
        (thread_hash,),
    ).fetchone()
    return _thread(row) if row else None


def threads_of_source(conn: Connection, source_id: str) -> list[ChannelThread]:
    rows = conn.execute(
        f"SELECT {_THREAD_COLS} FROM channel_threads AS t JOIN sources AS s"  # noqa: S608
        " ON s.id = t.source_id WHERE t.source_id = ? ORDER BY t.opt_in DESC, t.thread_hash",
        (source_id,),
    ).fetchall()
    return [_thread(r) for r in rows]


def delivery_thread(conn: Connection, source_id: str) -> ChannelThread | None:
    """Her thread that replies are delivered through: opted in, address kept, case open."""
    for thread in threads_of_source(conn, source_id):
        if thread.opt_in and thread.address is not None and thread.case_status != "closed":
            return thread
    return None


def pending_thread_hashes(conn: Connection) -> list[str]:
    rows = conn.execute("SELECT DISTINCT thread_hash FROM intake_parts ORDER BY thread_hash")
    return [str(r[0]) for r in rows.fetchall()]


def pending_parts(conn: Connection, thread_hash: str) -> list[PendingPart]:
    rows = conn.execute(
        "SELECT id, n, sealed, address FROM intake_parts WHERE thread_hash = ? ORDER BY n",
        (thread_hash,),
    ).fetchall()
    return [PendingPart(str(r[0]), int(r[1]), bytes(r[2]), bytes(r[3])) for r in rows]


def outbox_rows(conn: Connection, provider: str | None = None, limit: int = 50) -> list[OutboxRow]:
    sql = "SELECT id, source_id, provider, sealed, attempts FROM outbox"
    params: tuple[Any, ...] = ()
    if provider is not None:
        sql += " WHERE provider = ?"
        params = (provider,)
    rows = conn.execute(sql + " ORDER BY attempts, id LIMIT ?", (*params, int(limit))).fetchall()
    return [
        OutboxRow(str(r[0]), None if r[1] is None else str(r[1]), str(r[2]), bytes(r[3]), int(r[4]))
        for r in rows
    ]


def case_status_of(conn: Connection, source_id: str) -> str | None:
    row = conn.execute("SELECT case_status FROM sources WHERE id = ?", (source_id,)).fetchone()
    return None if row is None else str(row[0])


def any_seen(conn: Connection, marks: list[str]) -> bool:
    if not marks:
        return False
    places = ", ".join("?" * len(marks))
    row = conn.execute(
        f"SELECT 1 FROM intake_seen WHERE mark IN ({places}) LIMIT 1",  # noqa: S608
        marks,
    ).fetchone()
    return row is not None


def insert_seen(conn: Connection, mark: str, day: str) -> None:
    conn.execute("INSERT INTO intake_seen (mark, day) VALUES (?, ?)", (mark, day))


def prune_seen(conn: Connection, before_day: str) -> int:
    return int(conn.execute("DELETE FROM intake_seen WHERE day < ?", (before_day,)).rowcount)


def move_thread(
    conn: Connection,
    current_hash: str,
    key_version: int,
    old_hashes: list[str],
    resealed_address: bytes | None,
) -> ChannelThread | None:
    """Move a thread and pending parts found under an older thread key to the current
    hash (a sealed address is replaced by ``resealed_address``, bound to the new hash);
    returns the thread under the current hash, if any."""
    for old in old_hashes:
        if old == current_hash:
            continue
        if thread_by_hash(conn, current_hash) is None:
            conn.execute(
                "UPDATE channel_threads SET thread_hash = ?, key_version = ?,"
                " address = CASE WHEN address IS NULL THEN NULL ELSE ? END"
                " WHERE thread_hash = ?",
                (current_hash, key_version, resealed_address, old),
            )
        else:  # both exist (cannot happen by our flows): the current one wins
            conn.execute("DELETE FROM channel_threads WHERE thread_hash = ?", (old,))
        offset = conn.execute(
            "SELECT coalesce(max(n), 0) FROM intake_parts WHERE thread_hash = ?", (current_hash,)
        ).fetchone()[0]
        conn.execute(
            "UPDATE intake_parts SET thread_hash = ?, n = n + ? WHERE thread_hash = ?",
            (current_hash, int(offset), old),
        )
    return thread_by_hash(conn, current_hash)


def insert_part(
    conn: Connection, part_id: str, thread_hash: str, sealed: bytes, address: bytes
) -> int:
    n = int(
        conn.execute(
            "SELECT coalesce(max(n), 0) + 1 FROM intake_parts WHERE thread_hash = ?",
            (thread_hash,),
        ).fetchone()[0]
    )
    conn.execute(
        "INSERT INTO intake_parts (id, thread_hash, n, sealed, address) VALUES (?, ?, ?, ?, ?)",
        (part_id, thread_hash, n, sealed, address),
    )
    return n


def insert_outbox(
    conn: Connection, rows: list[tuple[str, str | None, str, bytes]], day: str
) -> None:
    """(id, source id or None, provider, sealed) rows, queued on ``day`` (YYYY-MM-DD)."""
    conn.executemany(
        "INSERT INTO outbox (id, source_id, provider, sealed, attempts, day)"
        " VALUES (?, ?, ?, ?, 0, ?)",
        [(*row, day) for row in rows],
    )


def outbox_ids_present(conn: Connection, ids: list[str]) -> set[str]:
    """Which of ``ids`` are still queued (ids only: nothing is opened)."""
    present: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        places = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT id FROM outbox WHERE id IN ({places})",  # noqa: S608 - placeholders
            chunk,
        ).fetchall()
        present.update(str(r[0]) for r in rows)
    return present


def prune_outbox(conn: Connection, before_day: str) -> int:
    """Delete queued rows older than ``before_day`` (never delivered: a phone offline
    for good, a provider that keeps failing without counting)."""
    return int(conn.execute("DELETE FROM outbox WHERE day < ?", (before_day,)).rowcount)


def forget_addresses(conn: Connection, source_id: str) -> None:
    """Her case closed: her thread (the keyed hash that links her address to the case,
    and her sealed address) and everything queued to her go. A later message from her
    starts a new case with a new receipt."""
    conn.execute("DELETE FROM channel_threads WHERE source_id = ?", (source_id,))
    conn.execute("DELETE FROM outbox WHERE source_id = ?", (source_id,))


def delete_threads_not_under(conn: Connection, key_version: int) -> int:
    """Threads whose hash no kept thread key can make again (``sesim thread-key retire``)."""
    return int(
        conn.execute("DELETE FROM channel_threads WHERE key_version != ?", (key_version,)).rowcount
    )


def delivery_channel(conn: Connection, source_id: str) -> str | None:
    """The provider her replies go through (see intake_store.delivery_channel)."""
    thread = delivery_thread(conn, source_id)
    return thread.provider if thread else None
