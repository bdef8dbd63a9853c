"""Administration, for administrators only: staff accounts and the audit log.

What ``sesim staff add/list/disable/enable/reset-password/reset-2fa`` does on
the server's command line, an administrator can do here. A new passphrase or
TOTP secret is shown once, in the response to the POST that made it: never
in a URL, never in the session, never in a log or the audit log (which names
the account only). Every page already carries ``Cache-Control: no-store``
(:mod:`securedrop_like.security`), so the browser keeps no copy of it either.

The QR code is an inline ``<svg>`` made by segno: the strict CSP allows no
inline style, and an inline element needs no ``img-src`` at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

import segno
from flask import Blueprint, abort, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from securedrop_like import case_status, designations
from securedrop_like.i18n import current_language
from securedrop_like.i18n import gettext as _

from .accounts import USERNAME_RE, LastAdmin, StaffAccounts, StaffInfo, typed_username
from .audit import AuditEntry
from .auth import current_staff, staff_required
from .errors import InvalidLanguage, InvalidUsername, UnknownStaff, UsernameTaken
from .services import staff_services

bp = Blueprint("staff_admin", __name__, url_prefix="/admin")
F = TypeVar("F", bound=Callable[..., Any])

AUDIT_PAGE_ROWS = 100
MAX_ECHO = 100  # at most this much of a typed username is shown back in the form
_DESIGNATION = re.compile(r"[0-9a-f]{12}", re.ASCII)
#: Audit actions whose target is a username or a count, never a source designation.
_NOT_SOURCE_ACTIONS = frozenset(
    {
        "login",
        "login_failed",
        "login_refused_disabled",
        "staff_add",
        "staff_disable",
        "staff_enable",
        "staff_reset_password",
        "staff_reset_2fa",
        "export",
        "reply_bundle",
        "template_edit",
    }
)


def _accounts() -> StaffAccounts:
    return staff_services().accounts


def admin_required(view: F) -> F:
    """Only for a logged-in administrator: on top of :func:`.auth.staff_required`
    (which it applies itself, so it cannot be forgotten), anyone else gets a
    translated 403 page."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_staff().is_admin:
            return _forbidden()
        return view(*args, **kwargs)

    return staff_required(wrapped)  # type: ignore[return-value]


def _forbidden() -> tuple[str, int]:
    body = render_template(
        "error.html",
        title=_("For administrators only"),
        message=_(
            "Only an administrator can manage staff accounts and read the audit log. "
            "Ask an administrator if an account needs a change."
        ),
        status=403,
    )
    return body, 403


# -- staff accounts ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Typed:
    """What an administrator typed in the add form, to show it back after an error."""

    username: str = ""
    is_admin: bool = False
    language: str = ""


@dataclass(frozen=True)
class _Totp:
    """A TOTP secret as the page shows it (never in a repr, so never in a log)."""

    svg: Markup = field(repr=False)
    uri: str = field(repr=False)
    secret_groups: str = field(repr=False)


def _staff_page(
    *, error: str | None = None, typed: _Typed | None = None, status: int = 200
) -> tuple[str, int]:
    done = request.args.get("done") if request.method == "GET" else None
    name = request.args.get("name", "") if done else ""
    notice = None
    if USERNAME_RE.fullmatch(name):
        if done == "disabled":
            notice = _("%(name)s is disabled and their sessions have ended.", name=name)
        elif done == "enabled":
            notice = _("%(name)s can log in again.", name=name)
    body = render_template(
        "admin_staff.html",
        rows=_accounts().list(),
        me=current_staff().username,
        error=error,
        form_error=bool(error) and typed is not None,
        notice=notice,
        typed=typed or _Typed(language=current_language()),
    )
    return body, status


def _target(username: str) -> StaffInfo:
    if not USERNAME_RE.fullmatch(username):
        abort(404)
    try:
        return _accounts().info(username)
    except UnknownStaff:
        abort(404)


def _totp(secret: str, uri: str) -> _Totp:
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(scale=5, border=4, dark="#000", light="#fff", svgclass="qr", title=None)
    groups = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return _Totp(Markup(svg), uri, groups)  # noqa: S704 - segno's own markup, from our own URI


def _secret_page(
    kind: str, username: str, *, password: str | None = None, totp: _Totp | None = None
) -> str:
    return render_template(
        "admin_secret.html",
        kind=kind,
        name=username,
        password=password,
        totp=totp,
        is_self=username == current_staff().username,
    )


@bp.get("/staff")
@admin_required
def staff() -> tuple[str, int]:
    return _staff_page()


@bp.post("/staff/add")
@admin_required
def add_staff() -> Any:
    form = request.form
    raw = form.get("username", "")
    typed = _Typed(raw[:MAX_ECHO], form.get("is_admin") == "1", form.get("language", ""))
    username = raw.strip().lower()
    try:
        new = _accounts().add(
            username,
            is_admin=typed.is_admin,
            language=typed.language,
            actor=current_staff().username,
        )
    except InvalidUsername:
        message = _(
            "A username is 3 to 32 characters: small Latin letters (a–z), digits, "
            "dots, underscores or hyphens."
        )
        return _staff_page(error=message, typed=typed, status=400)
    except InvalidLanguage:
        return _staff_page(error=_("Choose a language from the list."), typed=typed, status=400)
    except UsernameTaken:
        message = _("There is already an account named %(name)s.", name=username)
        return _staff_page(error=message, typed=typed, status=409)
    totp = _totp(new.totp_secret, new.otpauth_uri)
    return _secret_page("add", new.username, password=new.password, totp=totp)


