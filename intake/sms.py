"""SMS: an SMSSync phone, Twilio, and a generic signed JSON webhook for local aggregators.

Endpoints (each only when its provider's ``[intake.<provider>]`` table is present;
404 otherwise):

``/sms/smssync``
    Ushahidi SMSSync's documented HTTP protocol. The phone POSTs each SMS it
    receives (form-encoded, or JSON when its sync scheme says so) with the fields
    ``from``, ``message``, ``message_id``, ``sent_to``, ``secret``, ``device_id``,
    ``sent_timestamp``; the answer is always ``{"payload":{"success":true,"error":null}}``.
    The phone polls ``GET ?task=send&secret=…`` for messages to send; the answer is
    ``{"payload":{"task":"send","secret":…,"messages":[{"to","message","uuid"}]}}``
    from the outbox. With the phone's "Message Results API" on (the default here),
    it confirms with ``POST ?task=sent`` and ``{"queued_messages":[uuid,…]}`` and
    sends only the uuids the answer ``{"message_uuids":[…]}`` lists; those rows are
    then delivered. SMSSync sends no secret with ``task=sent``: there, a uuid is the
    proof (a random token handed out by an authenticated poll, kept in memory only);
    a ``secret`` that is present must still be right. A confirmation without one such
    uuid gets ``{"message_uuids":[]}`` at once: nothing is opened, deleted or
    checkpointed for it.

``/sms/twilio``
    Twilio's incoming-message webhook: ``From``, ``To``, ``Body``, ``MessageSid``,
    authenticated by ``X-Twilio-Signature`` (base64 HMAC-SHA1 with the auth token
    over the public URL Twilio called and the sorted POST parameters); the answer
    is an empty TwiML ``<Response/>``. Answers go out through Twilio's REST API.

``/sms/webhook``
    A JSON body ``{"from","to","text","id"}`` with ``X-Sesim-Signature:
    sha256=<hex HMAC-SHA256(secret, raw body)>``; answer ``{"ok":true}``. Answers
    are POSTed to ``send_url`` in the same shape, signed the same way.

Every refusal of a caller that did not authenticate is the same 403, whatever is
wrong with its body (the secret or signature is checked first, reading the body
leniently where it must); bodies are capped at 64 KiB; an authenticated caller's
malformed body, body that is not UTF-8 or missing field gets a translated 400 and
nothing is stored. The answer to an authenticated
message is the same whoever sent it and whatever happened to it. Phone numbers
are normalised to E.164 (region AZ) before anything else sees them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from flask import Blueprint, Response, abort, current_app, request

from crypto import PrivateKey
from securedrop_like.channels import channel_private_key
from securedrop_like.config import ConfigError
from securedrop_like.i18n import gettext as _
from securedrop_like.intake_store import Inbound

from . import base
from .base import MAX_BODY_BYTES, Sender
from .texts import detect_language

log = logging.getLogger(__name__)

PROVIDERS = ("smssync", "twilio", "webhook")

BODY_LIMIT = MAX_BODY_BYTES  # 64 KiB, every endpoint
SEND_TIMEOUT = 15.0  # seconds for one outgoing request
MAX_FIELDS = 64  # form fields parsed at most
MAX_LOOKAHEAD = 1000  # outbox rows one SMSSync poll looks at, leased ones included
REGION = "AZ"  # numbers without a country code are Azerbaijani
PHONE_CHARS = re.compile(r"\+?[0-9 ().\-]+")

SMSSYNC_OK = b'{"payload":{"success":true,"error":null}}'
TWIML_EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
WEBHOOK_OK = b'{"ok":true}'
NO_UUIDS = b'{"message_uuids":[]}'
JSON_TYPE = "application/json; charset=utf-8"

TWILIO_API_BASE = "https://api.twilio.com"
LOCAL_HOSTS = ("127.0.0.1", "localhost")


# -- settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsSyncSettings:
    secret: str = field(repr=False)
    # True: rows are delivered when the phone confirms them (task=sent, SMSSync's
    # "Message Results API"); False: when a poll hands them out (older phones).
    message_results_api: bool = True
    batch: int = 20  # messages handed out by one poll
    lease_seconds: int = 600  # a handed-out message is not handed out again before this


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str = field(repr=False)
    number: str = ""  # E.164, the From of what we send
    api_base: str = TWILIO_API_BASE
    public_url: str = ""  # overrides [intake] public_url for the signature check


@dataclass(frozen=True)
class WebhookSettings:
    secret: str = field(repr=False)
    send_url: str = ""
    number: str = ""  # the "from" of what we send ("" when the aggregator decides)


Settings = SmsSyncSettings | TwilioSettings | WebhookSettings


def load_settings(provider: str, section: dict[str, Any], secrets: dict[str, str]) -> Settings:
    """``[intake.<provider>]`` and secrets/intake.toml, checked (ConfigError naming the
    key, never a secret's value)."""
    if provider == "smssync":
        return SmsSyncSettings(
            secret=_secret(secrets, "smssync_secret"),
            message_results_api=_bool(section, "smssync", "message_results_api", True),
            batch=_int(section, "smssync", "batch", 20, 1, 100),
            lease_seconds=_int(section, "smssync", "lease_seconds", 600, 10, 86400),
        )
    if provider == "twilio":
        sid = _str(section, "twilio", "account_sid", required=True)
        if not sid.isascii() or not sid.isalnum():
            raise ConfigError("[intake.twilio] account_sid must be letters and digits (AC…)")
        number = _str(section, "twilio", "number", required=True)
        if normalise_phone(number) != number:
            raise ConfigError("[intake.twilio] number must be an E.164 number (+994…)")
        public_url = _str(section, "twilio", "public_url")
        if public_url:
            _check_url(public_url, "[intake.twilio] public_url", allow_path=True)
        return TwilioSettings(
            account_sid=sid,
            auth_token=_secret(secrets, "twilio_auth_token"),
            number=number,
            api_base=_check_url(
                _str(section, "twilio", "api_base") or TWILIO_API_BASE,
                "[intake.twilio] api_base",
            ),
            public_url=public_url.rstrip("/"),
        )
    if provider == "webhook":
        number = _str(section, "webhook", "number")
        if number and normalise_phone(number) != number:
            raise ConfigError("[intake.webhook] number must be an E.164 number (+994…)")
        return WebhookSettings(
            secret=_secret(secrets, "webhook_secret"),
            send_url=_check_url(
                _str(section, "webhook", "send_url", required=True),
                "[intake.webhook] send_url",
                allow_path=True,
            ),
            number=number,
        )
    raise ConfigError(f"unknown SMS provider {provider!r}")


def _secret(secrets: Mapping[str, Any], key: str) -> str:
    value = secrets.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"secrets/intake.toml: {key} is missing or empty")
    if len(value) < 16:
        raise ConfigError(f"secrets/intake.toml: {key} is too short (at least 16 characters)")
    return value


