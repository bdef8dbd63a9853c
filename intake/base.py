"""What every channel module shares: the app's context, the common receive path,
refusals, and the outbound Sender protocol.

The names here are an interface (the channel packages code against them): keep
them and their meanings.

A channel module (intake/sms.py, email.py, messenger.py, x.py) exposes::

    PROVIDERS: tuple[str, ...]          # its providers (keys of intake_store.PROVIDERS)
    def load_settings(provider: str, section: dict[str, Any], secrets: dict[str, str]) -> Any
        # ``[intake.<provider>]`` of config.toml and secrets/intake.toml, checked;
        # ConfigError (securedrop_like.config) with a clear message otherwise
    def blueprint() -> flask.Blueprint  # its endpoints (may be a blueprint with no route)
    def make_sender(provider: str, settings: Any) -> Sender | None   # None: pull-based (SMSSync)
    def background(provider: str, settings: Any, ctx: Intake)
            -> list[Callable[[threading.Event], None]]
        # long-running loops the server runs in threads (the IMAP poller); each returns
        # when the event is set. Optional: absent means none.

Helpers for the modules besides the stub's: :func:`require_secret` (a missing secret
is a ConfigError naming the key, never its value), :func:`check_api_base` (https://,
or http:// to 127.0.0.1/localhost only), :func:`is_enabled`, :func:`secret_values` and
:func:`timeout_seconds` (a provider's secrets and ``timeout_seconds``), :func:`post` (every
sender's outbound HTTPS POST).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, request
from werkzeug.exceptions import ClientDisconnected

from securedrop_like.config import Config, ConfigError
from securedrop_like.intake_store import Inbound, IntakeStore

from . import texts

log = logging.getLogger(__name__)

#: Every webhook's body is at most this long (an SMS report arrives in parts; a DM
#: event is a few KiB): 413 beyond.
MAX_BODY_BYTES = 64 * 1024
FORBIDDEN_BODY = "forbidden\n"


class SendError(Exception):
    """Delivery failed (network, provider refusal); the outbox row is retried later.
    The message says why in words that hold no address and no text."""


class Sender(Protocol):
    provider: str

    def send(self, address: str, text: str) -> None:
        """Deliver ``text`` to ``address`` now; SendError if it failed."""
        ...


def _no_notice(msg: Inbound) -> None:
    """Without a courier (a test of the app alone) nobody waits for parts."""


@dataclass
class Intake:
    """The intake app's context: ``current_app.extensions["intake"]``."""

    config: Config
    store: IntakeStore
    # provider -> its module's settings object (only enabled providers are here)
    settings: dict[str, Any] = field(default_factory=dict)
    # Told of every part stored (after its commit): the courier keeps the thread's
    # join deadline in memory from it. Set by the courier; a no-op otherwise.
    on_part: Callable[[Inbound], None] = _no_notice
    # ``[intake] public_url``: the base URL the providers call (Twilio signs it); "" unset
    public_url: str = ""
    # The Flask app (set by create_app): a background loop enters its context to receive
    app: Flask | None = None


def current() -> Intake:
    """The current app's Intake."""
    return current_app.extensions["intake"]  # type: ignore[no-any-return]


def is_enabled(provider: str) -> bool:
    """Whether ``provider`` is enabled in this app (its ``[intake.<provider>]`` table)."""
    return provider in current().settings


def receive(msg: Inbound) -> None:
    """The common path once a channel has authenticated and parsed a message: STOP
    (and its az/ru words) withdraws, YES (and its words) opts in, anything else is a
    part of her report. The same work and the same outcome for a known and an
    unknown sender; a replay stores nothing. Raises nothing for those cases.

    A message with ``answer`` or ``commands`` False (``Inbound``) is always a part."""
    ctx = current()
    if not msg.answer or not msg.commands:
        # Stored as a part whatever its words: an auto-reply is never STOP, and an
        # unproven e-mail STOP deletes nothing (the part says how to, to her).
        if ctx.store.add_part(msg):
            ctx.on_part(msg)
        return
    word_lang = texts.command_language(msg.text)
    if word_lang is not None and word_lang != msg.lang:
        # "да" is Russian whatever the detector made of two letters; "stop" keeps hers.
        msg = dataclasses.replace(msg, lang=word_lang)
    if texts.is_stop(msg.text):
        ctx.store.withdraw(msg, texts.withdrawn(msg.lang))
        return
    if texts.is_yes(msg.text):
        if ctx.store.opt_in(msg, texts.opted_in(msg.lang)):
            ctx.on_part(msg)  # without a thread it was kept as a part: join it
        return
    if ctx.store.add_part(msg):
        ctx.on_part(msg)


