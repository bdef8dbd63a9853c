"""Drafts of public entries, the checks before one can be published, and the chain of
publication bundles (``sesim-publication``, see ``securedrop_like/BUNDLES.md``).

The flow: :func:`create_draft` pre-fills a draft from her report (types, district and its
representative point, the month instead of the date, perpetrator type, service,
language; her text as the story only where her consent allows a story); the reviewer
edits it (:func:`update_draft`, :func:`set_place`, :func:`set_station`), works through
:func:`draft_problems` (each redaction hit redacted or kept with a reason by
:func:`keep_hit`; consent), then :func:`accept` gives the entry its random public id and
:func:`write_publication` puts every accepted entry and queued retraction into the next
signed bundle.

Consent, as decided here (the lead's decision on the review of issue 9):

- ``no``: nothing from her case is published, not even the summary or the facts (her
  case still counts in the workstation's statistics). No draft can be made.
- ``ask_first``: she approves the *whole entry as it would appear* — summary, story and
  the public facts (types, district or station, month, perpetrator type, service;
  :func:`consent_text`). Each request (:func:`consent_request`) has its own fresh id,
  the ``draft_id`` she sees, and the hash of the text she was shown; her decision names
  that request. Only the draft's newest request counts: a new request supersedes the
  older ones, so an old approval never carries over to text she did not see; an edit
  after her approval needs a new request.
- ``yes``: publishable once the redaction check is done.
- A refusal cancels the entry; a refusal arriving after the entry was published queues
  it for retraction (:func:`apply_decisions`, called by the importer): her latest answer
  counts. A reviewer can also retract one entry (:func:`retract`).

Withdrawal (:func:`queue_retractions`, called by the importer): every published entry of
the case is queued for retraction in the next bundle, every draft of the case is
deleted, the link from the public ids to her case is cut, and the stored copies of
bundles that carried her entries are dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crypto import random_id
from securedrop_like import geo, grid, taxonomy
from securedrop_like.bundles import (
    BundleError,
    PublicEntry,
    PublicPoint,
    bundle_sha256,
    parse_entry,
    write_publication_bundle,
)
from securedrop_like.bundles.publication import FIRST_MONTH, LANGUAGES
from securedrop_like.db import today as _today

from . import places
from .keys import Unlocked, WorkstationError

__all__ = [
    "Draft",
    "Problem",
    "PublicationSummary",
    "PublishError",
    "accept",
    "apply_decisions",
    "consent_request",
    "consent_state",
    "consent_text",
    "create_draft",
    "draft_problems",
    "get_draft",
    "keep_hit",
    "list_drafts",
    "queue_retractions",
    "retract",
    "set_place",
    "set_station",
    "update_draft",
    "write_publication",
]

Connection = Any
TEXT_FIELDS = ("summary", "story")
_EDITABLE = ("types", "district", "point", "month", "perpetrator", "service", "language",
             "summary", "story")  # fmt: skip


class PublishError(WorkstationError):
    """A draft cannot be changed, accepted or published; ``problems`` says why."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class Problem:
    """Why a draft cannot be published yet.

    ``code``: ``withdrawn``, ``consent_no``, ``refused``, ``awaiting_approval``,
    ``changed_since_approval``, ``redaction``, ``redaction_unavailable``, ``invalid``.
    For ``redaction``, ``field`` (summary, story) and the hit's ``kind``, ``start``,
    ``end`` and ``text``. ``message`` is English; the app translates by ``code``.
    """

    code: str
    message: str
    field: str | None = None
    kind: str | None = None
    start: int | None = None
    end: int | None = None
    text: str | None = None


@dataclass(frozen=True)
class Draft:
    id: str
    case_id: int
    created_day: str
    types: tuple[str, ...]
    district: str | None
    point: PublicPoint | None
    month: str | None
    perpetrator: str | None
    service: str | None
    language: str
    summary: str
    story: str | None
    status: str  # draft, accepted, published
    public_id: str | None
    published_sequence: int | None
    consent_sha256: str | None

    def entry(self, public_id: str | None = None) -> PublicEntry:
        return PublicEntry(
            id=public_id or self.public_id or "0" * 32,
            types=tuple(sorted(self.types)),
            district=self.district,
            point=self.point,
            month=self.month,
            perpetrator=self.perpetrator,
            service=self.service,
            language=self.language,
            summary=self.summary.strip(),
            story=self.story.strip() if self.story and self.story.strip() else None,
        )


