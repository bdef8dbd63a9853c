"""What a lawyer does to a source: star, assign, set the case status, mark read,
reply, export.

Every action is a POST with the session's CSRF token and leaves an audit
line naming the staff member and the source's designation — never content.
Replies are sealed the moment they arrive (to the source and every
reviewer) and their text is never stored, logged or shown again here.
"""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.wrappers import Response

from securedrop_like import bundles, case_status, designations, models
from securedrop_like.config import LOCALES
from securedrop_like.db import today
from securedrop_like.documents import MAX_REPLY_CHARS
from securedrop_like.errors import NotFound
from securedrop_like.i18n import current_language, ngettext
from securedrop_like.i18n import gettext as _
from securedrop_like.security import csrf_failed, csrf_replay_suspected, csrf_soft

from . import exports, reply_templates
from .auth import (
    CarriedReply,
    audit,
    current_staff,
    logged_in,
    login_carrying,
    staff_required,
)
from .services import assignee, source_or_404, staff_services

bp = Blueprint("staff_actions", __name__)


def _back(source_id: str, done: str | None = None) -> Response:
    return redirect(url_for("staff_inbox.source_page", source_id=source_id, done=done), code=303)


@bp.post("/sources/<source_id>/star")
@staff_required
def star(source_id: str) -> Response:
    source = source_or_404(source_id)
    starred = request.form.get("starred") == "1"
    staff_services().reports.writer.command("set_stars", ([source.id], starred))
    audit("star" if starred else "unstar", source.designation)
    return _back(source.id)


@bp.post("/sources/<source_id>/assign")
@staff_required
def assign(source_id: str) -> Response:
    """Assign to oneself, to any enabled colleague (``to=<username>``), or to nobody."""
    source = source_or_404(source_id)
    username = assignee(request.form.get("to"), current_staff().username)
    if username is None:
        return _back(source.id, "assign_invalid")
    staff_services().reports.writer.command("assign_many", ([source.id], username or None))
    if username:
        audit("assign", assign_target(source.designation, username))
    else:
        audit("unassign", source.designation)
    return _back(source.id)


def assign_target(designation: str, username: str) -> str:
    """The audit target of an assignment: the designation, then to whom."""
    return f"{designation} {username}"


def status_target(designation: str, old: str, new: str) -> str:
    """The audit target of a status change: the designation, the old and the new code."""
    return f"{designation} {old} {new}"


@bp.post("/sources/<source_id>/status")
@staff_required
def set_status(source_id: str) -> Response:
    """Set the case status (metadata like the star; audited old → new)."""
    source = source_or_404(source_id)
    status = request.form.get("status", "")
    if status not in case_status.CODES:
        return _back(source.id, "status_invalid")
    changed = staff_services().reports.set_case_status([source.id], status)
    for _id, old in changed:
        audit("case_status", status_target(source.designation, old, status))
    return _back(source.id, "status_set")


@bp.post("/sources/<source_id>/read")
@staff_required
def mark_read(source_id: str) -> Response:
    source = source_or_404(source_id)
    read = request.form.get("read") == "1"
    wanted = set(request.form.getlist("item"))
    items = [
        i.id for i in models.items_of(staff_services().db.reader(), source.id) if i.id in wanted
    ]
    if items:
        staff_services().reports.writer.command("mark_staff_read", (source.id, items, read))
        audit("mark_read" if read else "mark_unread", source.designation)
    return _back(source.id)


@bp.post("/sources/<source_id>/items/delete")
@staff_required
def delete_items(source_id: str) -> Response | str:
    source = source_or_404(source_id)
    wanted = set(request.form.getlist("item"))
    items = [i for i in models.items_of(staff_services().db.reader(), source.id) if i.id in wanted]
    if not items:
        return _back(source.id, "nothing_selected")
    if request.form.get("confirm") != "1":
        return confirm(
            ngettext("Delete %(num)s item?", "Delete %(num)s items?", len(items)),
            _(
                "The selected items of %(source)s will be overwritten and deleted from the"
                " server. Copies already on the workstation are not touched. This cannot be"
                " undone.",
                source=designations.label(source.designation, current_language()),
            ),
            url_for("staff_actions.delete_items", source_id=source.id),
            [("item", i.id) for i in items],
            url_for("staff_inbox.source_page", source_id=source.id),
        )
    count = staff_services().reports.delete_items(source.id, [i.id for i in items])
    audit("delete_item", f"{source.designation} ({count})")
    return _back(source.id, "deleted")