def _str(section: Mapping[str, Any], provider: str, key: str, *, required: bool = False) -> str:
    value = section.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"[intake.{provider}] {key} must be a string")
    if required and not value:
        raise ConfigError(f"[intake.{provider}] {key} is missing")
    return value


def _bool(section: Mapping[str, Any], provider: str, key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"[intake.{provider}] {key} must be true or false")
    return value


def _int(
    section: Mapping[str, Any], provider: str, key: str, default: int, low: int, high: int
) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"[intake.{provider}] {key} must be a whole number from {low} to {high}")
    return value


def _check_url(url: str, what: str, *, allow_path: bool = False) -> str:
    """An https URL, or http to this machine only (tests, the demo)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        pass
    elif parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
        pass
    else:
        raise ConfigError(f"{what} must be an https:// URL (http:// only for 127.0.0.1)")
    if parts.username or parts.password or parts.fragment:
        raise ConfigError(f"{what} must not carry a user name, password or fragment")
    if not allow_path and parts.path.strip("/"):
        raise ConfigError(f"{what} must be a base URL without a path")
    return url.rstrip("/") if not allow_path else url


# -- shared parsing ----------------------------------------------------------------------


def normalise_phone(raw: str) -> str | None:
    """E.164 form of a phone number (numbers without a country code are Azerbaijani),
    or None if it is not a possible phone number."""
    raw = raw.strip()
    if not raw or len(raw) > 40 or not PHONE_CHARS.fullmatch(raw):
        return None  # "whatsapp:+994…", a sender name, …
    try:
        number = phonenumbers.parse(raw, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class BadBody(Exception):
    """A body that cannot be read; the message is already translated."""


def _media_charset_ok(expected: tuple[str, ...]) -> bool:
    """Whether the request's content type is one of ``expected`` with no charset or UTF-8."""
    mimetype = request.mimetype
    if mimetype not in expected:
        return False
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    return charset in ("utf-8", "utf8")


