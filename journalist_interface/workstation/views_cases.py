"""Cases: the list with search and tags, her case page, notes, tags, replies, files."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from journalist_interface import reply_templates
from securedrop_like import designations, geo, taxonomy
from securedrop_like.config import LOCALES
from securedrop_like.documents import MAX_REPLY_CHARS
from securedrop_like.i18n import current_language
from securedrop_like.i18n import gettext as _

from . import casework, keypin
from .app import workstation
from .keys import fingerprint_words
from .views import bp, error_message, workstation_errors

log = logging.getLogger(__name__)

ITEM_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")
MAX_QUERY_CHARS = 200
# At most one sandbox rendering at a time per file (a page with several <img> asks at once).
_render_locks: dict[str, threading.Lock] = {}
_render_guard = threading.Lock()


def designation_label(designation: str) -> str:
    try:
        return designations.label(designation, current_language())
    except Exception:  # an odd designation from an old bundle: shown as it is
        return designation


def _choice_label(group: tuple[taxonomy.Choice, ...], code: Any) -> str:
    if not isinstance(code, str) or not code:
        return _("Not given")
    try:
        return str(taxonomy.by_code(group, code).label)
    except KeyError:
        return code


def _place(code: Any) -> str:
    if not isinstance(code, str) or not code:
        return _("Not given")
    if code == geo.ONLINE:
        return str(geo.ONLINE_LABEL)
    try:
        return geo.district_by_code(code).name(current_language())
    except KeyError:
        return code


def _when(when: Any) -> str:
    if not isinstance(when, dict):
        return _("Not given")
    date = when.get("date")
    text = str(date) if isinstance(date, str) and when.get("precision") in ("day", "month") else ""
    part = when.get("part_of_day")
    if isinstance(part, str) and part:
        part_text = _choice_label(taxonomy.PARTS_OF_DAY, part)
        text = f"{text}, {part_text}" if text else part_text
    return text or _("She does not know the date")


def report_answers(doc: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Her structured answers as (question, translated answer) rows."""
    if not doc:
        return []
    raw_types, raw_wants, raw_where = doc.get("types"), doc.get("wants"), doc.get("where")
    types: list[Any] = raw_types if isinstance(raw_types, list) else []
    wants: list[Any] = raw_wants if isinstance(raw_wants, list) else []
    where: dict[str, Any] = raw_where if isinstance(raw_where, dict) else {}
    rows = [
        (
            _("What happened"),
            ", ".join(_choice_label(taxonomy.HARASSMENT_TYPES, t) for t in types) or _("Not given"),
        ),
        (_("When"), _when(doc.get("when"))),
        (_("District"), _place(where.get("location"))),
    ]
    landmark = where.get("landmark")
    if isinstance(landmark, str) and landmark.strip():
        rows.append((_("Place she described"), landmark))
    rows += [
        (_("Who did it"), _choice_label(taxonomy.PERPETRATOR_TYPES, doc.get("perpetrator"))),
        (_("Service"), _choice_label(taxonomy.SERVICES, doc.get("service"))),
        (_("Her role"), _choice_label(taxonomy.ROLES, doc.get("role"))),
        (
            _("What she wants"),
            ", ".join(_choice_label(taxonomy.WANTS, w) for w in wants) or _("Not given"),
        ),
        (_("Consent to publish"), _choice_label(taxonomy.CONSENT, doc.get("consent"))),
    ]
    return rows


def _search_ids(query: str) -> list[int]:
    """Case ids whose text matches ``query`` (full-text search of the case store)."""
    store = workstation().store
    if store is None:
        return []
    hits = store.search(query, limit=200)
    ids: list[int] = []
    for hit in hits:
        case_id = getattr(hit, "case_id", None)
        if isinstance(case_id, int) and case_id not in ids:
            ids.append(case_id)
    return ids


def _designation_ids(query: str) -> list[int]:
    """Cases whose designation fits the query ("amber lark", "3f2a"), as the staff
    interface shows it, in any language."""
    lang = current_language()
    if designations.parse(query, lang) is None:
        return []
    with workstation().connection() as conn:
        rows = conn.execute("SELECT id, designation FROM cases").fetchall()
    return [int(r[0]) for r in rows if designations.matches(str(r[1]), query, lang)]


@bp.get("/cases")
def cases() -> tuple[str, int] | str:
    query = request.args.get("q", "").strip()[:MAX_QUERY_CHARS]
    tag = casework.clean_tag(request.args.get("tag", "")) if request.args.get("tag") else None
    try:
        page = max(0, min(int(request.args.get("page", "0")), 10_000))
    except ValueError:
        page = 0
    error = None
    ids: list[int] | None = None
    if query:
        ids = _designation_ids(query)
        try:
            ids += [i for i in _search_ids(query) if i not in ids]
        except Exception as exc:  # a query FTS5 cannot parse: say so
            log.info("search failed: %s", type(exc).__name__)
            if not ids:
                error = _("This search could not be run. Try plain words.")
    ws = workstation()
    with ws.connection() as conn:
        rows = casework.list_case_rows(
            conn, tag=tag, ids=ids, limit=casework.PAGE_SIZE + 1, offset=page * casework.PAGE_SIZE
        )
        tags = casework.all_tags(conn)
    more = len(rows) > casework.PAGE_SIZE
    return render_template(
        "cases.html",
        rows=rows[: casework.PAGE_SIZE],
        label=designation_label,
        channel_label=channel_label,
        query=query,
        tag=tag,
        tags=tags,
        page=page,
        more=more,
        error=error,
    )