@dataclass(frozen=True)
class PublicationSummary:
    path: Path
    sequence: int
    previous: str | None
    sha256: str
    entries: int
    retractions: int
    held_back: tuple[str, ...]  # accepted drafts that failed their checks again


# -- reading ---------------------------------------------------------------------------


def _draft(row: Any) -> Draft:
    point = None
    if row["point_kind"] is not None:
        point = PublicPoint(row["point_kind"], int(row["lat_e6"]), int(row["lon_e6"]))
    return Draft(
        id=row["id"],
        case_id=int(row["case_id"]),
        created_day=row["created_day"],
        types=tuple(json.loads(row["types"])),
        district=row["district"],
        point=point,
        month=row["month"],
        perpetrator=row["perpetrator"],
        service=row["service"],
        language=row["language"],
        summary=row["summary"],
        story=row["story"],
        status=row["status"],
        public_id=row["public_id"],
        published_sequence=row["published_sequence"],
        consent_sha256=row["consent_sha256"],
    )


def get_draft(conn: Connection, draft_id: str) -> Draft:
    row = conn.execute("SELECT * FROM drafts WHERE id = ?", (draft_id,)).fetchone()
    if row is None:
        raise PublishError("No such draft (it may have been deleted after a withdrawal).")
    return _draft(row)


def list_drafts(conn: Connection, case_id: int | None = None) -> list[Draft]:
    if case_id is None:
        rows = conn.execute("SELECT * FROM drafts ORDER BY created_day, id")
    else:
        rows = conn.execute(
            "SELECT * FROM drafts WHERE case_id = ? ORDER BY created_day, id", (case_id,)
        )
    return [_draft(r) for r in rows]


def _report(conn: Connection, case_id: int) -> tuple[dict[str, Any], str | None]:
    """Her report's document and language ({} when it did not open or is gone)."""
    row = conn.execute(
        "SELECT document, lang FROM items WHERE case_id = ? AND kind = 'report'"
        " AND document IS NOT NULL ORDER BY day, id LIMIT 1",
        (case_id,),
    ).fetchone()
    if row is None:
        return {}, None
    try:
        doc = json.loads(row["document"])
    except ValueError:
        doc = {}
    return (doc if isinstance(doc, dict) else {}), row["lang"]


def _case(conn: Connection, case_id: int) -> Any:
    row = conn.execute("SELECT id, withdrawn_day FROM cases WHERE id = ?", (case_id,)).fetchone()
    if row is None:
        raise PublishError("No such case.")
    return row


# -- drafting --------------------------------------------------------------------------


_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def month_allowed(month: str, today: str | None = None) -> bool:
    """True for a month ``YYYY-MM`` a bundle written ``today`` may carry: from
    ``FIRST_MONTH`` (2000-01) to this month (the reader's rule, BUNDLES.md)."""
    return bool(_MONTH.fullmatch(month)) and FIRST_MONTH <= month <= (today or _today())[:7]


def _month(when: object, today: str) -> str | None:
    """Her report's month, if a bundle may carry it (else none: the reviewer sets it)."""
    if not isinstance(when, dict) or when.get("precision") not in ("day", "month"):
        return None
    date = when.get("date")
    if isinstance(date, str) and len(date) >= 7 and month_allowed(date[:7], today):
        return date[:7]
    return None


def _code_or_none(value: object, allowed: Iterable[str]) -> str | None:
    return value if isinstance(value, str) and value in set(allowed) else None