def parse_form(raw: bytes) -> dict[str, list[str]]:
    """A form-encoded body as UTF-8 (strict: bad bytes or bad percent escapes are
    refused), BadBody otherwise."""
    if not _media_charset_ok(("application/x-www-form-urlencoded",)):
        raise BadBody(_("The message could not be read: send it as UTF-8 form data."))
    try:
        text = raw.decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise BadBody(_("The message could not be read: send it as UTF-8 form data.")) from None
    form: dict[str, list[str]] = {}
    for key, value in pairs:
        form.setdefault(key, []).append(value)
    return form


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object in UTF-8, BadBody otherwise."""
    message = _("The message could not be read: send it as a UTF-8 JSON object.")
    if not _media_charset_ok(("application/json",)):
        raise BadBody(message)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadBody(message) from None
    if not isinstance(data, dict):
        raise BadBody(message)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _field(data: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    """One text field: a string in UTF-8 (no lone surrogates, no NUL), BadBody if it is
    missing or empty (when required) or not text."""
    value = data.get(name, "")
    if isinstance(value, list):  # a form field
        if len(value) != 1:
            value = "" if not value else None
        else:
            value = value[0]
    if not isinstance(value, str):
        raise BadBody(_("This field must be text: %(field)s.", field=name))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadBody(_("This field must be text: %(field)s.", field=name)) from None
    if "\x00" in value:
        raise BadBody(_("This field must be text: %(field)s.", field=name))
    if required and not value.strip():
        raise BadBody(_("A required field is missing or empty: %(field)s.", field=name))
    return value


def _phone(data: Mapping[str, Any], name: str) -> str:
    number = normalise_phone(_field(data, name))
    if number is None:
        raise BadBody(_("The sender is not a phone number: %(field)s.", field=name))
    return number


def _message_id(data: Mapping[str, Any], name: str) -> str:
    value = _field(data, name).strip()
    if len(value) > 200:
        raise BadBody(_("This field is too long: %(field)s.", field=name))
    return value


def _inbound(provider: str, address: str, text: str, message_id: str) -> Inbound:
    return Inbound(
        provider=provider,
        address=address,
        text=text,
        message_id=message_id,
        lang=detect_language(text),
    )


def _take(
    data: Mapping[str, Any],
    provider: str,
    names: tuple[str, str, str],
    ok: bytes,
    content_type: str,
    *,
    also: str | None = None,
) -> Response:
    """Her message from an authenticated body's fields ``names`` (sender, text, message
    id; ``also``, if given, an optional text field checked after the sender): received
    and answered ``ok``, or a translated 400 naming the first bad field."""
    sender, text_name, id_name = names
    try:
        address = _phone(data, sender)
        if also is not None:
            _field(data, also, required=False)
        text = _field(data, text_name)
        message_id = _message_id(data, id_name)
    except BadBody as refused:
        return base.bad_request(str(refused))
    base.receive(_inbound(provider, address, text, message_id))
    return _answer(ok, content_type)


def _answer(body: bytes, content_type: str, status: int = 200) -> Response:
    response = Response(body, status=status, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def _settings(provider: str) -> Any:
    """This provider's settings, 404 when it is not enabled."""
    settings = base.current().settings.get(provider)
    if settings is None:
        abort(404)
    return settings


def _channel_key() -> PrivateKey:
    """The channel key's private half (read once per app: only the intake server
    can read it)."""
    key = current_app.extensions.get("intake.sms.channel_key")
    if key is None:
        key = channel_private_key(base.current().config)
        current_app.extensions["intake.sms.channel_key"] = key
    assert isinstance(key, PrivateKey)  # noqa: S101 - what was stored above
    return key


