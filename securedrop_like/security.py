"""Secure by default for every Səsim web app: headers, CSRF, safe redirects.

Every response gets a strict CSP, no referrer, no caching, no framing. Every
POST must carry a valid CSRF token; a view opts out only with the visible
:func:`csrf_exempt` decorator, and a view that wants to re-show a form with
what she typed (rather than fail) uses :func:`csrf_soft` and checks
``csrf_failed()`` itself.

CSRF tokens are stateless, so a page with a form creates no session (a flood
of page views then takes no session slot): a token is an HMAC, under a key
derived from the app's secret, of the app, a coarse time window and what the
session is bound to — a value derived from the session's cookie key when
there is a session (so a token never works in another session), "anon" for
a request with no session. The window is not written in the token (nothing
in a page tells when it was loaded); a token is valid in its window and the
next (4 to 8 hours). A POST that the browser says came from another site
(``Sec-Fetch-Site``) fails whatever its token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, request, session

F = TypeVar("F", bound=Callable[..., Any])

CSRF_FIELD = "csrf_token"
# Only for a session interface other than ours (see _binding).
CSRF_SESSION_KEY = "_csrf"
CSRF_WINDOW_SECONDS = 4 * 3600
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


def _binding(create: bool) -> bytes:
    """What this request's tokens are bound to."""
    bound = getattr(session, "csrf_binding", None)
    if callable(bound):  # sessions.ServerSession: derived from the cookie's key
        value = bound()
        return value if value is not None else b"anon"
    # Any other session interface: a random value kept in the session.
    token = session.get(CSRF_SESSION_KEY)
    if not token and create:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return str(token).encode() if token else b"anon"


def _mac(window: int, binding: bytes) -> str:
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else bytes(secret)
    key = hmac.new(secret, b"sesim-csrf", hashlib.sha256).digest()
    message = f"{current_app.name}\0{window}\0".encode() + binding
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _window() -> int:
    return int(time.time() // CSRF_WINDOW_SECONDS)


def csrf_token() -> str:
    return _mac(_window(), _binding(create=True))


def csrf_valid(sent: str) -> bool:
    """Whether ``sent`` is a token of this request's session (or of no session,
    for a request without one), from this time window or the one before."""
    if not sent or len(sent) > 100:
        return False
    binding = _binding(create=False)
    now = _window()
    return any(
        hmac.compare_digest(sent.encode(), _mac(window, binding).encode())
        for window in (now, now - 1)
    )


def csrf_failed() -> bool:
    return bool(g.get("csrf_failed", False))


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
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.wsgi_app = SecurityHeaders(app.wsgi_app, csp)  # type: ignore[method-assign]


def require(condition: bool, status: int = 404) -> None:
    if not condition:
        abort(status)
