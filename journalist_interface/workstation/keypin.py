"""Her public key, pinned on first sight (review M1).

The server tells the workstation her public key in every export (version 2); replies are
sealed to it. A hostile or taken-over server could name its own key instead and read
every later reply. So the first key seen for a designation is kept, and a different key
in a later export is taken only while it cannot matter: no reply was ever sealed to the
old key on this workstation, and no reply from the server opened with it. Otherwise the
old key stays, the offered key is recorded in ``key_conflicts`` (a warning shown on her
case and by ``sesim workstation import``), and :func:`check_can_reply` refuses replies
to her until a reviewer who checked with her resolves it: :func:`accept_new_key` or
:func:`keep_old_key` (``sesim workstation accept-new-key CASE [--keep-old]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto import PublicKey
from securedrop_like.db import today

from .casestore import Connection
from .errors import WorkstationError

__all__ = [
    "KeyChanged",
    "KeyConflict",
    "accept_new_key",
    "check_can_reply",
    "key_conflict",
    "keep_old_key",
    "key_in_use",
    "pin_source_key",
]


class KeyChanged(WorkstationError):
    """Her key changed after something was sealed to the old one: no reply until resolved."""

    def __init__(self) -> None:
        super().__init__(
            "The server named a different key for her after replies were exchanged with "
            "her old key. Nothing is sealed to her until a reviewer has checked with her and "
            "run `sesim workstation accept-new-key CASE` (or `--keep-old`)."
        )


@dataclass(frozen=True)
class KeyConflict:
    case_id: int
    pinned_key: bytes | None
    offered_key: bytes
    first_day: str
    last_day: str


def key_in_use(conn: Connection, case_id: int) -> bool:
    """True once a reply was sealed to her current key here, or a reply from the server
    opened with it."""
    row = conn.execute(
        "SELECT 1 FROM items WHERE case_id = ? AND kind = 'reply'"
        " AND (origin = 'workstation' OR (error IS NULL AND document IS NOT NULL)) LIMIT 1",
        (case_id,),
    ).fetchone()
    return row is not None


def pin_source_key(
    conn: Connection, case_id: int, offered: PublicKey, day: str | None = None
) -> bool:
    """Record the key an export names for her case; True if it was refused (a conflict
    is recorded and the pinned key kept)."""
    row = conn.execute("SELECT source_public_key FROM cases WHERE id = ?", (case_id,)).fetchone()
    pinned = row["source_public_key"] if row is not None else None
    if pinned is not None and bytes(pinned) == offered.raw:
        return False
    if pinned is None or not key_in_use(conn, case_id):
        conn.execute(
            "UPDATE cases SET source_public_key = ? WHERE id = ?", (offered.raw, case_id)
        )
        conn.execute("DELETE FROM key_conflicts WHERE case_id = ?", (case_id,))
        return False
    day = day or today()
    conn.execute(
        "INSERT INTO key_conflicts (case_id, offered_key, first_day, last_day)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (case_id) DO UPDATE"
        " SET offered_key = excluded.offered_key, last_day = excluded.last_day",
        (case_id, offered.raw, day, day),
    )
    return True


def key_conflict(conn: Connection, case_id: int) -> KeyConflict | None:
    row = conn.execute(
        "SELECT k.offered_key, k.first_day, k.last_day, c.source_public_key"
        " FROM key_conflicts k JOIN cases c ON c.id = k.case_id WHERE k.case_id = ?",
        (case_id,),
    ).fetchone()
    if row is None:
        return None
    pinned = row["source_public_key"]
    return KeyConflict(
        case_id,
        None if pinned is None else bytes(pinned),
        bytes(row["offered_key"]),
        row["first_day"],
        row["last_day"],
    )


def check_can_reply(conn: Connection, case_id: int) -> None:
    """KeyChanged while her case carries an unresolved key warning."""
    if key_conflict(conn, case_id) is not None:
        raise KeyChanged()


def accept_new_key(conn: Connection, case_id: int) -> KeyConflict:
    """Take the key the server offered (a reviewer checked it with her); the warning goes."""
    conflict = _conflict_or_fail(conn, case_id)
    conn.execute(
        "UPDATE cases SET source_public_key = ? WHERE id = ?", (conflict.offered_key, case_id)
    )
    conn.execute("DELETE FROM key_conflicts WHERE case_id = ?", (case_id,))
    return conflict


def keep_old_key(conn: Connection, case_id: int) -> KeyConflict:
    """Keep the pinned key (the offered one was not hers); the warning goes until an
    export names a different key again."""
    conflict = _conflict_or_fail(conn, case_id)
    conn.execute("DELETE FROM key_conflicts WHERE case_id = ?", (case_id,))
    return conflict


def _conflict_or_fail(conn: Connection, case_id: int) -> KeyConflict:
    conflict = key_conflict(conn, case_id)
    if conflict is None:
        raise WorkstationError("this case has no key warning: nothing to resolve")
    return conflict
