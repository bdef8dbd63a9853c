"""Publication bundles (``sesim-publication`` version 1): the signed list of public entries
and retractions that the offline workstation writes and the public map reads.

Unlike the other two bundles this is not a tar file and holds nothing secret: it is one
canonical JSON file, ``{"manifest": {…}, "signature": "<128 hex>"}``, whose signature is
Ed25519 over the canonical bytes of the manifest. ``securedrop_like/BUNDLES.md`` is the
specification; this module is its one implementation.

:func:`write_publication_bundle` builds the bytes (and checks them with the reader's own
rules first, so a writer never makes what a reader refuses); :func:`read_publication`
checks, in this order, the size, the JSON, the **signature**, the canonical form, the
format and version, the schema (taxonomy and district codes, points on the grid or at a
metro station inside their district, text limits) and finally the chain (``sequence`` and
``previous``) when the caller says what it expects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, SupportsBytes

from crypto import BadSignature, CryptoError, sign_detached, verify_detached
from crypto.signing import SigningKeyLike

from .. import geo, grid, taxonomy
from ._validate import (
    BundleError,
    _day,
    _id,
    _list,
    _match,
    _no_constant,
    _object,
    _short,
    _unique_keys,
)

PUBLICATION_FORMAT = "sesim-publication"
PUBLICATION_VERSION = 1
MAX_PUBLICATION_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_RETRACTIONS = 10_000
MAX_SUMMARY_CHARS = 1_000
MAX_STORY_CHARS = 10_000
MAX_SEQUENCE = 2**53 - 1  # exact in every JSON reader, JavaScript included
LANGUAGES = ("az", "en", "ru")
POINT_KINDS = ("cell", "station")

_OUTER_KEYS = ("manifest", "signature")  # in this order: see _HEAD, _MIDDLE
_PUBLICATION_KEYS = ("format", "version", "sequence", "previous", "created_day", "entries",
                     "retractions")  # fmt: skip
_ENTRY_KEYS = ("id", "types", "district", "point", "month", "perpetrator", "service",
               "language", "summary", "story")  # fmt: skip
_POINT_KEYS = ("kind", "lat_e6", "lon_e6")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
#: The earliest month an entry may have; the latest is the month of the bundle's
#: ``created_day`` (nothing published happened after the day it was published).
FIRST_MONTH = "2000-01"


# -- what the format carries -----------------------------------------------------------


@dataclass(frozen=True)
class PublicPoint:
    """A published point: a grid cell centre or a metro station, in microdegrees."""

    kind: str  # "cell" | "station"
    lat_e6: int
    lon_e6: int

    @property
    def lat(self) -> float:
        return grid.from_e6(self.lat_e6)

    @property
    def lon(self) -> float:
        return grid.from_e6(self.lon_e6)


@dataclass(frozen=True)
class PublicEntry:
    """One published case. ``id`` is random, chosen when the entry was accepted."""

    id: str
    types: tuple[str, ...]
    district: str | None  # a district code, geo.ONLINE, or None (not said)
    point: PublicPoint | None
    month: str | None  # "YYYY-MM"
    perpetrator: str | None
    service: str | None
    language: str
    summary: str
    story: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "types": sorted(self.types),
            "district": self.district,
            "point": None
            if self.point is None
            else {
                "kind": self.point.kind,
                "lat_e6": self.point.lat_e6,
                "lon_e6": self.point.lon_e6,
            },  # fmt: skip
            "month": self.month,
            "perpetrator": self.perpetrator,
            "service": self.service,
            "language": self.language,
            "summary": self.summary,
            "story": self.story,
        }


@dataclass(frozen=True)
class Publication:
    """A bundle that was read and verified."""

    sequence: int
    previous: str | None
    created_day: str
    entries: tuple[PublicEntry, ...]
    retractions: tuple[str, ...]
    sha256: str  # of the whole file: the next bundle's ``previous``
    manifest_bytes: bytes  # the canonical manifest, exactly as signed


# -- canonical JSON --------------------------------------------------------------------


def _no_float(text: str) -> None:
    raise BundleError(f"manifest: numbers must be whole, not {_short(text)}")


def _check_values(value: object) -> None:
    """Only what canonical JSON allows: objects with string keys, lists, strings,
    integers, true, false, null."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise BundleError("canonical JSON has only string keys")
            _check_values(item)
    elif isinstance(value, list):
        for item in value:
            _check_values(item)
    elif not (value is None or isinstance(value, str | bool | int)):
        raise BundleError(f"canonical JSON has no {type(value).__name__} values")


