"""Drafts of public entries, the redaction check, her consent, and publication.

Built on publish.py (drafts, problems, consent, the bundle chain) and, through
it, redact.py (the check). Each hit of the check is shown with ``<mark>`` in
the text, with two controls: redact it (its characters become "[…]") or keep
it with a reason. When her consent is "ask me first", the draft goes to her
as a reply carrying a consent request; her answer comes back with an export
bundle. Publishing writes the next signed bundle of the chain, downloaded here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_babel import force_locale
from werkzeug.wrappers import Response

from securedrop_like import geo, taxonomy
from securedrop_like.i18n import current_language
from securedrop_like.i18n import gettext as _

from .app import workstation
from .views import bp, error_message, workstation_errors

log = logging.getLogger(__name__)

DRAFT_ID_RE = re.compile(r"[0-9a-f]{32}")
MAX_SUMMARY_CHARS = 1_000
MAX_STORY_CHARS = 20_000
MAX_REASON_CHARS = 500
REDACTED = "[…]"


def problem_message(problem: Any) -> str:
    """A problem of publish.draft_problems, translated by its code."""
    kinds = {
        "phone": _("a phone number"), "email": _("an e-mail address"), "url": _("a web address"),
        "fin": _("a personal ID (FIN)"), "iban": _("a bank account (IBAN)"),
        "plate": _("a licence plate"), "name": _("a person's name"), "address": _("an address"),
        "date": _("an exact date"), "time": _("an exact time"),
        "own": _("a word from her own report"),
    }  # fmt: skip
    code = getattr(problem, "code", "")
    if code == "redaction":
        return _("Possibly identifying: %(kind)s.", kind=kinds.get(problem.kind, problem.kind))
    messages = {
        "withdrawn": _("She withdrew: nothing from this case can be published."),
        "refused": _("She refused this draft: it cannot be published."),
        "consent_no": _("She did not agree to publication: nothing from her case is published."),
        "awaiting_approval": _(
            "She asked to see the entry first: send it to her and wait for her answer."
        ),
        "changed_since_approval": _(
            "The entry changed after she approved it: ask her again, or undo the change."
        ),
        "redaction_unavailable": _(
            "The redaction check is not in this build: nothing can be published."
        ),
        "invalid": _(
            "Some fields are not valid yet: %(reason)s", reason=getattr(problem, "message", "")
        ),
    }  # fmt: skip
    if code == "invalid":
        detail = str(getattr(problem, "message", ""))
        fields = {
            ".types": _("Choose at least one kind of what happened."),
            ".summary": _("Write a short summary in your own words."),
            ".point": _("Choose the district again, or a metro station."),
            ".month": _("The month is written YYYY-MM, from 2000-01 to this month."),
        }  # fmt: skip
        for marker, message in fields.items():
            if marker in detail:
                return message
    return messages.get(code, str(getattr(problem, "message", code)))


def _draft_id(draft_id: str) -> str:
    if not DRAFT_ID_RE.fullmatch(draft_id):
        abort(404)
    return draft_id


def _get(conn: Any, draft_id: str) -> Any:
    from . import publish

    try:
        return publish.get_draft(conn, _draft_id(draft_id))
    except publish.PublishError:
        abort(404)


def _consent(conn: Any, case_id: int) -> str | None:
    row = conn.execute(
        "SELECT document FROM items WHERE case_id = ? AND kind = 'report' ORDER BY day LIMIT 1",
        (case_id,),
    ).fetchone()
    import json

    try:
        doc = json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        doc = {}
    consent = doc.get("consent") if isinstance(doc, dict) else None
    return consent if isinstance(consent, str) else None


def segments(text: str, hits: list[Any]) -> list[tuple[str, int | None]]:
    """The text cut into (piece, hit number or None), hits in order, overlaps skipped."""
    out: list[tuple[str, int | None]] = []
    at = 0
    for number, hit in sorted(enumerate(hits), key=lambda pair: (pair[1].start, pair[1].end)):
        if hit.start < at or hit.end > len(text) or hit.start >= hit.end:
            continue
        if hit.start > at:
            out.append((text[at : hit.start], None))
        out.append((text[hit.start : hit.end], number))
        at = hit.end
    if at < len(text):
        out.append((text[at:], None))
    return out


@bp.get("/drafts")
def drafts_page() -> str:
    from . import publish

    case_id = request.args.get("case_id", type=int)
    if case_id is not None and not 0 < case_id < 2**63:
        abort(404)
    ws = workstation()
    with ws.connection() as conn:
        drafts = publish.list_drafts(conn, case_id)
        counts = {
            d.id: len(publish.draft_problems(conn, d.id)) for d in drafts if d.status == "draft"
        }
        queued = conn.execute("SELECT count(*) FROM retraction_queue").fetchone()[0]
        publications = conn.execute(
            "SELECT sequence, created_day, entries, retractions FROM publications"
            " ORDER BY sequence DESC"
        ).fetchall()
        case_exists = (
            case_id is not None
            and conn.execute(
                "SELECT 1 FROM cases WHERE id = ? AND withdrawn_day IS NULL", (case_id,)
            ).fetchone()
            is not None
        )
    return render_template(
        "drafts.html",
        drafts=drafts,
        counts=counts,
        case_id=case_id if case_exists else None,
        accepted=sum(1 for d in drafts if d.status == "accepted"),
        queued=queued,
        publications=publications,
        done=request.args.get("done"),
    )


@bp.post("/cases/<rowid:case_id>/drafts")
def new_draft(case_id: int) -> Response:
    from . import publish

    with workstation().transaction() as conn:
        if conn.execute("SELECT 1 FROM cases WHERE id = ?", (case_id,)).fetchone() is None:
            abort(404)
        try:
            draft_id = publish.create_draft(conn, case_id)
        except publish.PublishError:  # she said no, or withdrew
            return redirect(url_for("ws.drafts_page", case_id=case_id, done="no_draft"), code=303)
    return redirect(url_for("ws.draft_page", draft_id=draft_id), code=303)


@bp.get("/drafts/<draft_id>")
def draft_page(draft_id: str) -> str:
    return _render_draft(draft_id, None, request.args.get("done"), request.args.get("error"))


def _render_draft(draft_id: str, edit: Any, done: str | None, error: str | None) -> str:
    """The draft page; ``edit``: what the edit form shows instead of the stored draft
    (what the reviewer sent, when it could not be saved)."""
    from . import places, publish

    ws = workstation()
    with ws.connection() as conn:
        draft = _get(conn, draft_id)
        problems = publish.draft_problems(conn, draft.id)
        consent = _consent(conn, draft.case_id)
        decision = publish.consent_state(conn, draft).state
        kept = conn.execute(
            "SELECT field, kind, text, reason FROM kept_hits WHERE draft_id = ?"
            " ORDER BY field, text",
            (draft.id,),
        ).fetchall()
    hits = {
        field: [p for p in problems if p.code == "redaction" and p.field == field]
        for field in ("summary", "story")
    }
    texts = {"summary": draft.summary, "story": draft.story or ""}
    return render_template(
        "draft.html",
        draft=draft,
        edit=edit or draft,
        problems=problems,
        other_problems=[p for p in problems if p.code != "redaction"],
        hits=hits,
        marked={field: segments(texts[field], hits[field]) for field in texts},
        problem_message=problem_message,
        consent=consent,
        consent_label=_choice(taxonomy.CONSENT, consent),
        decision=decision,
        kept=kept,
        stations=places.metro_stations(),
        district_name=_district_name,
        types=taxonomy.HARASSMENT_TYPES,
        perpetrators=taxonomy.PERPETRATOR_TYPES,
        services=taxonomy.SERVICES,
        districts=geo.load_districts(),
        online=(geo.ONLINE, geo.ONLINE_LABEL),
        done=done,
        error=error,
    )


def _choice(group: tuple[taxonomy.Choice, ...], code: str | None) -> str:
    if not code:
        return _("Not given")
    try:
        return str(taxonomy.by_code(group, code).label)
    except KeyError:
        return code


def _district_name(code: str | None) -> str:
    if not code:
        return _("Not given")
    if code == geo.ONLINE:
        return str(geo.ONLINE_LABEL)
    try:
        return geo.district_by_code(code).name(current_language())
    except KeyError:
        return code


def _back(
    draft_id: str, *, done: str | None = None, error: str | None = None, anchor: str = ""
) -> Response:
    url = url_for("ws.draft_page", draft_id=draft_id, done=done, error=error)
    return redirect(url + anchor, code=303)


def _one_of(value: str, allowed: frozenset[str]) -> str | None:
    return value if value in allowed else None


@bp.post("/drafts/<draft_id>")
def save_draft(draft_id: str) -> Response | tuple[str, int]:
    from . import publish

    form = request.form
    types = sorted(set(form.getlist("types")) & taxonomy.codes(taxonomy.HARASSMENT_TYPES))
    month = form.get("month", "").strip()
    summary = form.get("summary", "").replace("\r\n", "\n").strip()
    story = form.get("story", "").replace("\r\n", "\n").strip()
    if (
        (month and not publish.month_allowed(month))
        or len(summary) > MAX_SUMMARY_CHARS
        or len(story) > MAX_STORY_CHARS
    ):
        # The page again with what she typed, nothing lost, and what to fix.
        with workstation().connection() as conn:
            stored = _get(conn, draft_id)
        edit = dataclasses.replace(
            stored, types=tuple(types), month=month[:7], summary=summary, story=story or None
        )
        return _render_draft(stored.id, edit, None, "invalid_fields"), 400
    district = _one_of(form.get("district", ""), geo.location_codes())
    station = form.get("station", "")
    language = form.get("language", "")
    with workstation().transaction() as conn:
        draft = _get(conn, draft_id)
        publish.update_draft(
            conn,
            draft.id,
            types=types,
            month=month or None,
            perpetrator=_one_of(
                form.get("perpetrator", ""), taxonomy.codes(taxonomy.PERPETRATOR_TYPES)
            ),
            service=_one_of(form.get("service", ""), taxonomy.codes(taxonomy.SERVICES)),
            language=language if language in ("az", "ru", "en") else draft.language,
            summary=summary,
            story=story or None,
        )
        if station:
            try:
                publish.set_station(conn, draft.id, station)
            except workstation_errors():
                return _back(draft_id, error="invalid_fields", anchor="#edit")
        elif district != draft.district or draft.point is None or draft.point.kind == "station":
            # The district's representative cell (never a place she gave).
            publish.set_place(conn, draft.id, district, None, None)
    return _back(draft_id, done="saved", anchor="#check")


@bp.post("/drafts/<draft_id>/redact")
def redact_hit(draft_id: str) -> Response:
    from . import publish

    form = request.form
    field = form.get("field", "")
    try:
        start, end = int(form.get("start", "")), int(form.get("end", ""))
    except ValueError:
        return _back(draft_id, error="stale", anchor="#check")
    with workstation().transaction() as conn:
        draft = _get(conn, draft_id)
        text = {"summary": draft.summary, "story": draft.story or ""}.get(field)
        if text is None or not 0 <= start < end <= len(text) or text[start:end] != form.get("text"):
            return _back(draft_id, error="stale", anchor="#check")
        publish.update_draft(conn, draft.id, **{field: text[:start] + REDACTED + text[end:]})
    return _back(draft_id, done="redacted", anchor="#check")


@bp.post("/drafts/<draft_id>/keep")
def keep_hit(draft_id: str) -> Response:
    from . import publish

    form = request.form
    reason = form.get("reason", "").strip()
    if not reason or len(reason) > MAX_REASON_CHARS:
        return _back(draft_id, error="reason", anchor="#check")
    with workstation().transaction() as conn:
        draft = _get(conn, draft_id)
        try:
            publish.keep_hit(conn, draft.id, form.get("field", ""), form.get("kind", "")[:20],
                             form.get("text", "")[:500], reason)  # fmt: skip
        except publish.PublishError:
            return _back(draft_id, error="stale", anchor="#check")
    return _back(draft_id, done="kept", anchor="#check")


def consent_message(lang: str) -> str:
    """The reply text that carries the draft to her, in the draft's language."""
    with force_locale(lang):
        return _(
            "We would like to publish a short account of what happened to you on the map, "
            "without your name or anything that could point to you. Please read it below and "
            "tell us whether we may publish it. Nothing is published without your answer."
        )


