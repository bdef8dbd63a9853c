"""Facebook Messenger: the Messenger Platform webhook and the Send API (issue 12).

Inbound (``/messenger/webhook``), as Meta documents it:

- GET is the verification handshake: ``hub.mode=subscribe``, ``hub.verify_token``
  (compared in constant time with ``messenger_verify_token``) and ``hub.challenge``,
  echoed as text/plain. Anything else is the common 403.
- POST carries events, signed ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
  raw body keyed with the app secret>``. The signature is checked on the raw bytes
  before anything is parsed; an unsigned or forged body is the common 403 and nothing
  is read from it. A signed body is ``{"object": "page", "entry": [{"id": PAGE_ID,
  "messaging": [event, …]}, …]}``; each event whose ``message`` is not an echo becomes
  one Inbound (``address`` = the sender's page-scoped id, ``message_id`` = ``mid``).
  Deliveries, reads, echoes, reactions, postbacks and the handover protocol's
  ``standby`` are ignored. A message without text (a photo, a voice note, a sticker)
  is stored as ``[attachment: <type>, …]`` so the reviewers know something came that
  only Messenger holds; the attachment itself (a URL on Meta's servers) is never
  fetched. The answer is always 200 ``EVENT_RECEIVED``, whoever sent what.

Outbound: the Send API, ``POST {api_base}/{api_version}/me/messages?appsecret_proof=…``
with the page token in ``Authorization: Bearer`` (never in the URL) and
``appsecret_proof`` = hex HMAC-SHA256(app secret, page token). Inside 24 hours of her
last message (kept in memory only, under a per-process random key) the message type is
``RESPONSE``; later it is ``MESSAGE_TAG`` with the ``HUMAN_AGENT`` tag (a lawyer's
answer; Meta allows it for 7 days and only to apps granted "Human Agent").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

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
    post,
    read_body,
    receive,
    secret_values,
    timeout_seconds,
)
from .base import check_api_base as base_check_api_base
from .texts import detect_language

log = logging.getLogger(__name__)

PROVIDERS: tuple[str, ...] = ("messenger",)
PROVIDER = "messenger"
BODY_LIMIT = 64 * 1024
TIMEOUT_SECONDS = 15.0
#: Meta's limit for a text message; longer texts go in several messages.
TEXT_LIMIT = 2000
#: The standard messaging window after her last message.
RESPONSE_WINDOW_SECONDS = 24 * 3600
SECRET_KEYS = ("messenger_app_secret", "messenger_verify_token", "messenger_page_token")
EVENT_RECEIVED = "EVENT_RECEIVED"
_ID_RE = re.compile(r"[0-9]{1,32}")
_VERSION_RE = re.compile(r"v[0-9]{1,3}\.[0-9]{1,3}")


class RecentSenders:
    """When each sender last wrote, in memory only, keyed by an HMAC under a key that
    lives and dies with the process: enough to pick ``RESPONSE`` inside Meta's 24-hour
    window, nothing an image of the disk could reveal."""

    def __init__(self, window: float = RESPONSE_WINDOW_SECONDS) -> None:
        self._key = secrets.token_bytes(32)
        self._seen: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self.window = window

    def _mark(self, psid: str) -> bytes:
        return hmac.new(self._key, psid.encode(), hashlib.sha256).digest()

    def saw(self, psid: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._seen[self._mark(psid)] = now
            for mark, when in list(self._seen.items()):
                if now - when > self.window:
                    del self._seen[mark]

    def within_window(self, psid: str) -> bool:
        with self._lock:
            when = self._seen.get(self._mark(psid))
        return when is not None and time.monotonic() - when <= self.window


@dataclass(frozen=True)
class MessengerSettings:
    page_id: str
    api_base: str
    api_version: str
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    page_token: str = field(repr=False)
    timeout: float = TIMEOUT_SECONDS
    recent: RecentSenders = field(default_factory=RecentSenders, repr=False, compare=False)


def check_api_base(value: Any, name: str) -> str:
    """An https URL, or http for this machine only (tests, the demo)."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"[intake.{name}] api_base must be a URL")
    return base_check_api_base(value, f"[intake.{name}] api_base")


def load_settings(provider: str, section: dict[str, Any], secrets: dict[str, str]) -> Any:
    if provider != PROVIDER:
        raise ConfigError(f"intake.messenger has no provider {provider!r}")
    page_id = str(section.get("page_id", ""))
    if not _ID_RE.fullmatch(page_id):
        raise ConfigError("[intake.messenger] page_id must be the page's numeric id")
    api_version = str(section.get("api_version", "v21.0"))
    if not _VERSION_RE.fullmatch(api_version):
        raise ConfigError('[intake.messenger] api_version must look like "v21.0"')
    api_base = check_api_base(section.get("api_base", "https://graph.facebook.com"), PROVIDER)
    values = secret_values(secrets, SECRET_KEYS, PROVIDER)
    return MessengerSettings(
        page_id=page_id,
        api_base=api_base,
        api_version=api_version,
        app_secret=values["messenger_app_secret"],
        verify_token=values["messenger_verify_token"],
        page_token=values["messenger_page_token"],
        timeout=timeout_seconds(section, PROVIDER, TIMEOUT_SECONDS),
    )


# -- inbound -----------------------------------------------------------------------------


def signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def signed(app_secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    expected = signature(app_secret, body)
    # Hex is case-insensitive; compare_digest on equal-length ASCII is constant-time.
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode("ascii", "replace"))


class Malformed(ValueError):
    """A signed body that is not the documented shape."""


class NotJson(ValueError):
    """A signed body that is not UTF-8 JSON; the message (translated) says which."""


