"""Replies prepared offline: reply-bundle upload, and the reply templates admins edit.

A reply bundle (see securedrop_like/BUNDLES.md) comes from the reviewer
workstation with replies already sealed there. This server cannot read them;
it checks everything it can before storing any (format, version, hashes,
that each names an existing source by designation, that each id is new and
that each is sealed to that source's key so she can open it) and then stores
them all as they are, or none.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from crypto import PublicKey
from securedrop_like import bundles, models
from securedrop_like.config import LOCALES
from securedrop_like.i18n import gettext as _
from securedrop_like.i18n import ngettext

from . import reply_templates
from .admin import admin_required
from .auth import audit, staff_required
from .services import staff_services

bp = Blueprint("staff_replies", __name__)
MAX_BUNDLE_BYTES = 16 * 1024 * 1024  # the staff app's MAX_CONTENT_LENGTH


class ReplyRefused(Exception):
    """A reply bundle the server will not store; ``message`` is translated."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


@bp.get("/replies/upload")
@staff_required
def upload_form() -> str:
    return render_template("upload_replies.html")


@bp.post("/replies/upload")
@staff_required
def upload() -> Any:
    upload = request.files.get("bundle")
    if upload is None or not upload.filename:
        return _refused(ReplyRefused(_("Choose a reply bundle file first.")))
    try:
        stored = _store_bundle(upload.stream)
    except ReplyRefused as exc:
        return _refused(exc)
    return render_template("upload_replies.html", stored=stored)


def _refused(exc: ReplyRefused) -> tuple[str, int]:
    return render_template("upload_replies.html", error=exc.message, detail=exc.detail), 400


def _store_bundle(stream: Any) -> list[tuple[str, int]]:
    """Check a whole bundle, then store every reply in it; (designation, count) per source."""
    try:
        replies = bundles.read_replies(stream, MAX_BUNDLE_BYTES)
    except bundles.BundleError as exc:
        message = _("This file is not a reply bundle this server can accept.")
        raise ReplyRefused(message, str(exc)) from exc
    if not replies:
        raise ReplyRefused(_("This reply bundle is empty."))
    conn = staff_services().db.reader()
    taken = models.existing_item_ids(conn, [r.id for r in replies])
    rows: list[tuple[str, str, str, bytes]] = []
    counts: dict[str, int] = {}
    for reply in replies:
        source = models.source_by_designation(conn, reply.source)
        if source is None:
            raise ReplyRefused(
                _(
                    "No source here has the designation %(source)s: she may have withdrawn."
                    " Nothing from this bundle was stored.",
                    source=reply.source,
                )
            )
        if reply.id in taken:
            raise ReplyRefused(
                _("This bundle was already uploaded. Nothing from it was stored again.")
            )
        if PublicKey(source.public_key).key_id not in reply.recipient_ids:
            raise ReplyRefused(
                _(
                    "A reply for %(source)s is not sealed to her key, so she could not read it."
                    " Nothing from this bundle was stored.",
                    source=reply.source,
                )
            )
        rows.append((source.id, reply.id, reply.author, reply.ciphertext))
        counts[source.designation] = counts.get(source.designation, 0) + 1
    staff_services().reports.store_sealed_replies(rows)
    for designation in counts:
        audit("reply_bundle", designation)
    return sorted(counts.items())


# -- templates -------------------------------------------------------------------------


@bp.get("/admin/templates")
@admin_required
def templates_page() -> str:
    return _templates_page(done=request.args.get("done"))


def _templates_page(
    done: str | None = None, error: tuple[str, str] | None = None, typed: str = ""
) -> str:
    current = reply_templates.all_templates(staff_services().db.reader())
    return render_template(
        "reply_templates.html",
        names=reply_templates.NAMES,
        templates=current,
        done=done,
        error=error,
        typed=typed,
        max_chars=reply_templates.MAX_TEMPLATE_CHARS,
    )


@bp.post("/admin/templates")
@admin_required
def templates_save() -> Any:
    code = request.form.get("code", "")
    lang = request.form.get("lang", "")
    if code not in reply_templates.CODES or lang not in LOCALES:
        abort(400)
    if request.form.get("action") == "reset":
        body = None
    else:
        body = reply_templates.clean_body(request.form.get("body", ""))
        if body is None:
            message = ngettext(
                "A template needs some text, at most %(num)s character.",
                "A template needs some text, at most %(num)s characters.",
                reply_templates.MAX_TEMPLATE_CHARS,
            )
            typed = request.form.get("body", "")
            return _templates_page(error=(f"{code}-{lang}", message), typed=typed), 400
    staff_services().reports.writer.command("set_reply_template", (code, lang, body))
    audit("template_edit", f"{code}/{lang}")
    return redirect(url_for("staff_replies.templates_page", done=f"{code}-{lang}"), code=303)