def plain(text: str, mimetype: str = "text/plain") -> Response:
    """A 200 answer to a provider (a challenge, "EVENT_RECEIVED", a CRC token); the app
    adds nosniff and the other headers to every response."""
    return Response(text, status=200, mimetype=mimetype)


def forbidden() -> Response:
    """403 for a caller that did not authenticate (the same body for every reason)."""
    return Response(FORBIDDEN_BODY, status=403, content_type="text/plain; charset=utf-8")


def bad_request(message: str, status: int = 400) -> Response:
    """A clear refusal (``message`` translated by the caller with _()), stores nothing."""
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8")


def read_body(limit: int) -> bytes:
    """The raw request body, at most ``limit`` bytes (413 raised as an HTTPException
    beyond: the caller never sees a huge body)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        abort(413)
    stream = request.stream
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            chunk = stream.read(min(65536, limit + 1 - size))
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                abort(413)
            chunks.append(chunk)
    except ClientDisconnected as exc:
        if isinstance(exc.__context__, TimeoutError):
            abort(408)
        abort(400)
    return b"".join(chunks)


def require_secret(secrets: dict[str, str], key: str, provider: str) -> str:
    """``secrets[key]``, or a ConfigError naming the key (never a value)."""
    value = secrets.get(key, "")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"[intake.{provider}] is enabled but secrets/intake.toml has no {key!r}")
    return value.strip()


_LOCAL_HOSTS = ("localhost",)


def is_local_host(host: str) -> bool:
    if host.lower() in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_base(url: str, where: str) -> str:
    """``url`` without a trailing slash if it is https:// (or http:// to 127.0.0.1 or
    localhost: tests and the demo); a ConfigError naming ``where`` otherwise."""
    if not isinstance(url, str):
        raise ConfigError(f"{where} must be an address (text)")
    parts = urlsplit(url.strip())
    if parts.scheme == "https" and parts.hostname:
        pass
    elif parts.scheme == "http" and parts.hostname and is_local_host(parts.hostname):
        pass
    else:
        raise ConfigError(
            f"{where} must be an https:// address (http:// only to 127.0.0.1 or localhost)"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{where} must not carry a user, a password, a query or a fragment")
    return url.strip().rstrip("/")


def secret_values(secrets: dict[str, str], keys: tuple[str, ...], provider: str) -> dict[str, str]:
    """``{key: secrets[key]}`` for each of ``keys``; a ConfigError naming the first
    missing key (never a value) otherwise."""
    values: dict[str, str] = {}
    for key in keys:
        value = secrets.get(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"secrets/intake.toml has no {key} (needed by [intake.{provider}])")
        values[key] = value
    return values


def timeout_seconds(section: dict[str, Any], provider: str, default: float) -> float:
    """``[intake.<provider>] timeout_seconds`` (default ``default``), in (0, 120]."""
    timeout = section.get("timeout_seconds", default)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 120:
        raise ConfigError(f"[intake.{provider}] timeout_seconds must be between 0 and 120")
    return float(timeout)


# -- outbound ----------------------------------------------------------------------------

#: How much of a provider's answer is read (and thrown away).
ANSWER_LIMIT = 64 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: it would carry the credentials to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def opener_for(url: str) -> urllib.request.OpenerDirector:
    """urllib with TLS verification (the system's CAs, host names checked), no
    redirects, and no proxy for this machine."""
    handlers: list[urllib.request.BaseHandler] = [
        _NoRedirect(),
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
    ]
    host = urlsplit(url).hostname
    if host and is_local_host(host):
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, what: str) -> None:
    """POST ``body`` to ``url`` (https://, or http:// to this machine only); SendError
    unless the answer is 2xx. Its message names ``what`` and the status or the error's
    type only: never the URL, the address, the text or a credential."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not ((parts.scheme == "https" and host) or (parts.scheme == "http" and is_local_host(host))):
        raise SendError(f"{what}: refusing a URL that is not https")
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked above
    try:
        with opener_for(url).open(req, timeout=timeout) as answer:
            answer.read(ANSWER_LIMIT)
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise SendError(f"{what} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        kind = "URLError" if isinstance(reason, str) else type(reason).__name__
        raise SendError(f"{what} unreachable ({kind})") from None
    if not 200 <= status < 300:
        raise SendError(f"{what} answered HTTP {status}")