def canonical_json(value: object) -> bytes:
    """The canonical bytes of a JSON value (BUNDLES.md, "Canonical JSON").

    Keys sorted by code point, no whitespace, strings in UTF-8 (only ``"``, ``\\`` and the
    controls U+0000–U+001F escaped), integers only; no floats, NaN or Infinity.
    """
    _check_values(value)
    try:
        text = json.dumps(
            value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
        )
        return text.encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:  # lone surrogates
        raise BundleError(f"not representable as canonical JSON: {exc}") from None


def _parse(data: bytes) -> object:
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_float=_no_float,
        )
    except BundleError:
        raise
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, absurd nesting
        raise BundleError(f"a publication bundle is UTF-8 JSON; this is not: {exc}") from None


# -- field checks ----------------------------------------------------------------------


def _code(value: object, allowed: Iterable[str], where: str, *, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if not (isinstance(value, str) and value in set(allowed)):
        raise BundleError(f"manifest: {where} is not a known code: {_short(value)}")
    return value


def _public_text(value: object, limit: int, where: str, *, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise BundleError(f"manifest: {where} must be text")
    if not value.strip() or value != value.strip():
        raise BundleError(f"manifest: {where} must not be empty or start or end with space")
    if len(value) > limit:
        raise BundleError(f"manifest: {where} is longer than {limit} characters")
    if not all(line.isprintable() for line in value.split("\n")):
        raise BundleError(
            f"manifest: {where} holds a control or invisible formatting character"
            " (only printable characters and line feeds are allowed)"
        )
    return value


def _whole(value: object, low: int, high: int, where: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise BundleError(f"manifest: {where} must be a whole number from {low} to {high}")
    return value


def _point(value: object, district: str | None, where: str) -> PublicPoint | None:
    if value is None:
        if district is not None and district != geo.ONLINE:
            raise BundleError(f"manifest: {where} needs a point inside district {district}")
        return None
    doc = _object(value, _POINT_KEYS, where)
    kind = _code(doc["kind"], POINT_KINDS, f"{where}.kind", nullable=False)
    lat = _whole(doc["lat_e6"], -90_000_000, 90_000_000, f"{where}.lat_e6")
    lon = _whole(doc["lon_e6"], -180_000_000, 180_000_000, f"{where}.lon_e6")
    if district is None or district == geo.ONLINE:
        raise BundleError(f"manifest: {where} must be null for district {_short(district)}")
    if kind == "cell" and not grid.is_cell_centre(lat, lon):
        raise BundleError(f"manifest: {where} is not the centre of a grid cell")
    if kind == "station" and grid.station_at(lat, lon) is None:
        raise BundleError(f"manifest: {where} is not a metro station")
    if not grid.district_contains(district, lat, lon):
        raise BundleError(f"manifest: {where} is not inside district {district}")
    return PublicPoint(str(kind), lat, lon)


def parse_entry(value: object, where: str = "entry", created_day: str | None = None) -> PublicEntry:
    """Check one entry's JSON exactly as :func:`read_publication` checks each entry (the
    workstation checks a draft with it before accepting it, ``created_day`` the day it
    would be published); BundleError if it fails."""
    return _entry(value, where, created_day)


def _month(value: object, where: str, created_day: str | None) -> str:
    """A month ``YYYY-MM`` from :data:`FIRST_MONTH` to the month of ``created_day``."""
    month = _match(value, _MONTH, where, "a month YYYY-MM")
    latest = created_day[:7] if created_day else "9999-12"
    if not FIRST_MONTH <= month <= latest:
        raise BundleError(
            f"manifest: {where} must be from {FIRST_MONTH} to the month the bundle is"
            f" written ({latest}), not {month}"
        )
    return month


def _entry(value: object, where: str, created_day: str | None = None) -> PublicEntry:
    doc = _object(value, _ENTRY_KEYS, where)
    entry_id = _id(doc["id"], f"{where}.id")
    types = _list(doc["types"], f"{where}.types")
    known = taxonomy.codes(taxonomy.HARASSMENT_TYPES)
    for index, code in enumerate(types):
        _code(code, known, f"{where}.types[{index}]", nullable=False)
    if not types or types != sorted(set(types)):
        raise BundleError(f"manifest: {where}.types must be one or more codes, sorted, unique")
    district = _code(doc["district"], geo.location_codes(), f"{where}.district", nullable=True)
    point = _point(doc["point"], district, f"{where}.point")
    month = doc["month"]
    if month is not None:
        month = _month(month, f"{where}.month", created_day)
    return PublicEntry(
        id=entry_id,
        types=tuple(types),
        district=district,
        point=point,
        month=month,
        perpetrator=_code(
            doc["perpetrator"],
            taxonomy.codes(taxonomy.PERPETRATOR_TYPES),
            f"{where}.perpetrator",
            nullable=True,
        ),  # fmt: skip
        service=_code(
            doc["service"], taxonomy.codes(taxonomy.SERVICES), f"{where}.service", nullable=True
        ),  # fmt: skip
        language=str(_code(doc["language"], LANGUAGES, f"{where}.language", nullable=False)),
        summary=str(
            _public_text(doc["summary"], MAX_SUMMARY_CHARS, f"{where}.summary", nullable=False)
        ),  # fmt: skip
        story=_public_text(doc["story"], MAX_STORY_CHARS, f"{where}.story", nullable=True),
    )


def _manifest(doc: object) -> tuple[int, str | None, str, tuple[PublicEntry, ...], tuple[str, ...]]:
    if not isinstance(doc, dict):
        raise BundleError("manifest: must be a JSON object")
    if doc.get("format") != PUBLICATION_FORMAT:
        raise BundleError(f"not a Səsim publication bundle: format is {_short(doc.get('format'))}")
    found = doc.get("version")
    if type(found) is not int or found != PUBLICATION_VERSION:
        raise BundleError(
            f"unsupported publication bundle version {_short(found)};"
            f" this reader knows version {PUBLICATION_VERSION}"
        )
    doc = _object(doc, _PUBLICATION_KEYS, "the manifest")
    sequence = _whole(doc["sequence"], 1, MAX_SEQUENCE, "sequence")
    previous = doc["previous"]
    if sequence == 1:
        if previous is not None:
            raise BundleError("manifest: the first bundle (sequence 1) has no previous")
    else:
        _match(previous, _SHA256, "previous", "the SHA-256 (64 lowercase hex) of the last bundle")
    created_day = _day(doc["created_day"], "created_day")
    raw_entries = _list(doc["entries"], "entries")
    raw_retractions = _list(doc["retractions"], "retractions")
    if len(raw_entries) > MAX_ENTRIES or len(raw_retractions) > MAX_RETRACTIONS:
        raise BundleError(
            f"manifest: at most {MAX_ENTRIES} entries and {MAX_RETRACTIONS} retractions"
        )
    entries = tuple(_entry(e, f"entries[{i}]", created_day) for i, e in enumerate(raw_entries))
    retractions = tuple(_id(r, f"retractions[{i}]") for i, r in enumerate(raw_retractions))
    ids = [e.id for e in entries]
    if ids != sorted(set(ids)):
        raise BundleError("manifest: entries must be sorted by id, each id once")
    if list(retractions) != sorted(set(retractions)):
        raise BundleError("manifest: retractions must be sorted, each id once")
    both = set(ids) & set(retractions)
    if both:
        raise BundleError(f"manifest: entry {min(both)} is both published and retracted")
    return sequence, previous, created_day, entries, retractions


# -- writing ---------------------------------------------------------------------------


def write_publication_bundle(
    signing_key: SigningKeyLike,
    *,
    sequence: int,
    previous: str | None,
    created_day: str,
    entries: Sequence[PublicEntry],
    retractions: Iterable[str],
) -> bytes:
    """The bytes of a signed publication bundle (write them to a file as they are).

    ``signing_key`` is the workstation's Ed25519 key (or its 32-byte seed, for tests).
    Entries and retractions are put in id order. Raises :class:`BundleError` if anything
    breaks the format, checked with the reader's rules.
    """
    manifest = {
        "format": PUBLICATION_FORMAT,
        "version": PUBLICATION_VERSION,
        "sequence": sequence,
        "previous": previous,
        "created_day": created_day,
        "entries": [e.to_json() for e in sorted(entries, key=lambda e: e.id)],
        "retractions": sorted(retractions),
    }
    body = canonical_json(manifest)
    _manifest(_parse(body))
    try:
        signature = sign_detached(signing_key, body)
    except CryptoError as exc:
        raise BundleError(f"cannot sign the publication bundle: {exc}") from None
    data = canonical_json({"manifest": manifest, "signature": signature.hex()})
    if len(data) > MAX_PUBLICATION_BYTES:
        raise BundleError(
            f"the publication bundle would be {len(data)} bytes, over the"
            f" {MAX_PUBLICATION_BYTES} readers accept: publish fewer entries at once"
        )
    return data


def bundle_sha256(data: bytes) -> str:
    """What the next bundle names as ``previous``: SHA-256 of this bundle's file."""
    return hashlib.sha256(data).hexdigest()


# -- the verify key's text form -------------------------------------------------------

VERIFY_KEY_PREFIX = "sesim-ed25519-verify:"
_B64_KEY = re.compile(r"[A-Za-z0-9_-]{43}")


def verify_key_text(raw: bytes) -> str:
    """``sesim-ed25519-verify:<base64url>`` for a raw 32-byte Ed25519 verify key."""
    if len(raw) != 32:
        raise BundleError("a verify key is 32 bytes")
    return VERIFY_KEY_PREFIX + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode("ascii")


def parse_verify_key(text: str) -> bytes:
    """The raw verify key of :func:`verify_key_text` output; BundleError otherwise."""
    text = text.strip()
    body = text[len(VERIFY_KEY_PREFIX) :] if text.startswith(VERIFY_KEY_PREFIX) else ""
    if not _B64_KEY.fullmatch(body):
        raise BundleError("not a Səsim publication verify key")
    try:
        raw = base64.urlsafe_b64decode(body + "=")
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - regex checked
        raise BundleError("not a Səsim publication verify key") from exc
    if verify_key_text(raw) != text:
        raise BundleError("the verify key is not in canonical form")
    return raw


def read_verify_key_file(path: Path) -> bytes:
    """Read a ``publication.verify`` file: ``#`` comment lines, then the key line (what
    ``sesim workstation init`` writes; the public map reads it at ``sesim map init``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"cannot read the verify key file {path}") from exc
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) != 1:
        raise BundleError(f"{path} must hold exactly one key line")
    return parse_verify_key(lines[0])


# -- reading ---------------------------------------------------------------------------


def _read_bytes(source: bytes | str | Path | IO[bytes]) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | Path):
        with open(source, "rb") as handle:
            data = handle.read(MAX_PUBLICATION_BYTES + 1)
    else:
        data = source.read(MAX_PUBLICATION_BYTES + 1)
    if len(data) > MAX_PUBLICATION_BYTES:
        raise BundleError(f"a publication bundle is at most {MAX_PUBLICATION_BYTES} bytes")
    return data


class ChainError(BundleError):
    """A bundle that is fine on its own but not the next one the reader expects: replayed,
    rolled back, skipped ahead or forked (the map answers "out of order", not "bad")."""


#: The file is ``canonical({"manifest": M, "signature": S})``: keys sort "manifest" before
#: "signature", so its bytes are exactly _HEAD + canonical(M) + _MIDDLE + S + _TAIL.
_HEAD = b'{"manifest":'
_MIDDLE = b',"signature":"'
_TAIL = b'"}'
_SIGNATURE_HEX = 128
_SIGNATURE_BYTES = re.compile(rb"[0-9a-f]{128}")


def _split(data: bytes) -> tuple[bytes, bytes]:
    """The signed manifest bytes and the signature, cut from the file's bytes by position:
    nothing is parsed before the signature is checked (a 16 MiB forgery costs a slice and a
    hash, not a JSON parse)."""
    tail_len = len(_MIDDLE) + _SIGNATURE_HEX + len(_TAIL)
    manifest = data[len(_HEAD) : len(data) - tail_len]
    tail = data[len(data) - tail_len :]
    if (
        len(data) < len(_HEAD) + 2 + tail_len
        or not data.startswith(_HEAD)
        or not tail.startswith(_MIDDLE)
        or not tail.endswith(_TAIL)
        or not manifest.startswith(b"{")
        or not manifest.endswith(b"}")
    ):
        raise BundleError(
            "the publication bundle is not in canonical form (BUNDLES.md): it must be exactly"
            ' {"manifest":{…},"signature":"<128 hex>"} with no space, newline or BOM'
        )
    signature = tail[len(_MIDDLE) : len(_MIDDLE) + _SIGNATURE_HEX]
    if not _SIGNATURE_BYTES.fullmatch(signature):
        raise BundleError("manifest: signature must be 128 lowercase hex digits")
    return manifest, bytes.fromhex(signature.decode("ascii"))


def check_chain(pub: Publication, expect_sequence: int | None, expect_previous: str | None) -> None:
    """:class:`ChainError` unless ``pub`` is the bundle expected next (BUNDLES.md, step 6)."""
    sequence, previous = pub.sequence, pub.previous
    if expect_sequence is not None and sequence != expect_sequence:
        if sequence < expect_sequence:
            raise ChainError(
                f"publication bundle {sequence} is older than the expected {expect_sequence}:"
                " a replayed or rolled-back bundle"
            )
        raise ChainError(
            f"publication bundle {sequence} skips ahead of the expected {expect_sequence}:"
            " read the bundles in between first"
        )
    if expect_previous is not None and previous != expect_previous:
        raise ChainError(
            f"publication bundle {sequence} does not follow the last bundle read: it names"
            f" previous {_short(previous)}, not {expect_previous[:16]}… (a fork)"
        )


def read_publication(
    data_or_path: bytes | str | Path | IO[bytes],
    verify_key: bytes | SupportsBytes,
    *,
    expect_sequence: int | None = None,
    expect_previous: str | None = None,
) -> Publication:
    """Read and verify a publication bundle; :class:`BundleError` at the first problem
    (:class:`ChainError`, a subclass, when only the chain check refuses it).

    ``verify_key`` is the workstation's 32-byte Ed25519 verify key. A reader that keeps
    the chain passes ``expect_sequence`` (the last sequence it accepted, plus one) and
    ``expect_previous`` (the ``sha256`` of the last bundle it accepted), so a replayed,
    rolled-back, skipped or forked bundle is refused (or calls :func:`check_chain` itself
    later, as the map does inside its write transaction).

    The signature is checked over the manifest's bytes as they stand in the file, before
    any JSON is parsed; only a correctly signed manifest is parsed, and then it must be
    canonical, so the whole file is too.
    """
    data = _read_bytes(data_or_path)
    body, signature = _split(data)
    try:
        verify_detached(verify_key, body, signature)
    except BadSignature:
        raise BundleError(
            "the publication bundle's signature does not verify: it was changed after"
            " signing, signed with another key than this one, or is not in canonical form"
        ) from None
    except CryptoError as exc:
        raise BundleError(f"cannot check the signature: {exc}") from None
    manifest = _parse(body)
    if not isinstance(manifest, dict):
        raise BundleError("manifest: must be a JSON object")
    if canonical_json(manifest) != body:
        raise BundleError("the publication bundle is not in canonical form (BUNDLES.md)")
    sequence, previous, created_day, entries, retractions = _manifest(manifest)
    pub = Publication(
        sequence=sequence,
        previous=previous,
        created_day=created_day,
        entries=entries,
        retractions=retractions,
        sha256=bundle_sha256(data),
        manifest_bytes=body,
    )
    check_chain(pub, expect_sequence, expect_previous)
    return pub
