"""What both bundle formats share: their names, versions and limits, :class:`BundleError`,
and the strict checks every manifest goes through.

Readers parse ``manifest.json`` with :func:`_load_json` (no duplicate keys, no NaN) and
check each field with the helpers here; writers build the same document, check it with the
same parser and serialise it with :func:`_dump_json`, so a writer never makes what a reader
refuses.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from ..errors import SesimError

EXPORT_FORMAT = "sesim-export"
EXPORT_VERSION = 2  # 2: adds "sources" (her public key, channel, consent decisions)
EXPORT_VERSIONS = (1, 2)  # what the export reader accepts
REPLIES_FORMAT = "sesim-replies"
REPLIES_VERSION = 2  # 2: each reply is an envelope version 2 bound to its id
# The same kinds as models.ITEM_KINDS (a test keeps them equal); not imported, so that the
# workstation can read bundles without the server's database layer.
ITEM_KINDS = ("report", "message", "file", "reply")
MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
BLOCK_SIZE = 64 * 1024
MAX_TEXT_LENGTH = 100  # designations and staff usernames

_MAX_SIZE = 2**63 - 1
#: An item, draft or entry id: 32 lowercase hex digits (``ID_PATTERN.fullmatch(text)``).
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EXPORT_KEYS_V1 = ("format", "version", "created_day", "items", "retractions")
_EXPORT_KEYS = (*_EXPORT_KEYS_V1, "sources")
_SOURCE_KEYS = ("designation", "public_key", "channel", "consent")
_CONSENT_KEYS = ("draft_id", "decision", "day")
CONSENT_DECISIONS = ("approve", "refuse")
# A channel is a short lowercase word: "web" today; the intake issue adds "sms", "email",
# "messenger" and "x". Not a closed list, so a new channel needs no new version.
_CHANNEL = re.compile(r"[a-z][a-z0-9_-]{0,19}")
_ITEM_KEYS = ("id", "source", "kind", "parent", "day", "size", "sha256")
_RETRACTION_KEYS = ("id", "designation", "day", "item_ids")
_REPLIES_KEYS = ("format", "version", "replies")
_REPLY_KEYS = ("id", "source", "size", "sha256", "author")


class BundleError(SesimError, ValueError):
    """A bundle, or what was given to write one, breaks the format.

    ``item_id`` names the item or reply at fault, when there is one.
    """

    def __init__(self, message: str, item_id: str | None = None) -> None:
        super().__init__(message)
        self.item_id = item_id


class ReplyBindingError(BundleError):
    """A reply in a reply bundle is not an envelope bound to its own id (and, as the
    server checks, to its source): version 1, or written for another item."""

    def __init__(self, message: str, reply_id: str, source: str) -> None:
        super().__init__(message, reply_id)
        self.source = source


# -- manifests -------------------------------------------------------------------------


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _object(value: object, keys: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BundleError(f"manifest: {where} must be an object")
    if set(value) != set(keys):
        missing = [k for k in keys if k not in value]
        if missing:
            raise BundleError(f"manifest: {where} lacks {', '.join(missing)}")
        extra = sorted(str(k) for k in value if k not in keys)
        raise BundleError(f"manifest: {where} has unexpected field(s) {', '.join(extra)}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BundleError(f"manifest: {where} must be a list")
    return value


def _match(value: object, pattern: re.Pattern[str], where: str, what: str) -> str:
    if not (isinstance(value, str) and pattern.fullmatch(value)):
        raise BundleError(f"manifest: {where} must be {what}, not {_short(value)}")
    return value


def _id(value: object, where: str) -> str:
    return _match(value, ID_PATTERN, where, "32 lowercase hex digits")


def _day(value: object, where: str) -> str:
    day = _match(value, _DAY, where, "a date YYYY-MM-DD")
    try:
        datetime.date.fromisoformat(day)
    except ValueError:
        raise BundleError(f"manifest: {where} is not a real date: {day}") from None
    return day


def _size(value: object, where: str) -> int:
    if type(value) is not int or not 0 <= value <= _MAX_SIZE:
        raise BundleError(f"manifest: {where} must be a whole number of bytes")
    return value


def _text(value: object, where: str) -> str:
    if not (
        isinstance(value, str)
        and 0 < len(value) <= MAX_TEXT_LENGTH
        and value.isprintable()
        and value == value.strip()
    ):
        raise BundleError(f"manifest: {where} must be 1 to {MAX_TEXT_LENGTH} printable characters")
    return value


def _check_header(doc: object, fmt: str, version: int | tuple[int, ...], label: str) -> int:
    """Format, then version, then schema: a newer bundle says so, not "unexpected field".
    Returns the bundle's version (one of ``version``)."""
    if not isinstance(doc, dict):
        raise BundleError("manifest: must be a JSON object")
    if doc.get("format") != fmt:
        raise BundleError(f"not a Səsim {label}: format is {_short(doc.get('format'))}")
    known = (version,) if isinstance(version, int) else version
    found = doc.get("version")
    if type(found) is not int or found not in known:
        names = " and ".join(str(v) for v in known)
        raise BundleError(
            f"unsupported {label} version {_short(found)}; this reader knows"
            f" version{'s' if len(known) > 1 else ''} {names}"
        )
    return found


def _dump_json(doc: dict[str, Any]) -> bytes:
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    data = text.encode("utf-8")
    if len(data) > MAX_MANIFEST_BYTES:
        raise BundleError(
            f"the manifest would be {len(data)} bytes, over the {MAX_MANIFEST_BYTES} that"
            " readers accept: put fewer items in one bundle"
        )
    return data


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise BundleError(f"manifest: field {_short(key)} appears twice in one object")
        doc[key] = value
    return doc


def _no_constant(name: str) -> None:
    raise BundleError(f"manifest: {name} is not allowed")


def _load_json(data: bytes) -> object:
    try:
        return json.loads(
            data.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
    except BundleError:
        raise
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, absurd nesting
        raise BundleError(f"manifest.json is not valid UTF-8 JSON: {exc}") from None