@bp.post("/sources/<source_id>/delete")
@staff_required
def delete_source(source_id: str) -> Response | str:
    source = source_or_404(source_id)
    if request.form.get("confirm") != "1":
        return confirm(
            _("Delete this source?"),
            _(
                "Everything %(source)s sent and every reply to her will be overwritten and"
                " deleted from the server, and her codename will no longer open anything."
                " This cannot be undone.",
                source=designations.label(source.designation, current_language()),
            ),
            url_for("staff_actions.delete_source", source_id=source.id),
            [],
            url_for("staff_inbox.source_page", source_id=source.id),
        )
    try:
        staff_services().reports.delete_source(source.id)
    except NotFound:
        abort(404)
    audit("delete_source", source.designation)
    return redirect(url_for("staff_inbox.inbox", done="source_deleted"), code=303)


#: The inbox's filters and page, carried through a bulk action (as ``keep_<name>``) so
#: that she lands back on the same filtered page.
KEPT = ("unread", "starred", "assigned", "status", "q", "after")


def _inbox(done: str) -> Response:
    kept: dict[str, Any] = {k: v[:200] for k in KEPT if (v := request.form.get(f"keep_{k}", ""))}
    return redirect(url_for("staff_inbox.inbox", done=done, **kept), code=303)


BULK_ACTIONS = (
    "star",
    "unstar",
    "assign",
    "assign_to",
    "unassign",
    "status",
    "read",
    "unread",
    "delete",
)


@bp.post("/sources/bulk")
@staff_required
def bulk() -> Response | str:
    """One action on the sources ticked in the inbox."""
    action = request.form.get("action", "")
    wanted = list(dict.fromkeys(request.form.getlist("source")))[:500]
    conn = staff_services().db.reader()
    sources = [
        s for s in (models.source_by_id(conn, i) for i in wanted if len(i) == 32) if s is not None
    ]
    if action not in BULK_ACTIONS:
        abort(400)
    if not sources:
        return _inbox("nothing_selected")
    ids = [s.id for s in sources]
    writer = staff_services().reports.writer
    if action == "delete":
        if request.form.get("confirm") != "1":
            return confirm(
                ngettext("Delete %(num)s source?", "Delete %(num)s sources?", len(sources)),
                _(
                    "Everything these sources sent and every reply to them will be overwritten"
                    " and deleted from the server. This cannot be undone."
                ),
                url_for("staff_actions.bulk"),
                [("action", "delete"), *(("source", i) for i in ids)],
                url_for("staff_inbox.inbox"),
            )
        for source in sources:
            try:
                staff_services().reports.delete_source(source.id)
            except NotFound:
                continue  # deleted meanwhile by someone else
            audit("delete_source", source.designation)
        return _inbox("sources_deleted")
    me = current_staff().username
    accounts = staff_services().accounts
    if action == "status":
        status = request.form.get("status", "")
        if status not in case_status.CODES:
            return _inbox("choose_status")
        changed = dict(staff_services().reports.set_case_status(ids, status))
        targets = [
            status_target(s.designation, changed[s.id], status) for s in sources if s.id in changed
        ]
        accounts.audit_many(me, "case_status", targets, time.time())
        return _inbox("bulk_done")
    if action in ("assign", "assign_to"):
        username = me if action == "assign" else assignee(request.form.get("to", ""), me)
        if username is None:
            return _inbox("choose_person")
        if username:
            writer.command("assign_many", (ids, username))
            targets = [assign_target(s.designation, username) for s in sources]
            accounts.audit_many(me, "assign", targets, time.time())
            return _inbox("bulk_done")
        action = "unassign"
    if action in ("star", "unstar"):
        writer.command("set_stars", (ids, action == "star"))
    elif action == "unassign":
        writer.command("assign_many", (ids, None))
    else:
        writer.command("mark_sources_staff_read", (ids, action == "read"))
    label = {"read": "mark_read", "unread": "mark_unread"}.get(action, action)
    accounts.audit_many(me, label, [s.designation for s in sources], time.time())
    return _inbox("bulk_done")


def confirm(
    title: str, message: str, action: str, fields: list[tuple[str, str]], cancel: str
) -> str:
    """A page asking to confirm a destructive POST; it repeats the POST with confirm=1."""
    return render_template(
        "confirm.html", title=title, message=message, action=action, fields=fields, cancel=cancel
    )