def create_draft(conn: Connection, case_id: int, *, today: str | None = None) -> str:
    """A new draft for the case, pre-filled from her report; its id."""
    case = _case(conn, case_id)
    if case["withdrawn_day"]:
        raise PublishError("She withdrew: nothing from this case can be published.")
    doc, lang = _report(conn, case_id)
    if doc.get("consent") not in ("yes", "ask_first"):
        raise PublishError(_NO_MESSAGE)
    known_types = taxonomy.codes(taxonomy.HARASSMENT_TYPES)
    types = sorted({t for t in doc.get("types") or [] if isinstance(t, str) and t in known_types})
    where = doc.get("where") if isinstance(doc.get("where"), dict) else {}
    district = _code_or_none((where or {}).get("location"), geo.location_codes())
    point: tuple[str, int, int] | None = None
    if district and district != geo.ONLINE:
        point = ("cell", *places.district_point_e6(district))
    consent = doc.get("consent")
    raw_text = doc.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    story = text.strip() if consent in ("yes", "ask_first") and text.strip() else None
    draft_id = random_id()
    today = today or _today()
    conn.execute(
        "INSERT INTO drafts (id, case_id, created_day, types, district, point_kind, lat_e6,"
        " lon_e6, month, perpetrator, service, language, summary, story)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?)",
        (
            draft_id,
            case_id,
            today,
            json.dumps(types),
            district,
            *(point or (None, None, None)),
            _month(doc.get("when"), today),
            _code_or_none(doc.get("perpetrator"), taxonomy.codes(taxonomy.PERPETRATOR_TYPES)),
            _code_or_none(doc.get("service"), taxonomy.codes(taxonomy.SERVICES)),
            lang if lang in LANGUAGES else "az",
            story,
        ),
    )
    return draft_id


def update_draft(conn: Connection, draft_id: str, **fields: Any) -> Draft:
    """Change fields of a draft (``types``, ``district``, ``point`` as a
    :class:`PublicPoint` or None, ``month``, ``perpetrator``, ``service``, ``language``,
    ``summary``, ``story``). An accepted draft goes back to being a draft."""
    draft = get_draft(conn, draft_id)
    if draft.status == "published":
        raise PublishError("This entry is published; retract it and draft a new one instead.")
    unknown = set(fields) - set(_EDITABLE)
    if unknown:
        raise PublishError(f"Unknown draft field(s): {', '.join(sorted(unknown))}")
    columns: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "types":
            columns["types"] = json.dumps(sorted(set(value)))
        elif name == "point":
            point = value if isinstance(value, PublicPoint) or value is None else None
            if value is not None and point is None:
                raise PublishError("A point is a PublicPoint or None.")
            columns["point_kind"] = point.kind if point else None
            columns["lat_e6"] = point.lat_e6 if point else None
            columns["lon_e6"] = point.lon_e6 if point else None
        elif name == "story":
            columns["story"] = value if value is None or value.strip() else None
        elif name == "month" and value is not None and not month_allowed(value):
            raise PublishError(f"The month must be YYYY-MM, from {FIRST_MONTH} to this month.")
        else:
            columns[name] = value
    columns["status"] = "draft"
    assignments = ", ".join(f"{c} = ?" for c in columns)
    conn.execute(
        f"UPDATE drafts SET {assignments} WHERE id = ?",  # noqa: S608 - column names fixed
        (*columns.values(), draft_id),
    )
    return get_draft(conn, draft_id)


def set_place(
    conn: Connection, draft_id: str, district: str | None, lat: float | None, lon: float | None
) -> Draft:
    """Set the district and the published point from a place the reviewer marked (or the
    district's representative point when no place is given). Her place is not stored."""
    if district == geo.ONLINE or (district is None and lat is None):
        return update_draft(conn, draft_id, district=district, point=None)
    if lat is None or lon is None:
        assert district is not None  # noqa: S101 - for mypy; checked above
        lat_e6, lon_e6 = places.district_point_e6(district)
    else:
        lat_e6, lon_e6 = places.coarse_point_e6(district, grid.to_e6(lat), grid.to_e6(lon))
        district = district or grid.district_at(lat_e6, lon_e6)
    return update_draft(
        conn, draft_id, district=district, point=PublicPoint("cell", lat_e6, lon_e6)
    )


def set_station(conn: Connection, draft_id: str, station_code: str) -> Draft:
    """Put the entry at a metro station (and in that station's district)."""
    station = places.station_point(station_code)
    return update_draft(
        conn,
        draft_id,
        district=station.district,
        point=PublicPoint("station", station.lat_e6, station.lon_e6),
    )


def keep_hit(
    conn: Connection, draft_id: str, field: str, kind: str, text: str, reason: str
) -> None:
    """Keep one redaction hit on purpose (e.g. a public institution's name), with a reason."""
    if field not in TEXT_FIELDS:
        raise PublishError(f"Hits are kept in the summary or the story, not in {field!r}.")
    if not reason.strip():
        raise PublishError("Say why this is kept: a reason is needed.")
    get_draft(conn, draft_id)
    conn.execute(
        "INSERT INTO kept_hits (draft_id, field, kind, text, reason) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (draft_id, field, kind, text) DO UPDATE SET reason = excluded.reason",
        (draft_id, field, kind, text, reason.strip()),
    )


