"""Secure by default for every Səsim web app: headers, CSRF, safe redirects.

Every response gets a strict CSP, no referrer, no caching, no framing. Every
POST must carry a valid CSRF token; a view opts out only with the visible
:func:`csrf_exempt` decorator, and a view that wants to re-show a form with
what she typed (rather than fail) uses :func:`csrf_soft` and checks
``csrf_failed()`` itself.

CSRF tokens are stateless, so a page with a form creates no session (a flood
of page views then takes no session slot): a token is an HMAC, under a key
derived from the app's secret, of the app, a coarse time window and what the
request is bound to — a value derived from the session's cookie key when
there is a session (so a token never works in another session), else a value
derived from the *form cookie*. The window is not written in the token
(nothing in a page tells when it was loaded); a token is valid in its window
and the next (4 to 8 hours). A POST that the browser says came from another
site (``Sec-Fetch-Site``) fails whatever its token.

The form cookie (``sesim_form``; ``__Host-sesim_form`` and Secure on the https
mirror, like the session cookie) is a random value a page with a form sets
for a visitor without a session: a browser-session cookie, HttpOnly and
SameSite=Strict, that is no session (it takes no slot and holds nothing). A
cookieless POST is valid only with the form cookie its token was made for, so
a POST kept in the browser's history cannot be replayed once that cookie is
gone: a view that must not run twice (her report) ends it with
:func:`end_form_cookie`, and so does Quick exit. :func:`csrf_replay_suspected`
tells a soft view when a failed POST's token was made for no cookie the
request carries (an expired form of hers still matches its own cookie, in an
older window): it must then show nothing that was sent — it may be someone
else resending her form.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, request, session

F = TypeVar("F", bound=Callable[..., Any])

CSRF_FIELD = "csrf_token"
# Only for a session interface other than ours (see _binding).
CSRF_SESSION_KEY = "_csrf"
CSRF_WINDOW_SECONDS = 4 * 3600
FORM_COOKIE_NAME = "sesim_form"
SECURE_FORM_COOKIE_NAME = "__Host-sesim_form"
# How far back a failed token is still recognised as made for this very form
# cookie (her own browser, a form left open too long): 24 h of windows.
_RECOGNISED_WINDOWS = 6
_FORM_COOKIE_RE = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 random bytes, base64url
_SAME_SITE = frozenset({"same-origin", "none"})
BASE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def csrf_exempt(view: F) -> F:
    view._csrf_mode = "exempt"  # type: ignore[attr-defined]
    return view


def csrf_soft(view: F) -> F:
    view._csrf_mode = "soft"  # type: ignore[attr-defined]
    return view


def _form_cookie() -> tuple[str, bool]:
    """The form cookie's name and whether it is Secure: as the session cookie's."""
    on_mirror = getattr(current_app.session_interface, "on_mirror", None)
    if callable(on_mirror) and on_mirror(request):
        return SECURE_FORM_COOKIE_NAME, True
    return FORM_COOKIE_NAME, bool(current_app.config.get("SESSION_COOKIE_SECURE", False))


def _sent_form_cookie() -> str | None:
    """The form cookie this request came with, if it has the right shape."""
    value = request.cookies.get(_form_cookie()[0], "")
    return value if _FORM_COOKIE_RE.fullmatch(value) else None


def _form_binding(value: str) -> bytes:
    return hashlib.sha256(b"sesim form binding\0" + value.encode()).digest()


def _binding(create: bool) -> bytes | None:
    """What this request's tokens are bound to; None: nothing (no token is valid)."""
    bound = getattr(session, "csrf_binding", None)
    if callable(bound):  # sessions.ServerSession: derived from the cookie's key
        value: bytes | None = bound()
        if value is not None:
            return value
        # No session: the form cookie, set with this response if there is none.
        if g.get("form_cookie_ended"):  # a form shown now could never be sent
            return _form_binding(secrets.token_urlsafe(32)) if create else None
        cookie = g.get("new_form_cookie") or _sent_form_cookie()
        if cookie is None and create:
            cookie = g.new_form_cookie = secrets.token_urlsafe(32)
        return _form_binding(cookie) if cookie else None
    # Any other session interface: a random value kept in the session.
    token = session.get(CSRF_SESSION_KEY)
    if not token and create:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return str(token).encode() if token else None


def end_form_cookie() -> None:
    """Expire the form cookie with this response (after her report, at Quick exit):
    a token made for it never works again, even resent by her own browser."""
    g.form_cookie_ended = True
    g.pop("new_form_cookie", None)