def _refuse(provider: str) -> Response:
    """The 403 for a caller that did not authenticate, with a log line naming only the
    provider (a wrong secret, public URL or token shows up for the administrator)."""
    log.info("%s: refused a caller that did not authenticate", provider)
    return base.forbidden()


def _equal(given: str, expected: str) -> bool:
    try:
        supplied = given.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from JSON's "\ud800": matches nothing
        supplied = b""
    return hmac.compare_digest(supplied, expected.encode("utf-8"))


bp = Blueprint("sms", __name__)


def blueprint() -> Blueprint:
    return bp


# -- SMSSync ---------------------------------------------------------------------------


class Leases:
    """uuid tokens handed out by SMSSync polls, in memory only: token -> outbox id.
    A leased row is not handed out again until it is confirmed or its lease ends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_token: dict[str, tuple[str, float]] = {}
        self.by_row: dict[str, str] = {}

    def expire(self, now: float) -> None:
        for token, (row, until) in list(self.by_token.items()):
            if until <= now:
                del self.by_token[token]
                self.by_row.pop(row, None)

    def lease(self, row: str, until: float) -> str:
        token = str(uuid.uuid4())  # random (os.urandom): unguessable
        self.by_token[token] = (row, until)
        self.by_row[row] = token
        return token

    def take(self, tokens: list[str], live: set[str]) -> tuple[list[str], list[str]]:
        """(confirmed tokens, their outbox ids): tokens handed out whose row is still
        queued (``live``); a row gone meanwhile (she sent STOP, her case was closed)
        is not confirmed, so the phone does not send it. Unknown tokens are left out."""
        confirmed: list[str] = []
        rows: list[str] = []
        with self.lock:
            for token in tokens:
                entry = self.by_token.pop(token, None)
                if entry is None:
                    continue
                self.by_row.pop(entry[0], None)
                if entry[0] in live:
                    confirmed.append(token)
                    rows.append(entry[0])
        return confirmed, rows


def _leases() -> Leases:
    leases = current_app.extensions.get("intake.sms.leases")
    if leases is None:
        leases = current_app.extensions.setdefault("intake.sms.leases", Leases())
    assert isinstance(leases, Leases)  # noqa: S101 - what was stored above
    return leases


@bp.route("/sms/smssync", methods=["GET", "POST"])
def smssync() -> Response:
    settings: SmsSyncSettings = _settings("smssync")
    task = request.args.get("task", "")
    if request.method == "GET":
        if not _equal(request.args.get("secret", ""), settings.secret):
            return _refuse("smssync")
        if task == "send":
            return _smssync_poll(settings)
        if task == "result":  # delivery reports: we ask for none
            return _answer(NO_UUIDS, JSON_TYPE)
        return base.bad_request(_("Unknown task."))
    if task == "sent":
        return _smssync_sent()
    if task == "result":
        if not _equal(request.args.get("secret", ""), settings.secret):
            return _refuse("smssync")
        base.read_body(BODY_LIMIT)  # capped, then ignored: we keep no delivery reports
        return _answer(SMSSYNC_OK, JSON_TYPE)
    raw = base.read_body(BODY_LIMIT)
    if task:  # none SMSSync sends: only a caller with the secret hears so
        if not (
            _equal(request.args.get("secret", ""), settings.secret)
            or _equal(_lenient_secret(raw), settings.secret)
        ):
            return _refuse("smssync")
        return base.bad_request(_("Unknown task."))
    # The secret is inside the body: it is looked for leniently first, so that a caller
    # without it gets the common 403 whatever the body is, and only the gateway hears
    # (in a translated 400) what is wrong with a body it sent.
    if not _equal(_lenient_secret(raw), settings.secret):
        return _refuse("smssync")
    try:
        data: Mapping[str, Any]
        if request.mimetype == "application/json":
            data = parse_json_object(raw)
        else:
            data = parse_form(raw)
    except BadBody as refused:
        return base.bad_request(str(refused))
    return _take(data, "smssync", ("from", "message", "message_id"), SMSSYNC_OK, JSON_TYPE)


def _lenient_secret(raw: bytes) -> str:
    """The ``secret`` field of an SMSSync body, read leniently (any content type, bad
    bytes replaced), "" if there is none: for the authentication alone. The body is
    then read strictly."""
    text = raw.decode("utf-8", errors="replace")
    if request.mimetype == "application/json":
        try:
            data = json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return ""
        value = data.get("secret") if isinstance(data, dict) else None
        return value if isinstance(value, str) else ""
    try:
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, errors="replace", max_num_fields=MAX_FIELDS
        )
    except ValueError:
        return ""
    values = [v for k, v in pairs if k == "secret"]
    return values[0] if len(values) == 1 else ""


def _smssync_poll(settings: SmsSyncSettings) -> Response:
    store = base.current().store
    leases = _leases()
    now = time.monotonic()
    messages: list[dict[str, str]] = []
    handed: list[str] = []
    with leases.lock:
        leases.expire(now)
        rows = store.outbox(
            _channel_key(),
            provider="smssync",
            limit=min(settings.batch + len(leases.by_row), MAX_LOOKAHEAD),
        )
        for row in rows:
            if row.id in leases.by_row:
                continue
            if len(messages) >= settings.batch:
                break
            if settings.message_results_api:
                token = leases.lease(row.id, now + settings.lease_seconds)
            else:
                token = str(uuid.uuid4())
                handed.append(row.id)
            messages.append({"to": row.address, "message": row.text, "uuid": token})
    if handed:  # an older phone confirms nothing: handed out is delivered
        store.delivered(handed)
    body = {"payload": {"task": "send", "secret": settings.secret, "messages": messages}}
    return _answer(_json_bytes(body), JSON_TYPE)


def _smssync_sent() -> Response:
    """SMSSync's confirmation of handed-out messages. It carries no secret: a posted
    uuid that an authenticated poll handed out is the proof. Without one, the answer
    is ``{"message_uuids":[]}`` at once: nothing is opened, deleted or checkpointed.
    Leased rows are checked with a plain SELECT of their ids, never by opening them."""
    settings: SmsSyncSettings = _settings("smssync")
    has_secret = "secret" in request.args
    if has_secret and not _equal(request.args["secret"], settings.secret):
        return _refuse("smssync")
    raw = base.read_body(BODY_LIMIT)
    try:
        data = parse_json_object(raw)
        queued = data.get("queued_messages")
        if not isinstance(queued, list) or not all(isinstance(t, str) for t in queued):
            raise BadBody(
                _("A required field is missing or empty: %(field)s.", field="queued_messages")
            )
    except BadBody as refused:
        if not has_secret:  # not authenticated: the common 403, whatever was wrong
            return _refuse("smssync")
        return base.bad_request(str(refused))
    tokens = [str(t) for t in queued[:MAX_LOOKAHEAD]]
    leases = _leases()
    with leases.lock:
        leased = [leases.by_token[t][0] for t in tokens if t in leases.by_token]
    if not leased:
        return _answer(NO_UUIDS, JSON_TYPE)
    store = base.current().store
    live = store.still_queued(leased)
    confirmed, rows = leases.take(tokens, live)
    if rows:
        store.delivered(rows)
    return _answer(_json_bytes({"message_uuids": confirmed}), JSON_TYPE)


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- Twilio ----------------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: Mapping[str, list[str]]) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each
    parameter name and value, names sorted (and a name's values sorted)."""
    data = url
    for name in sorted(set(params)):
        for value in sorted(set(params[name])):
            data += name + value
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _lenient_form(raw: bytes) -> dict[str, list[str]]:
    """The parameters of a body that :func:`parse_form` refused, as leniently as can
    be (for the signature check only): none unless it says it is a form."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return {}
    try:
        pairs = urllib.parse.parse_qsl(
            raw.decode("utf-8", errors="replace"),
            keep_blank_values=True,
            errors="replace",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:
        return {}
    form: dict[str, list[str]] = {}
    for key, value in pairs:
        form.setdefault(key, []).append(value)
    return form


def _public_url(settings: TwilioSettings) -> str:
    """The base URL Twilio calls: ``[intake.twilio] public_url`` if set, else
    ``[intake] public_url``."""
    url = (settings.public_url or base.current().public_url).rstrip("/")
    if not url:
        log.warning("twilio: [intake] public_url is not set, so Twilio's messages are refused")
    return url


@bp.post("/sms/twilio")
def twilio() -> Response:
    settings: TwilioSettings = _settings("twilio")
    raw = base.read_body(BODY_LIMIT)
    signature = request.headers.get("X-Twilio-Signature", "")
    public_url = _public_url(settings)
    if not signature or not public_url:
        return _refuse("twilio")
    url = public_url + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    try:
        form = parse_form(raw)
    except BadBody as refused:
        # Authenticated only if the signature is right over what the body leniently
        # says (bad bytes replaced; no parameters unless it is a form): else the common
        # 403, so that only Twilio (or whoever holds the token) hears what is wrong.
        if not _equal(signature, twilio_signature(settings.auth_token, url, _lenient_form(raw))):
            return _refuse("twilio")
        return base.bad_request(str(refused))
    if not _equal(signature, twilio_signature(settings.auth_token, url, form)):
        return _refuse("twilio")
    return _take(
        form, "twilio", ("From", "Body", "MessageSid"), TWIML_EMPTY, "text/xml; charset=utf-8"
    )


# -- generic JSON webhook ----------------------------------------------------------------


def webhook_signature(secret: str, body: bytes) -> str:
    """The X-Sesim-Signature value of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@bp.post("/sms/webhook")