# -- consent ---------------------------------------------------------------------------

_NO_MESSAGE = "She did not agree to publication: nothing from her case is published."
_babel_app: Any = None


def _in_language(lang: str) -> Any:
    """A context in which gettext and the lazy labels speak ``lang`` (the workstation's
    app context when there is one, else a small one of its own, for the CLI)."""
    from flask import Flask, has_app_context
    from flask_babel import force_locale

    global _babel_app  # noqa: PLW0603 - built once, on first use
    stack = contextlib.ExitStack()
    if not has_app_context():
        if _babel_app is None:
            from securedrop_like.i18n import init_i18n

            _babel_app = Flask(__name__)
            init_i18n(_babel_app)
        stack.enter_context(_babel_app.app_context())
    stack.enter_context(force_locale(lang))
    return stack


def _facts(draft: Draft) -> list[str]:
    """The public facts of the entry, one line each, in the current language."""
    from securedrop_like.i18n import gettext as _

    def label(group: tuple[taxonomy.Choice, ...], code: str) -> str:
        try:
            return str(taxonomy.by_code(group, code).label)
        except KeyError:
            return code

    lines = []
    if draft.types:
        kinds = ", ".join(label(taxonomy.HARASSMENT_TYPES, t) for t in sorted(draft.types))
        lines.append(f"{_('What happened')}: {kinds}")
    if draft.district:
        if draft.district == geo.ONLINE:
            place = str(geo.ONLINE_LABEL)
        else:
            try:
                place = geo.district_by_code(draft.district).name(draft.language)
            except KeyError:
                place = draft.district
        if draft.point is not None and draft.point.kind == "station":
            place += " (" + _("at a metro station") + ")"
        lines.append(f"{_('District')}: {place}")
    if draft.month:
        lines.append(f"{_('Month')}: {draft.month}")
    if draft.perpetrator:
        lines.append(f"{_('Who did it')}: {label(taxonomy.PERPETRATOR_TYPES, draft.perpetrator)}")
    if draft.service:
        lines.append(f"{_('Service')}: {label(taxonomy.SERVICES, draft.service)}")
    return lines


def consent_text(draft: Draft) -> str:
    """The text she is asked to approve: the whole entry as it would appear — the summary,
    the story and the public facts — in the entry's language."""
    entry = draft.entry()
    with _in_language(draft.language):
        facts = _facts(draft)
    parts = [entry.summary, *([entry.story] if entry.story else []), "\n".join(facts)]
    return "\n\n".join(p for p in parts if p)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def consent_request(conn: Connection, draft_id: str) -> dict[str, str]:
    """What goes into her reply as ``consent_request`` (``replies.add_reply``).

    Each request gets a fresh id (the ``draft_id`` of the request, which her decision
    names) and remembers the hash of the text she is shown. It counts only once
    ``add_reply`` has sealed it (in the same transaction as the reply): a request that
    failed to go out changes nothing."""
    draft = get_draft(conn, draft_id)
    if draft.status == "published":
        raise PublishError("This entry is published; retract it and draft a new one instead.")
    text = consent_text(draft)
    request_id = random_id()
    conn.execute(
        "INSERT INTO consent_requests (id, draft_id, text_sha256, day) VALUES (?, ?, ?, ?)",
        (request_id, draft_id, _sha(text), _today()),
    )
    return {"draft_id": request_id, "text": text}


@dataclass(frozen=True)
class ConsentState:
    """Where a draft stands with her: ``state`` is ``none`` (never asked), ``pending``
    (asked, no answer to the newest request), ``approved`` (the newest request, and its
    text is still the draft's), ``changed`` (approved, but the draft changed since) or
    ``refused``."""

    state: str
    request_id: str | None = None


