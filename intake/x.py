"""X (Twitter) direct messages: the Account Activity API webhook and the X API v2 DM
endpoint (issue 12).

Inbound (``/x/webhook``), as X documents it:

- GET is the challenge-response check: ``?crc_token=T`` is answered
  ``{"response_token": "sha256=<base64 HMAC-SHA256(consumer secret, T)>"}``.
  The CRC answers anyone, and its HMAC is the very one that signs POST bodies, so an
  unrestricted CRC would sign any forged body on request. A crc_token is therefore
  refused (the common 403) unless it is short and made of token characters only
  (no ``{``, so it can never be a JSON body this endpoint accepts).
- POST carries account activity, signed ``x-twitter-webhooks-signature:
  sha256=<base64 HMAC-SHA256(consumer secret, raw body)>``, checked on the raw bytes
  before anything is parsed (403 otherwise, nothing read). Of a signed body only
  ``direct_message_events`` for our account (``for_user_id`` = ``user_id``) are read:
  each ``message_create`` event not sent by our own account (``sender_id`` ≠
  ``for_user_id``) becomes one Inbound (``address`` = the sender's user id,
  ``message_id`` = the event id). Media is not fetched: a DM with media gets
  ``[attachment: media]``. Other activity (follows, likes, typing, reads) is ignored.
  The answer is always 200 ``EVENT_RECEIVED``.

Outbound: ``POST {api_base}/2/dm_conversations/with/{participant_id}/messages`` with
JSON ``{"text": …}``, authorised with OAuth 1.0a (RFC 5849, HMAC-SHA1, our account's
access token), signed here with hmac/hashlib: a JSON body is not part of the signature
base string (RFC 5849 §3.4.1.3.1: only form-encoded bodies are).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from flask import Blueprint, Response, request

from securedrop_like.config import ConfigError
from securedrop_like.i18n import gettext as _
from securedrop_like.intake_store import Inbound

from .base import (
    Sender,
    SendError,
    bad_request,
    current,
    forbidden,
    plain,
    read_body,
    receive,
    secret_values,
    timeout_seconds,
)
from .messenger import TIMEOUT_SECONDS, NotJson, check_api_base, json_payload, post_json
from .texts import detect_language

PROVIDERS: tuple[str, ...] = ("x",)
PROVIDER = "x"
BODY_LIMIT = 64 * 1024
#: X's limit for a DM's text.
TEXT_LIMIT = 10000
SECRET_KEYS = ("x_consumer_key", "x_consumer_secret", "x_access_token", "x_access_token_secret")
EVENT_RECEIVED = "EVENT_RECEIVED"
_ID_RE = re.compile(r"[0-9]{1,32}")
_CRC_RE = re.compile(r"[A-Za-z0-9_\-.:~+/=]{1,256}")


@dataclass(frozen=True)
class XSettings:
    user_id: str
    api_base: str
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    access_token_secret: str = field(repr=False)
    timeout: float = TIMEOUT_SECONDS


def load_settings(provider: str, section: dict[str, Any], secrets: dict[str, str]) -> Any:
    if provider != PROVIDER:
        raise ConfigError(f"intake.x has no provider {provider!r}")
    user_id = str(section.get("user_id", ""))
    if not _ID_RE.fullmatch(user_id):
        raise ConfigError("[intake.x] user_id must be the account's numeric user id")
    api_base = check_api_base(section.get("api_base", "https://api.x.com"), PROVIDER)
    values = secret_values(secrets, SECRET_KEYS, PROVIDER)
    return XSettings(
        user_id=user_id,
        api_base=api_base,
        consumer_key=values["x_consumer_key"],
        consumer_secret=values["x_consumer_secret"],
        access_token=values["x_access_token"],
        access_token_secret=values["x_access_token_secret"],
        timeout=timeout_seconds(section, PROVIDER, TIMEOUT_SECONDS),
    )


# -- inbound -----------------------------------------------------------------------------


def signature(consumer_secret: str, data: bytes) -> str:
    """``sha256=<base64 HMAC-SHA256(consumer secret, data)>``: the CRC response token for
    a crc_token, the ``x-twitter-webhooks-signature`` of a body."""
    digest = hmac.new(consumer_secret.encode("utf-8"), data, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def signed(consumer_secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    expected = signature(consumer_secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("ascii", "replace"))


class Malformed(ValueError):
    """A signed body that is not the documented shape."""


def parse_events(payload: Any, user_id: str) -> list[tuple[str, str, str, str]]:
    """(sender id, event id, text, her own words) of each DM someone else sent our
    account, in order; the text notes media, her words are what she typed."""
    if not isinstance(payload, dict):
        raise Malformed("payload")
    events = payload.get("direct_message_events")
    if events is None:  # other account activity: nothing for us
        return []
    if not isinstance(events, list):
        raise Malformed("direct_message_events")
    for_user = payload.get("for_user_id")
    if not isinstance(for_user, str) or not _ID_RE.fullmatch(for_user):
        raise Malformed("for_user_id")
    found: list[tuple[str, str, str, str]] = []
    for event in events:
        if not isinstance(event, dict):
            raise Malformed("event")
        if event.get("type") != "message_create":
            continue
        create = event.get("message_create")
        if not isinstance(create, dict):
            raise Malformed("message_create")
        event_id, sender = event.get("id"), create.get("sender_id")
        if not isinstance(event_id, str) or not _ID_RE.fullmatch(event_id):
            raise Malformed("id")
        if not isinstance(sender, str) or not _ID_RE.fullmatch(sender):
            raise Malformed("sender_id")
        data = create.get("message_data")
        if not isinstance(data, dict):
            raise Malformed("message_data")
        text = data.get("text", "")
        if not isinstance(text, str):
            raise Malformed("text")
        if for_user != user_id or sender == for_user:
            continue  # another account of the app, or what our own account sent
        note = "[attachment: media]" if data.get("attachment") else ""
        words = "\n".join(part for part in (text, note) if part) or "[attachment: media]"
        found.append((sender, event_id, words, text))
    return found


def crc() -> Response:
    settings: XSettings = current().settings[PROVIDER]
    token = request.args.get("crc_token", "")
    if not _CRC_RE.fullmatch(token):
        return forbidden()
    answer = {"response_token": signature(settings.consumer_secret, token.encode("ascii"))}
    return plain(json.dumps(answer), mimetype="application/json")


def events() -> Response:
    settings: XSettings = current().settings[PROVIDER]
    body = read_body(BODY_LIMIT)
    header = request.headers.get("x-twitter-webhooks-signature")
    if not signed(settings.consumer_secret, body, header):
        return forbidden()
    try:
        messages = parse_events(json_payload(body), settings.user_id)
    except NotJson as refused:
        return bad_request(str(refused))
    except Malformed:
        return bad_request(_("The request is not an X account activity event."))
    for sender, event_id, text, words in messages:
        receive(
            Inbound(
                provider=PROVIDER,
                address=sender,
                text=text,
                message_id=event_id,
                lang=detect_language(words),
            )
        )
    return plain(EVENT_RECEIVED)


def blueprint() -> Blueprint:
    bp = Blueprint("intake_x", __name__)
    bp.add_url_rule("/x/webhook", "crc", crc, methods=["GET"])
    bp.add_url_rule("/x/webhook", "events", events, methods=["POST"])
    return bp


# -- OAuth 1.0a (RFC 5849) -----------------------------------------------------------------


def pct(value: str) -> str:
    """RFC 5849 §3.6: UTF-8, then every byte but ALPHA / DIGIT / - . _ ~ as %XX."""
    return quote(value.encode("utf-8"), safe="~")


def base_string_uri(url: str) -> str:
    """RFC 5849 §3.4.1.2: scheme and host lower-case, the port only if not the default,
    the path; no query, no fragment."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def signature_base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1: method, base string URI and the normalised parameters (the
    oauth_* protocol parameters and the query's; a JSON body adds none)."""
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    encoded = sorted((pct(k), pct(v)) for k, v in [*params, *query])
    normalised = "&".join(f"{k}={v}" for k, v in encoded)
    return "&".join((method.upper(), pct(base_string_uri(url)), pct(normalised)))