def webhook() -> Response:
    settings: WebhookSettings = _settings("webhook")
    raw = base.read_body(BODY_LIMIT)
    given = request.headers.get("X-Sesim-Signature", "")
    if not _equal(given, webhook_signature(settings.secret, raw)):
        return _refuse("webhook")
    try:
        data = parse_json_object(raw)
    except BadBody as refused:
        return base.bad_request(str(refused))
    return _take(data, "webhook", ("from", "text", "id"), WEBHOOK_OK, JSON_TYPE, also="to")


# -- senders ---------------------------------------------------------------------------


class TwilioSender:
    """Twilio's REST API: ``POST /2010-04-01/Accounts/{sid}/Messages.json``, form
    ``To``, ``From``, ``Body``, HTTP Basic auth (account SID, auth token)."""

    provider = "twilio"

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings

    def send(self, address: str, text: str) -> None:
        s = self.settings
        url = f"{s.api_base}/2010-04-01/Accounts/{urllib.parse.quote(s.account_sid)}/Messages.json"
        body = urllib.parse.urlencode({"To": address, "From": s.number, "Body": text}).encode(
            "ascii"
        )
        credentials = base64.b64encode(f"{s.account_sid}:{s.auth_token}".encode()).decode("ascii")
        base.post(
            url,
            body,
            {
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": "sesim-intake",
            },
            timeout=SEND_TIMEOUT,
            what="twilio",
        )


class WebhookSender:
    """The aggregator's ``send_url``: JSON ``{"from","to","text","id"}`` signed with
    ``X-Sesim-Signature: sha256=<hex HMAC-SHA256(secret, body)>``."""

    provider = "webhook"

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings

    def send(self, address: str, text: str) -> None:
        s = self.settings
        body = _json_bytes({"from": s.number, "to": address, "text": text, "id": uuid.uuid4().hex})
        base.post(
            s.send_url,
            body,
            {
                "X-Sesim-Signature": webhook_signature(s.secret, body),
                "Content-Type": "application/json",
                "User-Agent": "sesim-intake",
            },
            timeout=SEND_TIMEOUT,
            what="webhook",
        )


def make_sender(provider: str, settings: Any) -> Sender | None:
    """Twilio and the webhook push; SMSSync pulls (its phone polls task=send): None."""
    if provider == "twilio" and isinstance(settings, TwilioSettings):
        return TwilioSender(settings)
    if provider == "webhook" and isinstance(settings, WebhookSettings):
        return WebhookSender(settings)
    if provider == "smssync":
        return None
    raise ValueError(f"no sender for provider {provider!r}")