def consent_state(conn: Connection, draft: Draft) -> ConsentState:
    rows = conn.execute(
        "SELECT r.seq, r.id, r.text_sha256, d.decision, d.seen_after"
        " FROM consent_requests r LEFT JOIN consent_decisions d"
        " ON d.draft_id = r.id AND d.case_id = ?"
        " WHERE r.draft_id = ? AND r.reply_id IS NOT NULL ORDER BY r.seq",
        (draft.case_id, draft.id),
    ).fetchall()
    if not rows:
        # A decision naming the draft itself (requests made before requests had ids).
        legacy = conn.execute(
            "SELECT decision FROM consent_decisions WHERE case_id = ? AND draft_id = ?",
            (draft.case_id, draft.id),
        ).fetchone()
        return ConsentState("refused" if legacy and legacy[0] == "refuse" else "none")
    latest = rows[-1]
    if latest["decision"] == "refuse" or any(
        r["decision"] == "refuse" and int(r["seen_after"]) >= int(latest["seq"]) for r in rows[:-1]
    ):
        return ConsentState("refused", latest["id"])
    if latest["decision"] != "approve":
        return ConsentState("pending", latest["id"])
    if latest["text_sha256"] != _sha(consent_text(draft)):
        return ConsentState("changed", latest["id"])
    return ConsentState("approved", latest["id"])


def record_decision(
    conn: Connection, case_id: int, request_id: str, decision: str, day: str
) -> bool:
    """Store her decision on a request (from an export bundle). The newer day wins; on the
    same day a refusal wins over an approval. True when it changed what was stored."""
    before = conn.execute(
        "SELECT decision, day FROM consent_decisions WHERE case_id = ? AND draft_id = ?",
        (case_id, request_id),
    ).fetchone()
    if before is not None and (
        day < before["day"] or (day == before["day"] and decision != "refuse")
    ):
        return False
    if before is not None and (before["decision"], before["day"]) == (decision, day):
        return False
    newest = conn.execute("SELECT max(seq) FROM consent_requests").fetchone()[0] or 0
    conn.execute(
        "INSERT INTO consent_decisions (case_id, draft_id, decision, day, seen_after)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (case_id, draft_id) DO UPDATE"
        " SET decision = excluded.decision, day = excluded.day,"
        " seen_after = excluded.seen_after",
        (case_id, request_id, decision, day, newest),
    )
    return True


def apply_decisions(conn: Connection, case_id: int, *, today: str | None = None) -> int:
    """React to her decisions: an accepted draft she refused goes back to being a draft; a
    published entry she refused is queued for retraction (her latest answer counts).
    Returns how many entries were queued."""
    queued = 0
    for draft in list_drafts(conn, case_id):
        if draft.status == "draft" or consent_state(conn, draft).state != "refused":
            continue
        if draft.status == "published" and draft.public_id:
            retract(conn, draft.public_id, today=today)
            _forget_bundles(conn, [draft.public_id])
            queued += 1
        else:
            conn.execute("UPDATE drafts SET status = 'draft' WHERE id = ?", (draft.id,))
    return queued


# -- checks ----------------------------------------------------------------------------


def _redact_module() -> Any:
    try:
        return importlib.import_module(f"{__package__}.redact")
    except ImportError:
        return None


def draft_problems(conn: Connection, draft_id: str, today: str | None = None) -> list[Problem]:
    """Everything that stops this draft from being published ``today`` (the bundle's
    day); empty when it may be."""
    draft = get_draft(conn, draft_id)
    case = _case(conn, draft.case_id)
    if case["withdrawn_day"]:
        return [Problem("withdrawn", "She withdrew: nothing from this case can be published.")]
    doc, _lang = _report(conn, draft.case_id)
    consent = doc.get("consent")
    if consent not in ("yes", "ask_first"):
        return [Problem("consent_no", _NO_MESSAGE)]
    state = consent_state(conn, draft).state
    if state == "refused":
        return [Problem("refused", "She refused this draft: it cannot be published.")]
    problems: list[Problem] = []
    if consent == "ask_first":
        if state == "changed":
            problems.append(Problem(
                "changed_since_approval",
                "The entry changed after she approved it: ask her again, or undo the change.",
            ))  # fmt: skip
        elif state != "approved":
            problems.append(Problem(
                "awaiting_approval",
                "She asked to see the entry first: send it to her and wait for her answer.",
            ))  # fmt: skip
    entry = draft.entry()
    try:
        parse_entry(entry.to_json(), "entry", created_day=today or _today())
    except BundleError as exc:
        problems.append(Problem("invalid", str(exc).removeprefix("manifest: ")))
    problems.extend(_redaction_problems(conn, draft, doc))
    return problems