def oauth_header(
    method: str,
    url: str,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    *,
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """The ``Authorization: OAuth …`` value for a request (HMAC-SHA1, RFC 5849 §3.4.2)."""
    params = [
        ("oauth_consumer_key", consumer_key),
        ("oauth_nonce", nonce if nonce is not None else secrets.token_hex(16)),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", str(timestamp if timestamp is not None else int(time.time()))),
        ("oauth_token", token),
        ("oauth_version", "1.0"),
    ]
    base = signature_base_string(method, url, params)
    key = f"{pct(consumer_secret)}&{pct(token_secret)}"
    digest = hmac.new(key.encode("ascii"), base.encode("ascii"), hashlib.sha1).digest()
    params.append(("oauth_signature", base64.b64encode(digest).decode("ascii")))
    return "OAuth " + ", ".join(f'{pct(k)}="{pct(v)}"' for k, v in sorted(params))


# -- outbound ----------------------------------------------------------------------------


class XSender:
    provider = PROVIDER

    def __init__(self, settings: XSettings) -> None:
        self.settings = settings

    def url(self, participant_id: str) -> str:
        return f"{self.settings.api_base}/2/dm_conversations/with/{participant_id}/messages"

    def send(self, address: str, text: str) -> None:
        if not _ID_RE.fullmatch(address):
            raise SendError("not an X user id")
        s = self.settings
        url = self.url(address)
        for start in range(0, max(len(text), 1), TEXT_LIMIT):
            header = oauth_header(
                "POST",
                url,
                s.consumer_key,
                s.consumer_secret,
                s.access_token,
                s.access_token_secret,
            )
            post_json(
                url,
                {"text": text[start : start + TEXT_LIMIT]},
                {"Authorization": header},
                s.timeout,
                "the X DM API",
            )


def make_sender(provider: str, settings: Any) -> Sender | None:
    return XSender(settings)