def _send_form_cookie(response: Response) -> Response:
    if not (g.get("form_cookie_ended") or g.get("new_form_cookie")):
        return response  # most responses: nothing to set or delete
    name, secure = _form_cookie()
    if g.get("form_cookie_ended"):
        response.delete_cookie(name, path="/", httponly=True, samesite="Strict", secure=secure)
    elif g.get("new_form_cookie"):
        # No Expires/Max-Age: it dies with the browser, like the session cookie.
        response.set_cookie(
            name, g.new_form_cookie, httponly=True, samesite="Strict", secure=secure, path="/"
        )
    return response


@functools.lru_cache(maxsize=8)
def _csrf_key(secret: bytes) -> bytes:
    """The app secret's key for CSRF tokens (one purpose, one key), derived once."""
    return hmac.new(secret, b"sesim-csrf", hashlib.sha256).digest()


def _mac(window: int, binding: bytes) -> str:
    secret = current_app.config["SECRET_KEY"]
    key = _csrf_key(secret.encode() if isinstance(secret, str) else bytes(secret))
    message = f"{current_app.name}\0{window}\0".encode() + binding
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _window() -> int:
    return int(time.time() // CSRF_WINDOW_SECONDS)


def _matches(sent: str, binding: bytes, windows: range) -> bool:
    return any(
        hmac.compare_digest(sent.encode(), _mac(window, binding).encode()) for window in windows
    )


def _well_formed(sent: str) -> bool:
    return bool(sent) and len(sent) <= 100 and sent.isascii()


def csrf_token() -> str:
    binding = _binding(create=True)
    assert binding is not None  # noqa: S101 - create=True always binds
    return _mac(_window(), binding)


def csrf_valid(sent: str) -> bool:
    """Whether ``sent`` is a token of this request's session (or of its form
    cookie, for a request without one), from this time window or the one before."""
    if not _well_formed(sent):
        return False
    binding = _binding(create=False)
    if binding is None:
        return False
    now = _window()
    return _matches(sent, binding, range(now - 1, now + 1))


def csrf_failed() -> bool:
    return bool(g.get("csrf_failed", False))


def csrf_replay_suspected() -> bool:
    """The soft check failed, and nothing says the POST came from the browser its
    form was given to: its token was made (only too long ago) neither for the
    session cookie nor for the form cookie this request carries. It may be
    someone resending a form from her history (any session of theirs, such as
    a language choice, proves nothing): a soft view then shows nothing of what
    was sent."""
    if not csrf_failed():
        return False
    sent = request.form.get(CSRF_FIELD, "")
    if not _well_formed(sent):
        return True
    bindings = []
    bound = getattr(session, "csrf_binding", None)
    if callable(bound) and getattr(session, "from_cookie", False):
        bindings.append(bound())
    cookie = _sent_form_cookie()
    if cookie is not None:
        bindings.append(_form_binding(cookie))
    now = _window()
    windows = range(now - _RECOGNISED_WINDOWS, now + 1)
    return not any(b is not None and _matches(sent, b, windows) for b in bindings)


class CSRFError(Exception):
    """A POST without the right token (an expired form, or a forged request)."""


def _check_csrf(app: Flask) -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    view = app.view_functions.get(request.endpoint or "")
    mode = getattr(view, "_csrf_mode", "strict")
    if mode == "exempt":
        return
    fetched_from = request.headers.get("Sec-Fetch-Site")
    ok = fetched_from in (None, *_SAME_SITE) and csrf_valid(request.form.get(CSRF_FIELD, ""))
    if not ok:
        if mode == "soft":
            g.csrf_failed = True
            return
        raise CSRFError()


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to, never another host (no open redirect)."""
    if not target or len(target) > 500:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


SECURITY_HEADERS = (
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
# Headers an app or Werkzeug may set that ours replace or that leak timing.
_REPLACED = {name.lower() for name, _ in SECURITY_HEADERS} | {
    "content-security-policy",
    "last-modified",
    "etag",
    "server",
    "date",
}


class SecurityHeaders:
    """WSGI middleware: the security headers on every response, whatever made it.

    Outside Flask on purpose: error pages, static files and anything a later
    blueprint forgets all pass through here. It works on the raw header list,
    which is also the cheapest place to do it.
    """

    def __init__(self, app: Any, csp: str) -> None:
        self.app = app
        self.headers = [*SECURITY_HEADERS, ("Content-Security-Policy", csp)]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [h for h in headers if h[0].lower() not in _REPLACED]
            return start_response(status, kept + self.headers, exc_info)

        return self.app(environ, start)


def init_security(app: Flask, csp: str = BASE_CSP) -> None:
    app.before_request(lambda: _check_csrf(app))
    app.after_request(_send_form_cookie)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.wsgi_app = SecurityHeaders(app.wsgi_app, csp)  # type: ignore[method-assign]


def require(condition: bool, status: int = 404) -> None:
    if not condition:
        abort(status)