@bp.post("/staff/<username>/disable")
@admin_required
def disable(username: str) -> Any:
    target = _target(username)
    if target.username == current_staff().username:
        return _staff_page(error=_("You cannot disable your own account."), status=409)
    try:
        _accounts().disable(target.username, actor=current_staff().username, keep_an_admin=True)
    except LastAdmin:
        message = _(
            "%(name)s is the last enabled administrator. Add or enable another "
            "administrator first.",
            name=target.username,
        )
        return _staff_page(error=message, status=409)
    except UnknownStaff:
        abort(404)
    return _back("disabled", target.username)


@bp.post("/staff/<username>/enable")
@admin_required
def enable(username: str) -> Any:
    target = _target(username)
    try:
        _accounts().enable(target.username, actor=current_staff().username)
    except UnknownStaff:
        abort(404)
    return _back("enabled", target.username)


@bp.post("/staff/<username>/reset-password")
@admin_required
def reset_password(username: str) -> Any:
    target = _target(username)
    try:
        password = _accounts().reset_password(target.username, actor=current_staff().username)
    except UnknownStaff:
        abort(404)
    return _secret_page("password", target.username, password=password)


@bp.post("/staff/<username>/reset-2fa")
@admin_required
def reset_2fa(username: str) -> Any:
    target = _target(username)
    try:
        secret, uri = _accounts().reset_2fa(target.username, actor=current_staff().username)
    except UnknownStaff:
        abort(404)
    return _secret_page("2fa", target.username, totp=_totp(secret, uri))


def _back(done: str, username: str) -> Response:
    return redirect(url_for("staff_admin.staff", done=done, name=username), code=303)


@bp.get("/staff/add")
@bp.get("/staff/<username>/<action>")
@admin_required
def staff_action_get(username: str = "", action: str = "") -> Response:
    """The address of a POST-only action opened by GET (the language links of a
    page answering a POST lead here): back to the list, with nothing done."""
    return redirect(url_for("staff_admin.staff"), code=303)


# -- the audit log -----------------------------------------------------------------------


def action_labels() -> dict[str, str]:
    """A translated, human-readable label for every audit action we know."""
    return {
        "login": _("Logged in"),
        "login_failed": _("Failed log-in"),
        "login_refused_disabled": _("Log-in refused: account disabled"),
        "staff_add": _("Added a staff account"),
        "staff_disable": _("Disabled a staff account"),
        "staff_enable": _("Enabled a staff account"),
        "staff_reset_password": _("Reset a passphrase"),
        "staff_reset_2fa": _("Reset two-factor authentication"),
        "star": _("Starred a source"),
        "unstar": _("Removed a star"),
        "assign": _("Assigned a source"),
        "unassign": _("Unassigned a source"),
        "case_status": _("Changed a case status"),
        "mark_read": _("Marked items read"),
        "mark_unread": _("Marked items unread"),
        "reply": _("Replied"),
        "export": _("Downloaded an export bundle"),
        "delete_item": _("Deleted an item"),
        "delete_source": _("Deleted a source"),
        "reply_bundle": _("Uploaded a reply bundle"),
        "template_edit": _("Edited a reply template"),
        "download": _("Downloaded an item"),
    }


def _target_label(entry: AuditEntry, lang: str) -> str:
    target = entry.target or ""
    first, _sep, rest = target.partition(" ")
    if rest and entry.action in ("assign", "case_status") and _DESIGNATION.fullmatch(first):
        # "<designation> <username>" or "<designation> <old> <new>" (see actions.py)
        label = designations.label(first, lang)
        if entry.action == "assign":
            return f"{label} → {rest}"
        old, _sep, new = rest.partition(" ")
        return f"{label}: {case_status.label(old)} → {case_status.label(new)}"
    if entry.action not in _NOT_SOURCE_ACTIONS and _DESIGNATION.fullmatch(target):
        return designations.label(target, lang)  # staff never see a designation raw
    return target or "—"


def _minute(at: str) -> str:
    """``2024-03-05T10:07Z`` as people read it: ``2024-03-05 10:07`` (the column says UTC)."""
    return at.replace("T", " ").removesuffix("Z")


def _before(text: str | None) -> int | None:
    if text and text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


@bp.get("/audit")
@admin_required
def audit() -> str:
    before = _before(request.args.get("before"))
    who = typed_username(request.args.get("staff", "")) or None
    entries = _accounts().audit_entries(AUDIT_PAGE_ROWS + 1, before=before, staff=who)
    older = entries[AUDIT_PAGE_ROWS - 1].id if len(entries) > AUDIT_PAGE_ROWS else None
    labels = action_labels()
    lang = current_language()
    rows = [
        (e, _minute(e.at), labels.get(e.action, e.action), _target_label(e, lang))
        for e in entries[:AUDIT_PAGE_ROWS]
    ]
    return render_template("admin_audit.html", rows=rows, who=who or "", before=before, older=older)
