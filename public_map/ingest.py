"""Ingest: verify one publication bundle and apply it, all or nothing.

The bundle is read and verified by the core's one reader,
``securedrop_like.bundles.read_publication``, before the database is touched (the signature
is checked before any JSON is parsed, so a forged 16 MiB upload is refused in milliseconds
and holds no lock). Then, inside one write transaction, the chain state is compared
(``check_chain``: sequence = last + 1, previous = the last bundle's SHA-256) and the bundle
applied, so two ingests at once cannot both apply the same next bundle. Any refusal raises
:class:`IngestRefused` and changes nothing; its kind comes from the exception's type
(``ChainError`` is out of order, any other ``BundleError`` a bad bundle).

Retractions: a retracted entry's row is deleted (its text is not kept) and its id recorded.
A retraction of an id the map never held is accepted and recorded (``known`` = 0), as
BUNDLES.md says a map must: refusing it would stall the chain, and with it every later
retraction, for an entry the map does not show anyway. An entry id the map already holds
or has seen retracted is refused (a workstation never publishes an id twice).

Once a bundle is applied, the file ``build-requested`` is made in the map's folder
(``instance.BUILD_REQUEST_FILE``): a static site built with ``sesim map build`` is now out
of date. The deployment's ``sesim-map-build.path`` unit watches for it and rebuilds the
site (the build service deletes the file before it starts, so a bundle applied during a
build asks for the next one).
"""

from __future__ import annotations

import datetime
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from securedrop_like.bundles import BundleError, ChainError, check_chain, read_publication
from securedrop_like.bundles.publication import Publication
from securedrop_like.db import immediate

from . import store
from .instance import BUILD_REQUEST_FILE, MapInstance, open_map

log = logging.getLogger(__name__)

#: What kind of refusal, so the web endpoint can answer 400 or 409.
BAD_BUNDLE = "bad_bundle"  # too big, not the format, bad signature, wrong key
OUT_OF_ORDER = "out_of_order"  # replay, rollback, skip, fork
CONFLICT = "conflict"  # a correctly signed next bundle that contradicts the map's data
BUSY = "busy"  # another process held the database's write lock too long
BUSY_MESSAGE = "the map's database is busy; try again in a minute"


class IngestRefused(Exception):
    """A bundle the map did not apply; nothing changed. ``kind`` is one of BAD_BUNDLE,
    OUT_OF_ORDER, CONFLICT; the message says why."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class IngestResult:
    sequence: int
    sha256: str
    added: int
    retracted: int  # entries taken off the map
    retracted_unknown: int  # retraction ids the map never held (recorded all the same)


def ingest(home: Path | MapInstance, data: bytes) -> IngestResult:
    """Verify ``data`` as the next bundle of the map at ``home`` and apply it."""
    instance = home if isinstance(home, MapInstance) else open_map(home)
    key_text = instance.verify_key_text
    try:  # all the costly work, outside the transaction
        publication = read_publication(data, instance.verify_key)
    except BundleError as exc:
        raise IngestRefused(str(exc), BAD_BUNDLE) from None
    try:
        conn = store.connect(instance.db_path)
        try:
            # The lock is held from reading the chain state until the bundle is applied.
            with immediate(conn):
                state = store.chain_state(conn, key_text)
                try:
                    check_chain(publication, state.last_sequence + 1, state.last_sha256)
                except ChainError as exc:
                    raise IngestRefused(str(exc), OUT_OF_ORDER) from None
                result = _apply(conn, key_text, publication)
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise IngestRefused(BUSY_MESSAGE, BUSY) from None
        raise
    request_build(instance.home)
    return result


def request_build(home: Path) -> None:
    """Say that the static site is out of date: make ``home/build-requested`` (empty,
    0600). The bundle is applied whatever happens here, so a failure is a warning."""
    try:
        os.close(os.open(home / BUILD_REQUEST_FILE, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        log.warning("could not ask for a new build of the site (%s)", exc.strerror or exc)


def _apply(conn: sqlite3.Connection, key_text: str, pub: Publication) -> IngestResult:
    day = datetime.date.today().isoformat()
    for entry in pub.entries:
        for table, what in (("entries", "is already on the map"), ("retractions", "was retracted")):
            query = (
                "SELECT 1 FROM entries WHERE id = ?"
                if table == "entries"
                else ("SELECT 1 FROM retractions WHERE id = ?")
            )
            if conn.execute(query, (entry.id,)).fetchone() is not None:
                raise IngestRefused(
                    f"publication bundle {pub.sequence} publishes entry {entry.id}, which {what}",
                    CONFLICT,
                )
    for entry in pub.entries:
        point = entry.point
        conn.execute(
            "INSERT INTO entries (id, district, point_kind, lat_e6, lon_e6, month, perpetrator,"
            " service, language, summary, story, sequence)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.id,
                entry.district,
                point.kind if point else None,
                point.lat_e6 if point else None,
                point.lon_e6 if point else None,
                entry.month,
                entry.perpetrator,
                entry.service,
                entry.language,
                entry.summary,
                entry.story,
                pub.sequence,
            ),
        )
        conn.executemany(
            "INSERT INTO entry_types (entry_id, type) VALUES (?, ?)",
            [(entry.id, t) for t in entry.types],
        )
    retracted = unknown = 0
    for public_id in pub.retractions:
        gone = conn.execute("DELETE FROM entries WHERE id = ?", (public_id,)).rowcount
        retracted += gone
        unknown += 0 if gone else 1
        conn.execute(
            "INSERT OR IGNORE INTO retractions (id, sequence, known) VALUES (?, ?, ?)",
            (public_id, pub.sequence, 1 if gone else 0),
        )
    conn.execute(
        "INSERT INTO bundles (sequence, sha256, created_day, applied_day, entries, retractions)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (pub.sequence, pub.sha256, pub.created_day, day, len(pub.entries), len(pub.retractions)),
    )
    conn.execute(
        "INSERT INTO chain (verify_key, last_sequence, last_sha256, applied_day)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (verify_key) DO UPDATE SET"
        " last_sequence = excluded.last_sequence, last_sha256 = excluded.last_sha256,"
        " applied_day = excluded.applied_day",
        (key_text, pub.sequence, pub.sha256, day),
    )
    return IngestResult(pub.sequence, pub.sha256, len(pub.entries), retracted, unknown)
