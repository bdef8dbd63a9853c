"""What a lawyer does to a source: star, assign, mark read, reply, export.

Every action is a POST with the session's CSRF token and leaves an audit
line naming the staff member and the source's designation — never content.
Replies are sealed the moment they arrive (to the source and every
reviewer) and their text is never stored, logged or shown again here.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, redirect, request, stream_with_context, url_for
from werkzeug.wrappers import Response

from securedrop_like import bundles, models
from securedrop_like.config import LOCALES
from securedrop_like.db import today
from securedrop_like.errors import NotFound

from .auth import current_staff, staff_required

bp = Blueprint("staff_actions", __name__)
MAX_REPLY_CHARS = 20_000


def _services() -> Any:
    from .app import staff_services

    return staff_services()


def _source(source_id: str) -> models.Source:
    source = (
        models.source_by_id(_services().db.reader(), source_id) if len(source_id) == 32 else None
    )
    if source is None:
        abort(404)
    return source


def _audit(action: str, target: str | None) -> None:
    _services().accounts.audit(current_staff().username, action, target, time.time())


def _back(source_id: str, done: str | None = None) -> Response:
    return redirect(url_for("staff_inbox.source_page", source_id=source_id, done=done), code=303)


@bp.post("/sources/<source_id>/star")
@staff_required
def star(source_id: str) -> Response:
    source = _source(source_id)
    starred = request.form.get("starred") == "1"
    _services().reports.writer.command("set_star", (source.id, starred))
    _audit("star" if starred else "unstar", source.designation)
    return _back(source.id)


@bp.post("/sources/<source_id>/assign")
@staff_required
def assign(source_id: str) -> Response:
    source = _source(source_id)
    username = current_staff().username if request.form.get("to") == "me" else None
    _services().reports.writer.command("assign", (source.id, username))
    _audit("assign" if username else "unassign", source.designation)
    return _back(source.id)


@bp.post("/sources/<source_id>/read")
@staff_required
def mark_read(source_id: str) -> Response:
    source = _source(source_id)
    read = request.form.get("read") == "1"
    wanted = set(request.form.getlist("item"))
    items = [i.id for i in models.items_of(_services().db.reader(), source.id) if i.id in wanted]
    if items:
        _services().reports.writer.command("mark_staff_read", (source.id, items, read))
        _audit("mark_read" if read else "mark_unread", source.designation)
    return _back(source.id)


@bp.post("/sources/<source_id>/reply")
@staff_required
def reply(source_id: str) -> Response:
    source = _source(source_id)
    text = request.form.get("text", "").replace("\r\n", "\n").strip()
    lang = request.form.get("lang", "")
    if not text or len(text) > MAX_REPLY_CHARS or lang not in LOCALES:
        return _back(source.id, "reply_invalid")
    try:
        _services().reports.place_reply(source.id, text, lang, author=current_staff().username)
    except NotFound:
        abort(404)
    _audit("reply", source.designation)
    return _back(source.id, "reply_sent")


@bp.post("/export")
@staff_required
def export() -> Response:
    """Stream an export bundle: the chosen items, or all unread, or all not yet exported."""
    reports = _services().reports
    conn = _services().db.reader()
    which = request.form.get("which", "selected")
    chosen = set(request.form.getlist("item"))
    rows = conn.execute(
        "SELECT i.id, s.designation, i.kind, i.parent_id, i.day, i.size, i.staff_read, i.exported,"
        " i.source_id FROM items AS i JOIN sources AS s ON s.id = i.source_id ORDER BY s.id, i.seq"
    ).fetchall()
    picked = [
        r
        for r in rows
        if (which == "selected" and r[0] in chosen)
        or (which == "unread" and not r[6] and r[2] != "reply")
        or (which == "new" and not r[7])
    ]
    items = [
        bundles.ExportItem(
            r[0], r[1], r[2], r[3], r[4], r[5], open=_opener(reports, conn, r[0], r[8])
        )
        for r in picked
    ]
    plan = bundles.plan_export(items, models.retractions(conn), today())
    reports.writer.command("mark_exported", ([r[0] for r in picked],))
    _audit("export", f"{plan.count} items")
    name = f"sesim-export-{today()}.tar"
    response = Response(stream_with_context(plan.chunks()), mimetype="application/x-tar")
    response.headers["Content-Length"] = str(plan.size)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _opener(reports: Any, conn: Any, item_id: str, source_id: str) -> Any:
    def open_item() -> Any:
        import io

        item = models.item_of(conn, source_id, item_id)
        if item is None:
            raise OSError("the item was deleted")
        if item.is_inline:
            return io.BytesIO(reports.ciphertext(item))
        return reports.store.open(item_id)

    return open_item