def _detail(case_id: int) -> casework.CaseDetail:
    with workstation().connection() as conn:
        detail = casework.case_detail(conn, case_id)
    if detail is None:
        abort(404)
    return detail


def _reply_prefill() -> tuple[str, str]:
    """The reply box's text and language: a chosen template, or empty."""
    lang = request.args.get("tlang", "")
    code = request.args.get("template", "")
    if lang in LOCALES and (code, lang) in reply_templates.defaults():
        return reply_templates.defaults()[(code, lang)], lang
    return "", lang if lang in LOCALES else current_language()


@bp.get("/cases/<rowid:case_id>")
def case_page(case_id: int) -> str:
    detail = _detail(case_id)
    with workstation().transaction() as conn:
        casework.mark_read(conn, case_id)
    prefill, reply_lang = _reply_prefill()
    return _render_case(detail, request.args.get("done"), prefill, reply_lang)


def _render_case(
    detail: casework.CaseDetail,
    done: str | None,
    prefill: str,
    reply_lang: str,
    reply_error: str | None = None,
) -> str:
    doc = detail.report.document if detail.report else None
    with workstation().connection() as conn:
        conflict = keypin.key_conflict(conn, detail.case.id)
    key_warning = None
    if conflict is not None:
        key_warning = {
            "day": conflict.first_day,
            "pinned": fingerprint_words(conflict.pinned_key) if conflict.pinned_key else "—",
            "offered": fingerprint_words(conflict.offered_key),
        }
    return render_template(
        "case.html",
        d=detail,
        channel_label=channel_label((doc or {}).get("channel") or detail.case.channel),
        mails=_mails(detail),
        key_warning=key_warning,
        label=designation_label(detail.case.designation),
        answers=report_answers(doc),
        done=done,
        prefill=prefill,
        reply_lang=reply_lang,
        reply_error=reply_error,
        template_names=reply_templates.NAMES,
        consent_label=_choice_label(taxonomy.CONSENT, (doc or {}).get("consent")),
    )


# -- reports by SMS, e-mail, Messenger and X (issue 12) --------------------------------------

#: At most this many e-mails are read (and decrypted) for one case page.
MAX_MAILS_SHOWN = 20
MAX_MAIL_BYTES = 50 * 1024 * 1024


def channel_label(channel: Any) -> str:
    """The channel a report arrived by, translated; "" for the web form."""
    labels = {
        "sms": _("SMS"),
        "email": _("e-mail"),
        "messenger": _("Facebook Messenger"),
        "x": _("X (Twitter) direct message"),
    }
    return labels.get(channel, "") if isinstance(channel, str) else ""


def _mails(detail: casework.CaseDetail) -> dict[str, Any]:
    """item id -> MailView of each e-mail (message.eml) in her report and messages,
    decrypted with the workstation's OpenPGP key when it is encrypted."""
    from .mail import MailView, is_mail, read_mail

    ws = workstation()
    files = list(detail.report.files if detail.report else ())
    for message in detail.messages:
        files += list(message.files)
    shown: dict[str, Any] = {}
    for info in files:
        if len(shown) >= MAX_MAILS_SHOWN:
            break
        if not is_mail(info.name, info.content_type) or info.size > MAX_MAIL_BYTES:
            continue
        with ws.connection() as conn:
            raw = b"".join(casework.file_chunks(conn, info.item_id))
        try:
            shown[info.item_id] = read_mail(raw, ws.home, ws.unlocked)
        except Exception as exc:  # noqa: BLE001 - a crafted e-mail must not break her case
            # (RecursionError, HeaderParseError, ...): said on the page; its file stays.
            log.info("an e-mail could not be read: %s", type(exc).__name__)
            shown[info.item_id] = MailView(problem="unreadable")
    return shown


def _case_or_404(case_id: int) -> None:
    with workstation().connection() as conn:
        if not casework.list_case_rows(conn, ids=[case_id], limit=1):
            abort(404)


def _author() -> str:
    unlocked = workstation().unlocked
    name = getattr(unlocked, "name", None)
    return str(name) if name else _("Reviewer")


@bp.post("/cases/<rowid:case_id>/notes")
def add_note(case_id: int) -> Response:
    _case_or_404(case_id)
    text = casework.clean_note(request.form.get("note", ""))
    if text is None:
        return redirect(
            url_for("ws.case_page", case_id=case_id, done="note_invalid") + "#notes", code=303
        )
    with workstation().transaction() as conn:
        casework.add_note(conn, case_id, _author(), text)
    return redirect(
        url_for("ws.case_page", case_id=case_id, done="note_added") + "#notes", code=303
    )