def json_payload(body: bytes) -> Any:
    """A signed webhook body, parsed; NotJson if it is not UTF-8 JSON."""
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise NotJson(_("The request body is not UTF-8 text.")) from None
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        raise NotJson(_("The request body is not valid JSON.")) from None


def _attachment_note(attachments: Any) -> str:
    """``[attachment: image, audio]`` for what only Messenger holds."""
    if not isinstance(attachments, list):
        raise Malformed("attachments")
    kinds: list[str] = []
    for item in attachments:
        if not isinstance(item, dict):
            raise Malformed("attachment")
        kind = item.get("type")
        kinds.append(
            kind if isinstance(kind, str) and kind.isalpha() and len(kind) < 20 else "file"
        )
    return "[attachment: " + ", ".join(kinds) + "]" if kinds else ""


def parse_events(payload: Any, page_id: str) -> list[tuple[str, str, str, str]]:
    """(sender psid, mid, text, her own words) of each message from a person to our
    page, in order; the text notes attachments, her words are what she typed."""
    if not isinstance(payload, dict) or payload.get("object") != "page":
        raise Malformed("object")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise Malformed("entry")
    found: list[tuple[str, str, str, str]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise Malformed("entry")
        events = entry.get("messaging", [])
        if not isinstance(events, list):
            raise Malformed("messaging")
        for event in events:
            if not isinstance(event, dict):
                raise Malformed("event")
            message = event.get("message")
            if message is None:  # delivery, read, reaction, postback, referral, …
                continue
            if not isinstance(message, dict):
                raise Malformed("message")
            if message.get("is_echo"):  # what our page sent
                continue
            sender = event.get("sender")
            recipient = event.get("recipient")
            if not isinstance(sender, dict) or not isinstance(recipient, dict):
                raise Malformed("sender")
            psid, to, mid = sender.get("id"), recipient.get("id"), message.get("mid")
            if not isinstance(psid, str) or not _ID_RE.fullmatch(psid):
                raise Malformed("sender.id")
            if not isinstance(mid, str) or not mid or len(mid) > 512:
                raise Malformed("mid")
            if str(to) != page_id or str(entry.get("id", page_id)) != page_id:
                continue  # another page of the same app: not ours to store
            text = message.get("text", "")
            if not isinstance(text, str):
                raise Malformed("text")
            note = _attachment_note(message["attachments"]) if "attachments" in message else ""
            words = "\n".join(part for part in (text, note) if part)
            if not words:
                words = "[attachment: file]"
            found.append((psid, mid, words, text))
    return found


def verify() -> Response:
    settings: MessengerSettings = current().settings[PROVIDER]
    mode = request.args.get("hub.mode", "")
    token = request.args.get("hub.verify_token", "")
    challenge = request.args.get("hub.challenge", "")
    token_ok = hmac.compare_digest(
        token.encode("utf-8", "replace"), settings.verify_token.encode("utf-8")
    )
    if mode != "subscribe" or not token_ok or not challenge or len(challenge) > 1024:
        return forbidden()
    return plain(challenge)


def events() -> Response:
    settings: MessengerSettings = current().settings[PROVIDER]
    body = read_body(BODY_LIMIT)
    if not signed(settings.app_secret, body, request.headers.get("X-Hub-Signature-256")):
        return forbidden()
    try:
        messages = parse_events(json_payload(body), settings.page_id)
    except NotJson as refused:
        return bad_request(str(refused))
    except Malformed:
        return bad_request(_("The request is not a Messenger page event."))
    for psid, mid, text, words in messages:
        settings.recent.saw(psid)
        receive(
            Inbound(
                provider=PROVIDER,
                address=psid,
                text=text,
                message_id=mid,
                lang=detect_language(words),
            )
        )
    return plain(EVENT_RECEIVED)


def blueprint() -> Blueprint:
    bp = Blueprint("intake_messenger", __name__)
    bp.add_url_rule("/messenger/webhook", "verify", verify, methods=["GET"])
    bp.add_url_rule("/messenger/webhook", "events", events, methods=["POST"])
    return bp


# -- outbound ----------------------------------------------------------------------------


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """Meta's ``appsecret_proof``: hex HMAC-SHA256 of the access token, keyed with the
    app secret."""
    return hmac.new(
        app_secret.encode("utf-8"), access_token.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at a line break or a
    space where one is near."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def post_json(
    url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float, what: str
) -> None:
    """POST ``payload`` as JSON (:func:`intake.base.post`)."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    post(
        url,
        data,
        {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            **headers,
        },
        timeout=timeout,
        what=what,
    )


class MessengerSender:
    provider = PROVIDER

    def __init__(self, settings: MessengerSettings) -> None:
        self.settings = settings

    def url(self) -> str:
        s = self.settings
        proof = appsecret_proof(s.app_secret, s.page_token)
        return f"{s.api_base}/{s.api_version}/me/messages?appsecret_proof={quote(proof)}"

    def body(self, psid: str, text: str) -> dict[str, Any]:
        """The documented Send API body (keys in the documented order)."""
        if self.settings.recent.within_window(psid):
            return {
                "recipient": {"id": psid},
                "messaging_type": "RESPONSE",
                "message": {"text": text},
            }
        return {
            "recipient": {"id": psid},
            "messaging_type": "MESSAGE_TAG",
            "tag": "HUMAN_AGENT",
            "message": {"text": text},
        }

    def send(self, address: str, text: str) -> None:
        if not _ID_RE.fullmatch(address):
            raise SendError("not a page-scoped id")
        headers = {"Authorization": "Bearer " + self.settings.page_token}
        for piece in split_text(text):
            post_json(
                self.url(),
                self.body(address, piece),
                headers,
                self.settings.timeout,
                "the Send API",
            )


def make_sender(provider: str, settings: Any) -> Sender | None:
    return MessengerSender(settings)