@bp.post("/sources/<source_id>/reply")
@csrf_soft
def reply(source_id: str) -> Response | str | tuple[str, int]:
    """Send a reply, or (button "Add this template") add a template to what she typed.
    Posted after her session ended, the reply comes back in the log-in form and is
    sent once she has logged in: typed text is never lost."""
    form = request.form
    text, lang = form.get("text", ""), form.get("lang", "")
    if csrf_replay_suspected():  # not a form this browser was given: show nothing of it
        abort(400)
    if not logged_in() or csrf_failed():
        return login_carrying(CarriedReply(source_id if len(source_id) == 32 else "", text, lang))
    if form.get("action") == "template":
        return _add_template(source_or_404(source_id), text)
    return send_reply(source_id, text, lang)


def send_reply(source_id: str, typed: str, lang: str) -> Response:
    """Seal and store a reply of the logged-in staff member (``g.staff``)."""
    source = source_or_404(source_id)
    text = typed.replace("\r\n", "\n").strip()
    if not text or len(text) > MAX_REPLY_CHARS or lang not in LOCALES:
        return _back(source.id, "reply_invalid")
    try:
        staff_services().reports.place_reply(source.id, text, lang, author=current_staff().username)
    except NotFound:
        abort(404)
    audit("reply", source.designation)
    return _back(source.id, "reply_sent")


def _add_template(source: Any, typed: str) -> str:
    """Her page again, with the chosen template added after what she typed (held in
    this response only, never stored)."""
    from .inbox_views import render_source_page

    conn = staff_services().db.reader()
    chosen = reply_templates.template(
        conn, request.form.get("template", ""), request.form.get("tlang", "")
    )
    typed = typed.replace("\r\n", "\n").rstrip()
    if chosen is None:
        return render_source_page(source, reply_text=typed)
    text = f"{typed}\n\n{chosen.body}" if typed.strip() else chosen.body
    return render_source_page(source, reply_text=text, reply_lang=chosen.lang, chosen=chosen)


@bp.get("/sources/<source_id>/items/<item_id>")
@staff_required
def download_item(source_id: str, item_id: str) -> Response:
    """One item's ciphertext, as stored: it opens only on the workstation. A HEAD
    request gets the headers only: nothing opened, audited or marked."""
    source = source_or_404(source_id)
    reports = staff_services().reports
    conn = staff_services().db.reader()
    item = models.item_of(conn, source.id, item_id) if len(item_id) == 32 else None
    if item is None:
        abort(404)
    if request.method == "HEAD":
        response = Response(b"", mimetype="application/octet-stream")
    else:
        reader = exports.opener(reports, conn, item.id, source.id)()
        audit("download", f"{source.designation} #{item.seq}")
        response = Response(_blocks(reader, reports, item.id), mimetype="application/octet-stream")
    response.headers["Content-Length"] = str(item.size)
    response.headers["Content-Disposition"] = f'attachment; filename="{item.id}.sesim"'
    return response


def _blocks(reader: Any, reports: Any, item_id: str) -> Any:
    """The item's blocks; marked exported only once the last one was handed on."""
    with reader:
        while block := reader.read(bundles.BLOCK_SIZE):
            yield block
    reports.writer.command("mark_exported", ([item_id],))


@bp.post("/export")
@staff_required
def export() -> Response:
    """Stream an export bundle: the chosen items, or all unread, or all not yet exported.
    Nothing chosen, or nothing to carry, says so instead of sending an empty bundle."""
    reports = staff_services().reports
    which = request.form.get("which", "selected")
    if which not in exports.EXPORT_BUTTONS:
        abort(400)
    chosen = request.form.getlist("source" if which == "sources" else "item")
    back = request.args.get("back", "")
    if which in ("selected", "sources") and not chosen:
        return _nothing(back, "nothing_selected")
    job = exports.plan(reports, staff_services().db.reader(), which, chosen, today())
    if job.empty:
        return _nothing(back, "nothing_selected" if chosen else "nothing_to_export")
    # One row naming every source in the bundle (designations only, never content).
    audit("export", f"{job.plan.count} items: {', '.join(job.designations)}")
    name = f"sesim-export-{today()}.tar"
    # Marked exported after the last chunk only: a dropped download loses nothing.
    chunks = stream_with_context(exports.stream(reports, job))
    response = Response(chunks, mimetype="application/x-tar")
    response.headers["Content-Length"] = str(job.plan.size)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _nothing(back: str, done: str) -> Response:
    """Back to the page the export was asked from (a source's, else the inbox), saying so."""
    conn = staff_services().db.reader()
    source = models.source_by_id(conn, back) if len(back) == 32 else None
    if source is not None:
        return _back(source.id, done)
    return redirect(url_for("staff_inbox.inbox", done=done), code=303)
