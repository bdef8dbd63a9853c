"""Replies prepared offline: reply-bundle upload, and the reply templates admins edit.

A reply bundle (see securedrop_like/BUNDLES.md) comes from the reviewer
workstation with replies already sealed there. This server cannot read them;
it checks everything it can before storing any (format, version, hashes,
that each names an existing source by designation, that each id is new,
that each is sealed to that source's key so she can open it, and that each
is an envelope version 2 bound to its own reply id and to that source, so a
reply cannot be moved to another reply or source) and then stores them all
as they are, or none.

An uploaded bundle never touches ``/tmp``: the staff app's requests
(:class:`SpoolingRequest`) spool every uploaded file into a nameless file in
``<home>/run/spool`` (0700), overwritten with zeros when the request ends,
whatever happened. The audit log records who uploaded each bundle and how
many replies it held; a bundle's ``author`` (written on the workstation, not
checked here) is stored marked as such and shown as "written on the
workstation by …", never as if that account had replied online.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

from flask import (
    Blueprint,
    Request,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from crypto import EnvelopeContext, PublicKey
from securedrop_like import bundles, models
from securedrop_like.config import LOCALES
from securedrop_like.i18n import gettext as _
from securedrop_like.i18n import ngettext
from securedrop_like.store import anonymous_file, wipe_fd

from . import reply_templates
from .admin import admin_required
from .auth import audit, staff_required
from .services import staff_services

bp = Blueprint("staff_replies", __name__)
MAX_BUNDLE_BYTES = 16 * 1024 * 1024  # the staff app's MAX_CONTENT_LENGTH
# Stored before a bundle reply's author: no staff username can contain ":".
WORKSTATION_AUTHOR = "workstation:"


# -- spooling uploads inside the instance ----------------------------------------------


def spool_dir(home: Path) -> Path:
    return home / "run" / "spool"


def prepare_spool(home: Path) -> Path:
    """Create ``<home>/run/spool``, 0700 (and ``<home>/run``)."""
    folder = spool_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    for path in (folder.parent, folder):
        path.chmod(0o700)
    return folder


class SpoolingRequest(Request):
    """The staff app's request: uploaded files spool inside the instance, wiped at the end.

    Werkzeug would otherwise spool any file part over 500 KB to the system's
    temporary folder and leave its blocks there. Flask closes the request when
    its context ends, after errors too; :meth:`close` wipes every spool this
    request opened, including those of a form that failed half-way.
    """

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        spool = anonymous_file(spool_dir(current_app.config["SESIM"].home))
        # A second descriptor of our own: the file can be wiped even if someone
        # closed the stream first (the file lives while either is open).
        self.__dict__.setdefault("_spool_fds", []).append((spool, os.dup(spool.fileno())))
        return spool

    def close(self) -> None:
        try:
            for spool, fd in self.__dict__.pop("_spool_fds", []):
                try:
                    if not spool.closed:
                        spool.flush()
                    wipe_fd(fd)
                finally:
                    spool.close()
        finally:
            super().close()


class ReplyRefused(Exception):
    """A reply bundle the server will not store; ``message`` is translated."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


@bp.app_template_global()
def reply_author(author: str) -> str:
    """Who wrote a reply, as the staff source page shows it."""
    if author.startswith(WORKSTATION_AUTHOR):
        return _(
            "written on the workstation by %(author)s", author=author[len(WORKSTATION_AUTHOR) :]
        )
    return author


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
    except bundles.ReplyBindingError as exc:
        raise ReplyRefused(_not_bound(exc.item_id or "", exc.source), str(exc)) from exc
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
        if reply.context != EnvelopeContext.reply(reply.id, PublicKey(source.public_key)):
            raise ReplyRefused(
                _not_bound(reply.id, reply.source),
                f"reply {reply.id} is bound to another source's key",
            )
        rows.append((source.id, reply.id, WORKSTATION_AUTHOR + reply.author, reply.ciphertext))
        counts[source.designation] = counts.get(source.designation, 0) + 1
    staff_services().reports.store_sealed_replies(rows)
    # Who uploaded them (the logged-in account) and how many: one row per bundle.
    audit("reply_bundle", str(len(rows)))
    return sorted(counts.items())


def _not_bound(reply_id: str, source: str) -> str:
    return _(
        "The reply %(reply)s for %(source)s was not sealed for this reply and this source:"
        " it may have been moved from another. Nothing from this bundle was stored.",
        reply=reply_id,
        source=source,
    )


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
