"""What goes into an export bundle: the items each export button takes, and, for
version 2, each of their sources with her key, channel and consent decisions.

Used by the staff interface's ``/export`` and by ``sesim demo`` (which fills the demo
workstation with the server's own export)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from crypto import PublicKey
from securedrop_like import bundles, models
from securedrop_like.errors import NotFound

# The SHA-256 recorded when a blob was written saves the export its first pass.
_EXPORT_SQL = (
    "SELECT i.id, s.designation, i.kind, i.parent_id, i.day, i.size, i.source_id, b.sha256"
    " FROM items AS i JOIN sources AS s ON s.id = i.source_id"
    " LEFT JOIN blobs AS b ON b.id = i.id AND i.inline IS NULL"
    " WHERE {where} ORDER BY s.id, i.seq"
)
# Which items each export button takes (the chosen ids come as one JSON list).
_EXPORT_WHERE = {
    "selected": "i.id IN (SELECT value FROM json_each(?))",
    "sources": "i.source_id IN (SELECT value FROM json_each(?))",
    "unread": "i.staff_read = 0 AND i.kind != 'reply'",
    "new": "i.exported = 0",
}


EXPORT_BUTTONS = tuple(_EXPORT_WHERE)


@dataclass(frozen=True)
class ExportJob:
    plan: bundles.ExportPlan
    item_ids: list[str]
    decisions: list[tuple[str, str, str, str]]
    designations: list[str]  # the sources in the bundle, in its order (for the audit row)

    @property
    def empty(self) -> bool:
        """Nothing to carry: no item, no decision and no withdrawal notice (say so;
        send no bundle)."""
        return not (self.item_ids or self.decisions or self.plan.manifest.retractions)


def plan(reports: Any, conn: Any, which: str, chosen: list[str], day: str) -> ExportJob:
    """Plan the export of ``which`` (a key of the export buttons; anything else takes
    nothing) with the ``chosen`` item or source ids. Raises BundleError on bad input."""
    sql = _EXPORT_SQL.format(where=_EXPORT_WHERE.get(which, "0"))  # constants only
    picked = conn.execute(sql, (json.dumps(chosen),) if "?" in sql else ()).fetchall()
    items = [
        bundles.ExportItem(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            open=opener(reports, conn, r[0], r[6]),
            sha256=bytes(r[7]).hex() if r[7] is not None else None,
        )
        for r in picked
    ]
    sources, decisions = _export_sources(conn, [r[6] for r in picked])
    planned = bundles.plan_export(items, models.retractions(conn), day, sources=sources)
    designations = [s.designation for s in sources]
    return ExportJob(planned, [r[0] for r in picked], decisions, designations)


def stream(reports: Any, job: ExportJob) -> Iterator[bytes]:
    """The bundle's chunks; the items and decisions are marked exported only after the
    last chunk was handed on (the server asks for the next one only once the previous
    was written). A download dropped half-way marks nothing: a refusal she sent is not
    lost, it travels again in the next export."""
    yield from job.plan.chunks()
    mark(reports, job)


def mark(reports: Any, job: ExportJob) -> None:
    """Mark the job's items and consent decisions exported (through the writer)."""
    reports.writer.command("mark_exported", (job.item_ids,))
    if job.decisions:
        reports.writer.command("mark_consent_exported", (job.decisions,))


def _export_sources(
    conn: Any, item_source_ids: list[str]
) -> tuple[list[bundles.ExportSource], list[tuple[str, str, str, str]]]:
    """Version 2's sources: each source with an item in the export, then each other
    source with a consent decision not exported yet (whatever button was used: her
    decision travels in the next export). Each with her key, channel and all her
    latest decisions. Also the decisions carried, to mark them exported."""
    wanted = list(dict.fromkeys(item_source_ids))
    listed = set(wanted)
    wanted += [i for i in models.sources_with_unexported_consent(conn) if i not in listed]
    sources: list[bundles.ExportSource] = []
    carried: list[tuple[str, str, str, str]] = []
    for source_id in wanted:
        source = models.source_by_id(conn, source_id)
        if source is None:  # deleted meanwhile
            continue
        consent = models.consent_of(conn, source.id)
        if source.id not in listed and not consent:
            continue  # her decisions were deleted meanwhile: nothing of hers to carry
        sources.append(
            bundles.ExportSource(
                source.designation,
                PublicKey(source.public_key),
                source.channel,
                tuple(bundles.ConsentDecision(c.draft_id, c.decision, c.day) for c in consent),
            )
        )
        carried += [(source.id, c.draft_id, c.decision, c.day) for c in consent]
    return sources, carried


def opener(reports: Any, conn: Any, item_id: str, source_id: str) -> Any:
    """Opens an item's ciphertext as a stream (from its chunks: bounded memory)."""

    def open_item() -> Any:
        item = models.item_of(conn, source_id, item_id)
        if item is None:
            raise OSError("the item was deleted")
        try:
            return reports.open_ciphertext(item)
        except NotFound as exc:
            raise OSError("the item's ciphertext is gone") from exc

    return open_item
