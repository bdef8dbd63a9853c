"""The inbox: sources by designation, newest activity first; a source's items."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, render_template, request

from securedrop_like import case_status, channel_notes, designations, inbox, models
from securedrop_like.db import today
from securedrop_like.i18n import current_language
from securedrop_like.i18n import gettext as _
from securedrop_like.intake_store import delivery_channel

from . import reply_templates
from .auth import current_staff, staff_required
from .search import designation_filter
from .services import active_usernames, source_or_404, staff_services

bp = Blueprint("staff_inbox", __name__)


def _filters(me: str) -> tuple[inbox.Filters, dict[str, str]]:
    """The inbox filters a GET asks for, and the same as URL arguments to keep in links.

    ``assigned`` is ``none`` (nobody), ``me`` or a username; ``mine=1`` (older
    links) means ``assigned=me``. Anything unknown is ignored: a filter never fails.
    """
    args = request.args
    assigned_arg = "me" if args.get("mine") == "1" else args.get("assigned", "")[:40]
    assigned: str | None = None
    if assigned_arg == "none":
        assigned = inbox.UNASSIGNED
    elif assigned_arg == "me":
        assigned = me
    elif assigned_arg:
        assigned = assigned_arg
    status = args.get("status", "")
    filters = inbox.Filters(
        unread=args.get("unread") == "1",
        starred=args.get("starred") == "1",
        assigned=assigned,
        status=status if status in case_status.CODES else None,
    )
    kept = {
        "unread": "1" if filters.unread else "",
        "starred": "1" if filters.starred else "",
        "assigned": assigned_arg if assigned is not None else "",
        "status": filters.status or "",
    }
    return filters, {k: v for k, v in kept.items() if v}


@bp.get("/", endpoint="inbox")
@staff_required
def inbox_page() -> str | tuple[str, int]:
    lang = current_language()
    me = current_staff().username
    filters, kept = _filters(me)
    query = request.args.get("q", "")[:100]
    if query:
        kept["q"] = query
    after = request.args.get("after") or None
    wanted = designation_filter(query, lang) if query else None
    try:
        result = inbox.page(
            staff_services().db.reader(),
            cursor=after,
            filters=filters,
            designation=wanted or (inbox.DesignationFilter(first=frozenset()) if query else None),
        )
    except inbox.BadCursor:
        return render_template(
            "error.html",
            title=_("This link does not work"),
            message=_(
                "The link to older sources was damaged. Start again from the first page "
                "of the inbox."
            ),
            status=400,
        ), 400
    rows = [(r, designations.label(r.designation, lang)) for r in result.rows]
    return render_template(
        "inbox.html",
        rows=rows,
        next_cursor=result.next_cursor,
        mine=filters.assigned == me and not (filters.unread or filters.starred or filters.status),
        filters=filters,
        kept=kept,
        after=after,
        # "Select all on this page" is a link back here with all=1: no JavaScript.
        all_selected=request.args.get("all") == "1",
        colleagues=active_usernames(),
        statuses=case_status.CASE_STATUSES,
        status_label=case_status.label,
        channel_label=channel_notes.label,
        query=query,
        no_match=bool(query) and wanted is None,
        done=request.args.get("done"),
        withdrawals=_recent_withdrawals(),
    )


def _recent_withdrawals() -> int:
    """How many sources withdrew in the last 30 days (a notice on the inbox)."""
    since = (dt.date.fromisoformat(today()) - dt.timedelta(days=30)).isoformat()
    row = (
        staff_services()
        .db.reader()
        .execute("SELECT count(*) FROM retractions WHERE day >= ?", (since,))
    )
    return int(row.fetchone()[0])


@bp.get("/withdrawals")
@staff_required
def withdrawals() -> str:
    """Sources who withdrew: reviewers must delete their copies and unpublish."""
    lang = current_language()
    rows = sorted(
        models.retractions(staff_services().db.reader()), key=lambda r: r.day, reverse=True
    )
    return render_template(
        "withdrawals.html",
        rows=[(r, designations.label(r.designation, lang)) for r in rows],
    )


@bp.get("/sources/<source_id>")
@staff_required
def source_page(source_id: str) -> str:
    source = source_or_404(source_id)
    chosen = reply_templates.template(
        staff_services().db.reader(),
        request.args.get("template", ""),
        request.args.get("tlang", current_language()),
    )
    return render_source_page(
        source, reply_text=chosen.body if chosen else "", reply_lang=None, chosen=chosen
    )


def render_source_page(
    source: Any,
    *,
    reply_text: str = "",
    reply_lang: str | None = None,
    chosen: reply_templates.Template | None = None,
) -> str:
    """A source's page; the reply box holds ``reply_text`` (what she typed, kept in
    the response only)."""
    conn = staff_services().db.reader()
    items = models.items_of(conn, source.id)
    lang = current_language()
    meta = inbox.source_meta(conn, source.id)
    return render_template(
        "source.html",
        source=source,
        meta=meta,
        colleagues=active_usernames(),
        statuses=case_status.CASE_STATUSES,
        status_label=case_status.label,
        channel_label=channel_notes.label,
        delivery=delivery_channel(conn, source.id) if source.channel != "web" else None,
        label=designations.label(source.designation, lang),
        items=items,
        done=request.args.get("done"),
        template_names=reply_templates.NAMES,
        chosen=chosen,
        reply_text=reply_text,
        reply_lang=reply_lang or (chosen.lang if chosen else lang),
    )