@bp.post("/cases/<rowid:case_id>/notes/<rowid:note_id>/delete")
def delete_note(case_id: int, note_id: int) -> Response:
    with workstation().transaction() as conn:
        casework.delete_note(conn, case_id, note_id)
    return redirect(
        url_for("ws.case_page", case_id=case_id, done="note_deleted") + "#notes", code=303
    )


@bp.post("/cases/<rowid:case_id>/tags")
def tags(case_id: int) -> Response:
    _case_or_404(case_id)
    tag = casework.clean_tag(request.form.get("tag", ""))
    done = "tag_invalid"
    if tag is not None:
        with workstation().transaction() as conn:
            if request.form.get("action") == "remove":
                casework.remove_tag(conn, case_id, tag)
                done = "tag_removed"
            else:
                done = "tag_added" if casework.add_tag(conn, case_id, tag) else "tags_full"
    return redirect(url_for("ws.case_page", case_id=case_id, done=done) + "#tags", code=303)


@bp.post("/cases/<rowid:case_id>/unread")
def mark_unread(case_id: int) -> Response:
    with workstation().transaction() as conn:
        casework.mark_unread(conn, case_id)
    return redirect(url_for("ws.cases"), code=303)


@bp.post("/cases/<rowid:case_id>/reply")
def reply(case_id: int) -> tuple[str, int] | Response:
    from .replies import add_reply

    detail = _detail(case_id)
    text = request.form.get("text", "").replace("\r\n", "\n").strip()
    lang = request.form.get("lang", "")
    if lang not in LOCALES:
        lang = current_language()
    if not text or len(text) > MAX_REPLY_CHARS:
        return redirect(
            url_for("ws.case_page", case_id=case_id, done="reply_invalid") + "#reply", code=303
        )
    if detail.case.withdrawn_day:
        return redirect(
            url_for("ws.case_page", case_id=case_id, done="withdrawn") + "#reply", code=303
        )
    ws = workstation()
    try:
        add_reply(*ws.opened(), case_id, text, lang, _author())
    except workstation_errors() as exc:
        # Her case page again, the reply still in the box, and why it was not sealed.
        log.info("reply not sealed: %s", type(exc).__name__)
        return _render_case(detail, None, text, lang, error_message(exc)), 400
    return redirect(
        url_for("ws.case_page", case_id=case_id, done="reply_added") + "#replies", code=303
    )


# --- files ------------------------------------------------------------------------


def _file(item_id: str) -> casework.FileInfo:
    if not ITEM_ID_RE.fullmatch(item_id):
        abort(404)
    with workstation().connection() as conn:
        info = casework.file_info(conn, item_id)
    if info is None:
        abort(404)
    return info


def renderings(info: casework.FileInfo) -> list[casework.Page]:
    """The safe renderings of an image or PDF: from the store, or made now in the
    sandbox (sanitize.py) and kept in the store. Raises UnsafeFile."""
    from . import sanitize

    ws = workstation()
    with _render_guard:
        lock = _render_locks.setdefault(info.item_id, threading.Lock())
    with lock:
        refused = ws.refused.get(info.item_id)
        if refused is not None:  # the sandbox said no once: not again for every request
            raise refused
        with ws.connection() as conn:
            pages = casework.cached_renderings(conn, info.item_id)
            if pages:
                return pages
            data = b"".join(casework.file_chunks(conn, info.item_id))
        try:
            made = (
                sanitize.render_pdf(data) if info.kind == "pdf" else [sanitize.render_image(data)]
            )
        except sanitize.UnsafeFile as exc:
            ws.refused[info.item_id] = exc
            raise
        with ws.transaction() as conn:
            casework.store_renderings(conn, info.item_id, made)
        return [casework.Page(bytes(p.png), int(p.width), int(p.height)) for p in made]


@bp.get("/files/<item_id>")
def file_page(item_id: str) -> str:
    info = _file(item_id)
    with workstation().connection() as conn:
        case_id = casework.file_case(conn, item_id)
    pages: list[casework.Page] = []
    problem = None
    if info.kind in ("image", "pdf"):
        try:
            pages = renderings(info)
        except workstation_errors() as exc:
            log.info("rendering refused: %s", type(exc).__name__)
            problem = error_message(exc)
    return render_template("file.html", f=info, pages=pages, problem=problem, case_id=case_id)


@bp.get("/files/<item_id>/page/<rowid:page>.png")
def file_rendering(item_id: str, page: int) -> Response:
    info = _file(item_id)
    if info.kind not in ("image", "pdf"):
        abort(404)
    try:
        pages = renderings(info)
    except workstation_errors() as exc:
        log.info("rendering refused: %s", type(exc).__name__)
        abort(422)
    if not 0 <= page < len(pages):
        abort(404)
    return Response(pages[page].png, mimetype="image/png")


def _download_name(name: str) -> str:
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return (cleaned.strip("._") or "file")[:100] + ".download"


@bp.get("/files/<item_id>/download")
def file_download(item_id: str) -> Response:
    info = _file(item_id)
    with workstation().connection() as conn:
        data = b"".join(casework.file_chunks(conn, info.item_id))
    response = Response(data, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="{_download_name(info.name)}"'
    response.headers["X-Download-Options"] = "noopen"
    return response
