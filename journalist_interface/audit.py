"""The audit log of staff actions: who did what, to which account, source or item.

Rows are dated to the UTC minute. ``staff`` is the username of whoever acted,
or None for the server's command line (and for failed logins, where nobody
is known yet). ``target`` is a username, a source designation or an item id:
never report content, a source's lookup id, a password or a code.

Actions written so far: ``staff_add``, ``staff_disable``, ``staff_enable``,
``staff_reset_password``, ``staff_reset_2fa``, ``login``, ``login_failed``,
``login_refused_disabled``; and, by the staff actions, ``star``, ``unstar``,
``assign``, ``unassign``, ``mark_read``, ``mark_unread``, ``reply``,
``export``, ``case_status``. The admin pages (:mod:`.admin`) label each for people.

Two actions say a little more in ``target``, still never content: ``assign``
is ``"<designation> <username>"`` (to whom), and ``case_status`` is
``"<designation> <old code> <new code>"`` (see securedrop_like/case_status.py);
older ``assign`` rows hold the designation alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from securedrop_like.db import Connection


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    staff: str | None
    action: str
    target: str | None


def audit_minute(now: float) -> str:
    """The UTC minute of a moment (seconds since the epoch), as ``YYYY-MM-DDTHH:MMZ``."""
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def write_audit(
    conn: Connection, staff: str | None, action: str, target: str | None, now: float
) -> None:
    """Add one row inside the caller's transaction."""
    conn.execute(
        "INSERT INTO audit_log (at, staff, action, target) VALUES (?, ?, ?, ?)",
        (audit_minute(now), staff, action, target),
    )


def read_audit(
    conn: Connection,
    limit: int = 200,
    *,
    before: int | None = None,
    staff: str | None = None,
) -> list[AuditEntry]:
    """The newest ``limit`` rows, newest first.

    ``before`` pages by key (only rows with a smaller id: pass the last id of
    the previous page), so every page costs the same however deep it is;
    ``staff`` keeps only the rows of that acting username.
    """
    where: list[str] = []
    params: list[object] = []
    if before is not None:
        where.append("id < ?")
        params.append(before)
    if staff is not None:
        where.append("staff = ?")
        params.append(staff)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        f"SELECT id, at, staff, action, target FROM audit_log{clause}"  # noqa: S608 - constants
        " ORDER BY id DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [AuditEntry(*row) for row in rows]
