"""Login throttling that holds across server processes: failures live in the database.

At most :data:`MAX_FAILURES_PER_ACCOUNT` failed logins per account name and
:data:`MAX_FAILURES_OVERALL` over all names together in any
:data:`THROTTLE_WINDOW`. Five is plenty for typos. Fifty overall stops a
guesser who spreads attempts over many usernames, at the price that such a
guesser can hold every login off for a while; the onion service's client
authorisation keeps strangers from reaching the login page at all.

An attempt is counted as a failure *before* its password is checked, in the
same transaction as the check (:func:`begin_attempt`), so parallel attempts
in many processes cannot slip past the limit together; a success then
deletes the name's rows (:func:`clear`). Attempts refused by the throttle are
not counted, so waiting always ends the lock-out.
"""

from __future__ import annotations

import math

from securedrop_like.db import Connection

MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_OVERALL = 50
THROTTLE_WINDOW = 15 * 60  # seconds


def _wait(times: list[float], limit: int, now: float) -> int:
    """Seconds until fewer than ``limit`` of these (sorted) failures remain in the window."""
    if len(times) < limit:
        return 0
    return max(1, math.ceil(times[len(times) - limit] + THROTTLE_WINDOW - now))


def begin_attempt(conn: Connection, key: str, now: float) -> int:
    """Inside the caller's write transaction: prune expired rows, then either
    return the seconds to wait (and record nothing) or record the attempt
    and return 0."""
    conn.execute("DELETE FROM login_failures WHERE at <= ?", (now - THROTTLE_WINDOW,))
    rows = conn.execute("SELECT key, at FROM login_failures ORDER BY at").fetchall()
    wait = max(
        _wait([float(at) for k, at in rows if k == key], MAX_FAILURES_PER_ACCOUNT, now),
        _wait([float(at) for _, at in rows], MAX_FAILURES_OVERALL, now),
    )
    if not wait:
        conn.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, now))
    return wait


def clear(conn: Connection, key: str) -> None:
    """Forget a name's failures (after it logged in)."""
    conn.execute("DELETE FROM login_failures WHERE key = ?", (key,))