@bp.post("/drafts/<draft_id>/ask")
def ask_consent(draft_id: str) -> Response:
    from . import publish
    from .replies import add_reply
    from .views_cases import _author

    ws = workstation()
    with ws.transaction() as conn:
        draft = _get(conn, draft_id)
        if _consent(conn, draft.case_id) != "ask_first" or draft.status == "published":
            return _back(draft_id, error="no_ask", anchor="#consent")
        problems = {p.code for p in publish.draft_problems(conn, draft.id)}
        if "redaction" in problems:
            return _back(draft_id, error="redact_first", anchor="#consent")
        if "invalid" in problems:  # she sees the entry whole, as it would appear
            return _back(draft_id, error="not_ready", anchor="#check")
        # Kept only as a request not sent yet: it counts once add_reply has sealed it.
        request_doc = publish.consent_request(conn, draft.id)
    try:
        add_reply(*ws.opened(), draft.case_id, consent_message(draft.language),
                  draft.language, _author(), consent_request=request_doc)  # fmt: skip
    except workstation_errors() as exc:
        log.info("consent request not sealed: %s", type(exc).__name__)
        return _back(draft_id, error="not_sent", anchor="#consent")
    return _back(draft_id, done="asked", anchor="#consent")


@bp.post("/drafts/<draft_id>/accept")
def accept(draft_id: str) -> Response:
    from . import publish

    with workstation().transaction() as conn:
        draft = _get(conn, draft_id)
        try:
            publish.accept(conn, draft.id)
        except publish.PublishError:
            return _back(draft_id, error="not_ready", anchor="#check")
    return _back(draft_id, done="accepted", anchor="#check")