def _redaction_problems(conn: Connection, draft: Draft, doc: dict[str, Any]) -> list[Problem]:
    redact = _redact_module()
    if redact is None:
        return [Problem("redaction_unavailable", "The redaction check is not installed.")]
    kept = {
        (r["field"], r["kind"], r["text"])
        for r in conn.execute(
            "SELECT field, kind, text FROM kept_hits WHERE draft_id = ?", (draft.id,)
        )
    }
    own_terms = redact.terms_from_report(doc) if doc else []
    problems = []
    entry = draft.entry()
    for field in TEXT_FIELDS:
        text = getattr(entry, field)
        if not text:
            continue
        for hit in redact.check(text, own_terms=own_terms):
            if (field, hit.kind, hit.text) in kept:
                continue
            problems.append(Problem(
                "redaction",
                f"Possible identifying detail ({hit.kind}) in the {field}: redact it, or keep"
                " it with a reason.",
                field=field, kind=hit.kind, start=hit.start, end=hit.end, text=hit.text,
            ))  # fmt: skip
    return problems


def accept(conn: Connection, draft_id: str) -> str:
    """Mark a draft ready for the next bundle; its public id (random, new)."""
    draft = get_draft(conn, draft_id)
    if draft.status == "published":
        raise PublishError("This entry is already published.")
    problems = draft_problems(conn, draft_id)
    if problems:
        raise PublishError("This draft cannot be published yet.", problems)
    public_id = draft.public_id or random_id()
    conn.execute(
        "UPDATE drafts SET status = 'accepted', public_id = ? WHERE id = ?", (public_id, draft_id)
    )
    return public_id


def queue_retractions(conn: Connection, case_id: int, *, today: str | None = None) -> int:
    """She withdrew: queue every published entry of the case for retraction, delete every
    draft of it, cut the link from the public ids to her case and drop the stored copies
    of the bundles that carried her entries (they hold her text). Returns how many
    entries were queued. Idempotent."""
    public_ids = [
        str(r["public_id"])
        for r in conn.execute(
            "SELECT public_id FROM published_entries WHERE case_id = ?", (case_id,)
        ).fetchall()
    ]
    queued = 0
    for public_id in public_ids:
        queued += _queue(conn, public_id, today)
    _forget_bundles(conn, public_ids)
    conn.execute("UPDATE published_entries SET case_id = NULL WHERE case_id = ?", (case_id,))
    conn.execute("DELETE FROM drafts WHERE case_id = ?", (case_id,))
    return queued


def _queue(conn: Connection, public_id: str, today: str | None) -> int:
    row = conn.execute(
        "SELECT 1 FROM published_entries WHERE public_id = ? AND retracted_sequence IS NULL"
        " AND public_id NOT IN (SELECT public_id FROM retraction_queue)",
        (public_id,),
    ).fetchone()
    if row is None:
        return 0
    conn.execute(
        "INSERT INTO retraction_queue (public_id, queued_day) VALUES (?, ?)",
        (public_id, today or _today()),
    )
    return 1


def retract(conn: Connection, public_id: str, *, today: str | None = None) -> None:
    """Queue one published entry for retraction in the next bundle; its draft becomes a
    draft again (a new public id if it is ever accepted again)."""
    row = conn.execute(
        "SELECT retracted_sequence FROM published_entries WHERE public_id = ?", (public_id,)
    ).fetchone()
    if row is None:
        raise PublishError("No published entry has this public id.")
    if row["retracted_sequence"] is not None or not _queue(conn, public_id, today):
        raise PublishError("This entry is already retracted, or queued for retraction.")
    conn.execute(
        "UPDATE drafts SET status = 'draft', public_id = NULL, published_sequence = NULL"
        " WHERE public_id = ?",
        (public_id,),
    )


def _forget_bundles(conn: Connection, public_ids: Iterable[str]) -> None:
    """Drop the stored copies of the bundles that published these entries (the chain's
    hashes stay, the bytes with her text go)."""
    for public_id in public_ids:
        conn.execute(
            "UPDATE publications SET bundle = X'' WHERE sequence IN"
            " (SELECT sequence FROM published_entries WHERE public_id = ?)",
            (public_id,),
        )


# -- the bundle ------------------------------------------------------------------------


