"""Staff log-in (username, passphrase, 6-digit code) and the session that follows.

The session holds the staff id and the account's *generation*; every request
checks both against the database, so resetting a password or 2FA, or
disabling the account, ends every live session of that account at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from securedrop_like.documents import MAX_REPLY_CHARS
from securedrop_like.i18n import current_language
from securedrop_like.i18n import gettext as _
from securedrop_like.security import csrf_failed, csrf_replay_suspected, csrf_soft

from .accounts import StaffInfo
from .errors import AccountDisabled, BadCredentials, TooManyAttempts
from .services import staff_services

bp = Blueprint("staff_auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])
STAFF_ID = "staff_id"
GENERATION = "generation"


def current_staff() -> StaffInfo:
    staff: StaffInfo = g.staff
    return staff


def audit(action: str, target: str | None) -> None:
    """One audit row for what the logged-in staff member just did (see audit.py)."""
    staff_services().accounts.audit(current_staff().username, action, target, time.time())


def logged_in() -> bool:
    """Whether this request comes from a live staff session (then ``g.staff`` is set);
    a session that ended (reset, disabled) is ended here."""
    staff_id = session.get(STAFF_ID)
    if not staff_id:  # a visitor: no session to end, and none made for her
        return False
    staff = staff_services().accounts.by_id(staff_id)
    # One read: the account must exist, be enabled and be in this generation.
    if staff is None or staff.disabled or staff.generation != session.get(GENERATION):
        session.end(keep={"lang": current_language()})  # type: ignore[attr-defined]
        return False
    g.staff = staff
    return True


def staff_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not logged_in():
            return redirect(url_for("staff_auth.login"), code=303)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


@dataclass(frozen=True)
class CarriedReply:
    """A reply posted after her session ended: it was just sent by her own browser,
    so it goes back to it in the log-in form (hidden nowhere else, never stored
    here) and is sent once she has logged in."""

    source_id: str
    text: str
    lang: str

    @classmethod
    def from_form(cls, prefix: str = "reply_") -> CarriedReply | None:
        form = request.form
        source_id = form.get(prefix + "source", "")
        text = form.get(prefix + "text", "")
        if len(source_id) != 32 or not text.strip():
            return None
        return cls(source_id, text[: MAX_REPLY_CHARS * 2], form.get(prefix + "lang", ""))


def _render(
    error: str | None = None, status: int = 200, carried: CarriedReply | None = None
) -> tuple[str, int]:
    return render_template("login.html", error=error, carried=carried), status


def login_carrying(carried: CarriedReply) -> tuple[str, int]:
    """The log-in page with her reply in it, for a reply posted after the session ended."""
    return _render(carried=carried)


@bp.get("/login")
def login() -> Any:
    if session.get(STAFF_ID):
        return redirect(url_for("staff_inbox.inbox"), code=303)
    return _render()


@bp.post("/login")
@csrf_soft
def login_post() -> Any:
    # What she typed in a reply before her session ended travels with the form.
    carried = None if csrf_replay_suspected() else CarriedReply.from_form()
    if csrf_failed():
        return _render(_("This page had expired. Please log in again."), 400, carried)
    form = request.form
    try:
        staff = staff_services().accounts.authenticate(
            form.get("username", ""), form.get("password", ""), form.get("code", ""), time.time()
        )
    except BadCredentials:
        return _render(_("The username, passphrase or code is not right."), 400, carried)
    except AccountDisabled:
        return _render(_("This account is disabled. Ask an administrator."), 403, carried)
    except TooManyAttempts as exc:
        if carried is None:
            raise
        minutes = max(1, (exc.resets_in + 59) // 60)
        message = _(
            "Too many log-in attempts. Please wait %(minutes)s minutes and try again.",
            minutes=minutes,
        )
        return _render(message, 429, carried)
    lang = staff.language
    # First: a new id reserved as a protected session (Busy if there is no room).
    session.regenerate()  # type: ignore[attr-defined]
    session.clear()
    session["lang"] = lang
    session[STAFF_ID] = staff.id
    session[GENERATION] = staff.generation
    if carried is not None:
        g.staff = staff
        return send_carried(carried)
    return redirect(url_for("staff_inbox.inbox"), code=303)


def send_carried(carried: CarriedReply) -> Response:
    """Send a reply she wrote before her session ended, now that she is logged in."""
    from .actions import send_reply

    return send_reply(carried.source_id, carried.text, carried.lang)


@bp.post("/logout")
def logout() -> Response:
    session.end(keep={"lang": current_language()})  # type: ignore[attr-defined]
    return redirect(url_for("staff_auth.login"), code=303)


def init_errors(app: Flask) -> None:
    @app.errorhandler(TooManyAttempts)
    def throttled(exc: TooManyAttempts) -> Response:
        minutes = max(1, (exc.resets_in + 59) // 60)
        body = render_template(
            "error.html",
            title=_("Too many attempts"),
            message=_(
                "Too many log-in attempts. Please wait %(minutes)s minutes and try again.",
                minutes=minutes,
            ),
        )
        response = Response(body, 429, content_type="text/html; charset=utf-8")
        response.headers["Retry-After"] = str(exc.resets_in)
        return response