@bp.post("/drafts/<draft_id>/retract")
def retract(draft_id: str) -> Response:
    """Take one published entry off the map in the next bundle (after a confirmation)."""
    from . import publish

    with workstation().transaction() as conn:
        draft = _get(conn, draft_id)
        if request.form.get("confirm") != "yes":
            return _back(draft_id, error="confirm_retract", anchor="#retract")
        if draft.status != "published" or not draft.public_id:
            return _back(draft_id, error="not_published", anchor="#retract")
        try:
            publish.retract(conn, draft.public_id)
        except publish.PublishError:
            return _back(draft_id, error="not_published", anchor="#retract")
    return _back(draft_id, done="retracted")


@bp.post("/publication")
def publish_bundle() -> Response | tuple[str, int]:
    from . import publish

    ws = workstation()
    spool = Path(ws.home) / "spool"
    spool.mkdir(mode=0o700, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="publication-", suffix=".json", dir=spool)
    os.close(fd)
    out = Path(name)
    out.unlink()
    try:
        summary = publish.write_publication(*ws.opened(), out)
        data = out.read_bytes()
    except publish.PublishError:
        return redirect(url_for("ws.drafts_page", done="nothing"), code=303)
    finally:
        out.unlink(missing_ok=True)
    return _bundle_download(data, summary.sequence)


def _bundle_download(data: bytes, sequence: int) -> Response:
    response = Response(data, mimetype="application/octet-stream")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    name = f"sesim-publication-{sequence:05d}-{stamp}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/publication/<rowid:sequence>")
def publication_again(sequence: int) -> Response:
    from . import publish

    with workstation().connection() as conn:
        try:
            data = publish.publication_file(conn, sequence)
        except publish.PublishError:
            abort(404)
    return _bundle_download(data, sequence)


__all__ = ["error_message"]