def write_publication(
    store: Any, unlocked: Unlocked, out: Path | str, *, today: str | None = None
) -> PublicationSummary:
    """Write the next publication bundle to ``out``: every accepted draft (checked again)
    and every queued retraction, signed with the workstation's key, chained to the last."""
    out = Path(out)
    if out.exists():
        raise PublishError(f"{out} already exists: a publication bundle is never overwritten.")
    day = today or _today()
    written = False
    try:
        with store.transaction() as conn:
            summary = _publish_in(conn, unlocked, out, day)
            written = True
    except BaseException:
        if written:  # the commit failed after the file was written: take it back
            out.unlink(missing_ok=True)
        raise
    return summary


def _publish_in(conn: Connection, unlocked: Unlocked, out: Path, day: str) -> PublicationSummary:
    last = conn.execute(
        "SELECT sequence, sha256 FROM publications ORDER BY sequence DESC LIMIT 1"
    ).fetchone()
    sequence = 1 if last is None else int(last["sequence"]) + 1
    previous = None if last is None else str(last["sha256"])
    entries: list[tuple[str, PublicEntry]] = []
    held_back: list[str] = []
    for draft in [d for d in list_drafts(conn) if d.status == "accepted"]:
        if draft_problems(conn, draft.id, day):
            conn.execute("UPDATE drafts SET status = 'draft' WHERE id = ?", (draft.id,))
            held_back.append(draft.id)
            continue
        entries.append((draft.id, draft.entry()))
    retractions = [
        str(r["public_id"])
        for r in conn.execute("SELECT public_id FROM retraction_queue ORDER BY public_id")
    ]
    if not entries and not retractions:
        raise PublishError("Nothing to publish: accept a draft first.")
    data = write_publication_bundle(
        unlocked.signing,
        sequence=sequence,
        previous=previous,
        created_day=day,
        entries=[e for _, e in entries],
        retractions=retractions,
    )
    digest = bundle_sha256(data)
    for draft_id, entry in entries:
        row = conn.execute("SELECT case_id FROM drafts WHERE id = ?", (draft_id,)).fetchone()
        conn.execute(
            "UPDATE drafts SET status = 'published', published_sequence = ? WHERE id = ?",
            (sequence, draft_id),
        )
        conn.execute(
            "INSERT INTO published_entries (public_id, case_id, sequence) VALUES (?, ?, ?)",
            (entry.id, row["case_id"], sequence),
        )
    conn.executemany(
        "UPDATE published_entries SET retracted_sequence = ? WHERE public_id = ?",
        [(sequence, p) for p in retractions],
    )
    conn.execute("DELETE FROM retraction_queue")
    conn.execute(
        "INSERT INTO publications (sequence, sha256, created_day, entries, retractions,"
        " bundle) VALUES (?, ?, ?, ?, ?, ?)",
        (sequence, digest, day, len(entries), len(retractions), data),
    )
    # The file is in place before the transaction commits: if writing fails, nothing
    # is marked published; if the commit fails, the caller removes the file again.
    _write_atomically(out, data)
    return PublicationSummary(
        out, sequence, previous, digest, len(entries), len(retractions), tuple(held_back)
    )


def publication_file(conn: Connection, sequence: int) -> bytes:
    """A bundle written before, byte for byte (to carry it again if the stick was lost)."""
    row = conn.execute("SELECT bundle FROM publications WHERE sequence = ?", (sequence,)).fetchone()
    if row is None:
        raise PublishError(f"No publication bundle {sequence} was written here.")
    if not row["bundle"]:
        raise PublishError(
            f"The copy of bundle {sequence} was deleted: it carried an entry that was"
            " withdrawn, refused or retracted."
        )
    return bytes(row["bundle"])


def _write_atomically(path: Path, data: bytes) -> None:
    """Write a new file whole or not at all (a link, so an existing file is never replaced)."""
    try:
        fd, temp = tempfile.mkstemp(prefix=".sesim-publication-", dir=path.parent)
    except OSError as exc:
        raise PublishError(f"Cannot write in {path.parent}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # public data, for the map
        os.link(temp, path)
    except FileExistsError:
        raise PublishError(
            f"{path} already exists: a publication bundle is never overwritten."
        ) from None
    except OSError as exc:
        raise PublishError(f"Cannot write {path}: {exc.strerror}") from None
    finally:
        Path(temp).unlink(missing_ok=True)
