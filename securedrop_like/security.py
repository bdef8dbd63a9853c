"""Secure by default for every Səsim web app: headers, CSRF, safe redirects.

Every response gets a strict CSP, no referrer, no caching, no framing. Every
POST must carry the session's CSRF token; a view opts out only with the
visible :func:`csrf_exempt` decorator, and a view that wants to re-show a
form with what she typed (rather than fail) uses :func:`csrf_soft` and checks
``csrf_failed()`` itself.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, g, request, session

F = TypeVar("F", bound=Callable[..., Any])

CSRF_FIELD = "csrf_token"
CSRF_SESSION_KEY = "_csrf"
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


def csrf_token() -> str:
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return str(token)


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
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.form.get(CSRF_FIELD, "")
    ok = bool(expected) and hmac.compare_digest(str(expected).encode(), sent.encode())
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
