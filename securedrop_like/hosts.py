"""Answer only under this instance's own names: its onion address (and mirror).

A reverse proxy or port forward set up by mistake could otherwise publish an
app under a clearnet name, or let anyone who scans addresses find out that a
server runs Səsim. So every request whose ``Host`` is not the configured
onion address (for the source interface also the optional clearnet mirror)
gets a short, neutral 421 page before any view, form check or static file:
no instance name, no link, nothing that says what lives here.

With no onion configured (local development, the demo, tests) only
``localhost``, ``127.0.0.1`` and ``[::1]`` are accepted.

Responses through the mirror (``clearnet_url`` is https:// by the config's
rule) carry ``Strict-Transport-Security``; over the onion there is none.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from flask import Flask, request
from markupsafe import escape
from werkzeug.wrappers import Response

from .config import Config
from .i18n import current_language
from .i18n import gettext as _

Part = Literal["source", "staff"]
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MISDIRECTED = 421
HSTS = "max-age=63072000"  # two years


def host_name(value: str) -> str:
    """The name in a Host header: lower case, without port, brackets or final dot."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8080
        end = value.find("]")
        return value[1:end] if end > 0 else ""
    name, _colon, port = value.partition(":")
    if port and not port.isdigit():
        return ""
    return name.rstrip(".")


def clearnet_host(config: Config) -> str:
    return (urlsplit(config.clearnet_url).hostname or "") if config.clearnet_url else ""


def allowed_hosts(config: Config, part: Part) -> frozenset[str]:
    """The names ``part`` answers under."""
    if part == "source":
        names = {config.onion_address, clearnet_host(config)}
    else:
        names = {config.staff_onion_address}
    names.discard("")
    extra = {host_name(h) for h in config.extra_hosts.split(",")} - {""}
    return frozenset(names | extra) if names else LOCAL_HOSTS | extra


def refusal() -> Response:
    title = _("Wrong address")
    message = _("Nothing is here under this address. Check the address and try again.")
    body = (
        f'<!doctype html><html lang="{escape(current_language())}"><meta charset="utf-8">'
        f"<title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(message)}</p></html>"
    )
    return Response(body, MISDIRECTED, content_type="text/html; charset=utf-8")


def init_host_check(app: Flask, part: Part) -> None:
    """Refuse a foreign Host before anything else runs (first before-request hook)."""
    config: Config = app.config["SESIM"]
    allowed = allowed_hosts(config, part)
    mirror = clearnet_host(config) if part == "source" else ""

    def check() -> Response | None:
        if host_name(request.environ.get("HTTP_HOST", "")) in allowed:
            return None
        return refusal()

    def on_clearnet_mirror() -> bool:
        return bool(mirror) and host_name(request.environ.get("HTTP_HOST", "")) == mirror

    def strict_transport(response: Response) -> Response:
        # Only the https mirror: browsers then never try it over plain http.
        # (Its cookie is __Host- and Secure: see sessions.MemorySessionInterface.)
        if on_clearnet_mirror():
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    app.before_request_funcs.setdefault(None, []).insert(0, check)
    app.after_request(strict_transport)
    app.jinja_env.globals["on_clearnet_mirror"] = on_clearnet_mirror
