"""The inbox: sources by designation, newest activity first; a source's items."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, render_template, request

from securedrop_like import designations, inbox, models
from securedrop_like.db import today
from securedrop_like.i18n import current_language
from securedrop_like.i18n import gettext as _

from . import reply_templates
from .auth import current_staff, staff_required
from .search import designation_filter
from .services import source_or_404, staff_services

bp = Blueprint("staff_inbox", __name__)


@bp.get("/", endpoint="inbox")
@staff_required
def inbox_page() -> str | tuple[str, int]:
    lang = current_language()
    mine = request.args.get("mine") == "1"
    query = request.args.get("q", "")[:100]
    wanted = designation_filter(query, lang) if query else None
    try:
        result = inbox.page(
            staff_services().db.reader(),
            cursor=request.args.get("after") or None,
            assigned_to=current_staff().username if mine else None,
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
        mine=mine,
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
    return render_template(
        "source.html",
        source=source,
        label=designations.label(source.designation, lang),
        items=items,
        done=request.args.get("done"),
        template_names=reply_templates.NAMES,
        chosen=chosen,
        reply_text=reply_text,
        reply_lang=reply_lang or (chosen.lang if chosen else lang),
    )
