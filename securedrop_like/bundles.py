"""Export and reply bundles: the files that carry ciphertext between the server and the
offline reviewer workstation. The formats are specified in ``securedrop_like/BUNDLES.md``;
this module is their one implementation (the server writes exports and reads replies, the
workstation reads exports and writes replies).

Both are POSIX tar files (pax format, deterministic headers) holding ``manifest.json``
first and then each ciphertext, in manifest order. Nothing in them is plaintext: every
member after the manifest is a crypto envelope, byte for byte as stored.

Memory stays bounded whatever the size: an export is written as a stream of ~64 KiB
pieces and read item by item through :class:`ItemStream`, which checks each item's size
and SHA-256 as it goes. Because the manifest comes first and lists every hash, an export
is made in two passes (:func:`plan_export` hashes items whose hash is not known, then the
writer streams them and hashes them again to catch a file that changed in between).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import tarfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import IO, Any, NamedTuple, Protocol, cast

from crypto import ByteSink, ByteSource, CryptoError, envelope_size, read_recipient_ids

from .errors import SesimError

EXPORT_FORMAT = "sesim-export"
EXPORT_VERSION = 1
REPLIES_FORMAT = "sesim-replies"
REPLIES_VERSION = 1
# The same kinds as models.ITEM_KINDS (a test keeps them equal); not imported, so that the
# workstation can read bundles without the server's database layer.
ITEM_KINDS = ("report", "message", "file", "reply")
MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
BLOCK_SIZE = 64 * 1024
MAX_TEXT_LENGTH = 100  # designations and staff usernames

_TAR_BLOCK = 512
_TAR_RECORD = 20 * _TAR_BLOCK  # tarfile.RECORDSIZE: archives are padded to a multiple
# What tarfile may read for one member's headers (pax records, long names). Ours need under
# 2 KiB; the cap stops a crafted header from making tarfile buffer gigabytes.
_HEADER_BUDGET = 1024 * 1024
_MAX_SIZE = 2**63 - 1
_NOT_YET_HASHED = "0" * 64  # stands in for a hash while the rest of an item is checked
_ID = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_EXPORT_KEYS = ("format", "version", "created_day", "items", "retractions")
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


# -- what the formats carry ------------------------------------------------------------


class Readable(Protocol):
    """An item's ciphertext as the writer reads it: an open file, a BytesIO, …"""

    def read(self, size: int, /) -> bytes: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class ExportItem:
    """One ciphertext to export. ``open`` is called once per pass and the stream closed.

    Give ``sha256`` (lowercase hex) when it is known, to save the hashing pass.
    """

    id: str
    source: str
    kind: str
    parent: str | None
    day: str
    size: int
    open: Callable[[], Readable]
    sha256: str | None = None


class RetractionLike(Protocol):
    """A withdrawal notice, such as :class:`securedrop_like.models.Retraction`."""

    @property
    def id(self) -> str: ...
    @property
    def designation(self) -> str: ...
    @property
    def day(self) -> str: ...
    @property
    def item_ids(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class ExportEntry:
    """One item line of an export manifest."""

    id: str
    source: str
    kind: str
    parent: str | None
    day: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RetractionEntry:
    id: str
    designation: str
    day: str
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class ExportManifest:
    created_day: str
    items: tuple[ExportEntry, ...]
    retractions: tuple[RetractionEntry, ...]


@dataclass(frozen=True)
class BundleSummary:
    count: int  # items or replies
    bytes: int  # the whole bundle


ExportSummary = BundleSummary


@dataclass(frozen=True)
class ReplyEntry:
    """A reply sealed on the workstation, to go into a reply bundle."""

    id: str
    source: str
    author: str
    ciphertext: bytes


@dataclass(frozen=True)
class ParsedReply:
    """A verified reply from a reply bundle. The caller still checks that ``source``
    exists, that ``id`` is new, and which keys (``recipient_ids``) it is sealed to."""

    id: str
    source: str
    author: str
    size: int
    sha256: str
    ciphertext: bytes
    recipient_ids: tuple[str, ...]


class _ReplyLine(NamedTuple):
    id: str
    source: str
    size: int
    sha256: str
    author: str


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
    return _match(value, _ID, where, "32 lowercase hex digits")


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


def _check_header(doc: object, fmt: str, version: int, label: str) -> None:
    """Format, then version, then schema: a newer bundle says so, not "unexpected field"."""
    if not isinstance(doc, dict):
        raise BundleError("manifest: must be a JSON object")
    if doc.get("format") != fmt:
        raise BundleError(f"not a Səsim {label}: format is {_short(doc.get('format'))}")
    found = doc.get("version")
    if type(found) is not int or found != version:
        raise BundleError(
            f"unsupported {label} version {_short(found)}; this reader knows version {version}"
        )


def _export_entry(raw: object, where: str) -> ExportEntry:
    line = _object(raw, _ITEM_KEYS, where)
    if line["kind"] not in ITEM_KINDS:
        raise BundleError(f"manifest: {where}.kind must be one of {', '.join(ITEM_KINDS)}")
    parent = line["parent"]
    return ExportEntry(
        id=_id(line["id"], f"{where}.id"),
        source=_text(line["source"], f"{where}.source"),
        kind=line["kind"],
        parent=None if parent is None else _id(parent, f"{where}.parent"),
        day=_day(line["day"], f"{where}.day"),
        size=_size(line["size"], f"{where}.size"),
        sha256=_match(line["sha256"], _SHA256, f"{where}.sha256", "64 lowercase hex digits"),
    )


def _parse_export_manifest(doc: object) -> ExportManifest:
    _check_header(doc, EXPORT_FORMAT, EXPORT_VERSION, "export bundle")
    top = _object(doc, _EXPORT_KEYS, "the top level")
    items: list[ExportEntry] = []
    seen: set[str] = set()
    for n, raw in enumerate(_list(top["items"], "items")):
        entry = _export_entry(raw, f"items[{n}]")
        if entry.id in seen:
            raise BundleError(f"manifest: item {entry.id} is listed twice", entry.id)
        seen.add(entry.id)
        items.append(entry)
    retractions: list[RetractionEntry] = []
    seen = set()
    for n, raw in enumerate(_list(top["retractions"], "retractions")):
        where = f"retractions[{n}]"
        line = _object(raw, _RETRACTION_KEYS, where)
        ids = _list(line["item_ids"], f"{where}.item_ids")
        retraction = RetractionEntry(
            id=_id(line["id"], f"{where}.id"),
            designation=_text(line["designation"], f"{where}.designation"),
            day=_day(line["day"], f"{where}.day"),
            item_ids=tuple(_id(v, f"{where}.item_ids[{i}]") for i, v in enumerate(ids)),
        )
        if retraction.id in seen:
            raise BundleError(f"manifest: retraction {retraction.id} is listed twice")
        seen.add(retraction.id)
        retractions.append(retraction)
    created_day = _day(top["created_day"], "created_day")
    return ExportManifest(created_day, tuple(items), tuple(retractions))


def _parse_replies_manifest(doc: object) -> list[_ReplyLine]:
    _check_header(doc, REPLIES_FORMAT, REPLIES_VERSION, "reply bundle")
    top = _object(doc, _REPLIES_KEYS, "the top level")
    lines: list[_ReplyLine] = []
    seen: set[str] = set()
    for n, raw in enumerate(_list(top["replies"], "replies")):
        where = f"replies[{n}]"
        line = _object(raw, _REPLY_KEYS, where)
        reply = _ReplyLine(
            id=_id(line["id"], f"{where}.id"),
            source=_text(line["source"], f"{where}.source"),
            size=_size(line["size"], f"{where}.size"),
            sha256=_match(line["sha256"], _SHA256, f"{where}.sha256", "64 lowercase hex digits"),
            author=_text(line["author"], f"{where}.author"),
        )
        if reply.id in seen:
            raise BundleError(f"manifest: reply {reply.id} is listed twice", reply.id)
        seen.add(reply.id)
        lines.append(reply)
    return lines


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


def _envelope_recipients(data: bytes, reply_id: str) -> tuple[str, ...]:
    """The key ids of an envelope header (crypto/FORMAT.md, version 1), or BundleError."""
    try:
        ids = read_recipient_ids(data)
        if len(data) < envelope_size(0, len(ids)):
            raise BundleError(f"reply {reply_id} is too short to be an envelope", reply_id)
    except CryptoError as exc:
        raise BundleError(f"reply {reply_id} is not a Səsim envelope: {exc}", reply_id) from None
    return tuple(ids)


# -- writing tar -----------------------------------------------------------------------
# tarfile's stream writer ('w|') copies a whole member per call, which a generator cannot
# interleave with yields. So we emit exactly what it emits, piece by piece: the header from
# TarInfo.tobuf, the data, NUL padding to 512 bytes, two zero blocks, padding to a record.
# A test checks the bytes equal tarfile.open(mode="w|", format=PAX_FORMAT)'s.

_Member = tuple[str, int, Iterable[bytes]]  # name, size, body yielding exactly size bytes


def _member_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = tarfile.REGTYPE
    info.mode = 0o600
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _end_of_archive(offset: int) -> int:
    end = 2 * _TAR_BLOCK
    return end + (-(offset + end) % _TAR_RECORD)


def _tar_size(members: Iterable[tuple[str, int]]) -> int:
    offset = sum(
        len(_member_header(name, size)) + size + (-size % _TAR_BLOCK) for name, size in members
    )
    return offset + _end_of_archive(offset)


def _tar_pieces(members: Iterable[_Member]) -> Iterator[bytes]:
    offset = 0
    for name, size, body in members:
        header = _member_header(name, size)
        yield header
        yield from body
        padding = -size % _TAR_BLOCK
        if padding:
            yield bytes(padding)
        offset += len(header) + size + padding
    yield bytes(_end_of_archive(offset))


def _rechunk(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def _item_blocks(item: ExportItem) -> Generator[bytes, None, None]:
    """The item's bytes in blocks of at most 64 KiB; BundleError unless exactly ``size``."""
    stream = item.open()
    try:
        remaining = item.size
        while remaining:
            want = min(BLOCK_SIZE, remaining)
            block = stream.read(want)
            if not block:
                raise BundleError(
                    f"item {item.id} is shorter than its recorded size {item.size}", item.id
                )
            if len(block) > want:
                raise BundleError(f"item {item.id}: its stream returned too much", item.id)
            remaining -= len(block)
            yield block
        if stream.read(1):
            raise BundleError(
                f"item {item.id} is longer than its recorded size {item.size}", item.id
            )
    finally:
        stream.close()


def _hash_item(item: ExportItem) -> str:
    sha = hashlib.sha256()
    with closing(_item_blocks(item)) as blocks:
        for block in blocks:
            sha.update(block)
    return sha.hexdigest()


def _verified_body(item: ExportItem, expected: str) -> Iterator[bytes]:
    """The item's bytes, hashed again; the last block is held back until the hash matches,
    so an item that changed since the manifest was made never appears whole."""
    sha = hashlib.sha256()
    pending = b""
    with closing(_item_blocks(item)) as blocks:
        for block in blocks:
            if pending:
                yield pending
            sha.update(block)
            pending = block
    if sha.hexdigest() != expected:
        raise BundleError(f"item {item.id} does not match its SHA-256 (changed?)", item.id)
    if pending:
        yield pending


def _retraction_doc(retraction: RetractionLike | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(retraction, Mapping):
        extra = set(retraction) - set(_RETRACTION_KEYS)
        if extra:
            raise BundleError(f"retraction has unexpected field(s) {', '.join(sorted(extra))}")
        doc = {key: retraction.get(key) for key in _RETRACTION_KEYS}
    else:
        doc = {
            "id": retraction.id,
            "designation": retraction.designation,
            "day": retraction.day,
            "item_ids": retraction.item_ids,
        }
    if isinstance(doc["item_ids"], list | tuple):
        doc["item_ids"] = list(doc["item_ids"])
    return doc


# -- export bundles: writing -----------------------------------------------------------


class ExportPlan:
    """An export whose manifest is made (the first pass is done): stream or write it.

    ``size`` is the exact length of the bundle, for a Content-Length header.
    """

    def __init__(self, items: list[ExportItem], manifest: ExportManifest, raw: bytes) -> None:
        self.items = items
        self.manifest = manifest
        self.manifest_bytes = raw
        self.count = len(items)
        members = [(MANIFEST_NAME, len(raw))] + [(f"items/{e.id}", e.size) for e in manifest.items]
        self.size = _tar_size(members)

    def pieces(self) -> Iterator[bytes]:
        """The bundle as the tar writer produces it (pieces of at most 64 KiB)."""
        members: list[_Member] = [(MANIFEST_NAME, len(self.manifest_bytes), [self.manifest_bytes])]
        for item, entry in zip(self.items, self.manifest.items, strict=True):
            members.append((f"items/{item.id}", item.size, _verified_body(item, entry.sha256)))
        return _tar_pieces(members)

    def chunks(self, chunk_size: int = BLOCK_SIZE) -> Iterator[bytes]:
        """The bundle in pieces of exactly ``chunk_size`` bytes (the last may be shorter)."""
        return _rechunk(self.pieces(), chunk_size)

    def write_to(self, sink: ByteSink) -> BundleSummary:
        """Write the bundle to a binary file object (the second pass)."""
        written = 0
        for piece in self.pieces():
            sink.write(piece)
            written += len(piece)
        return BundleSummary(self.count, written)


def plan_export(
    items: Iterable[ExportItem],
    retractions: Iterable[RetractionLike | Mapping[str, Any]],
    created_day: str,
) -> ExportPlan:
    """Check the items and make the manifest, hashing (and size-checking) every item whose
    ``sha256`` is not given. Raises BundleError before any byte of the bundle exists."""
    listed = list(items)
    lines = []
    for n, item in enumerate(listed):
        line = {
            "id": item.id,
            "source": item.source,
            "kind": item.kind,
            "parent": item.parent,
            "day": item.day,
            "size": item.size,
            "sha256": item.sha256 or _NOT_YET_HASHED,
        }
        _export_entry(line, f"items[{n}]")  # check everything before reading gigabytes
        if item.sha256 is None:
            line["sha256"] = _hash_item(item)
        lines.append(line)
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "created_day": created_day,
        "items": lines,
        "retractions": [_retraction_doc(r) for r in retractions],
    }
    manifest = _parse_export_manifest(doc)  # the writer never makes what readers refuse
    return ExportPlan(listed, manifest, _dump_json(doc))


def write_export(
    sink: ByteSink,
    items: Iterable[ExportItem],
    retractions: Iterable[RetractionLike | Mapping[str, Any]],
    created_day: str,
) -> BundleSummary:
    """Write an export bundle to ``sink`` (any binary file object)."""
    return plan_export(items, retractions, created_day).write_to(sink)


def iter_export_chunks(
    items: Iterable[ExportItem],
    retractions: Iterable[RetractionLike | Mapping[str, Any]],
    created_day: str,
    chunk_size: int = BLOCK_SIZE,
) -> Iterator[bytes]:
    """An export bundle as ``chunk_size`` pieces, for a streaming response.

    The first pass runs in this call, so a missing or wrong item raises here, before a
    response has started. An item that changes afterwards raises from the iterator, which
    leaves a truncated download that every reader refuses.
    """
    return plan_export(items, retractions, created_day).chunks(chunk_size)


# -- reading tar -----------------------------------------------------------------------


class _GuardedSource:
    """The bundle as tarfile reads it: caps the total, and what one member's headers cost."""

    def __init__(self, src: ByteSource, limit: int | None, label: str) -> None:
        self._src = src
        self._limit = limit
        self._label = label
        self.total = 0
        self.header_budget: int | None = None

    def read(self, size: int = -1) -> bytes:
        data = self._src.read(size)
        self.total += len(data)
        if self._limit is not None and self.total > self._limit:
            raise BundleError(f"the {self._label} is larger than {self._limit} bytes")
        if self.header_budget is not None:
            self.header_budget -= len(data)
            if self.header_budget < 0:
                raise BundleError(f"a member header in the {self._label} is implausibly large")
        return data


def _open_tar(guard: _GuardedSource) -> tarfile.TarFile:
    guard.header_budget = _HEADER_BUDGET
    try:
        # 'r|': a forward-only stream, and no decompression (so no zip bombs).
        return tarfile.open(fileobj=cast(IO[bytes], guard), mode="r|", bufsize=BLOCK_SIZE)
    except tarfile.TarError as exc:
        raise BundleError(f"not a bundle: {exc}") from None
    finally:
        guard.header_budget = None


def _next_member(tar: tarfile.TarFile, guard: _GuardedSource) -> tarfile.TarInfo | None:
    guard.header_budget = _HEADER_BUDGET
    try:
        return tar.next()
    except tarfile.TarError as exc:
        raise BundleError(f"damaged or truncated bundle: {exc}") from None
    finally:
        guard.header_budget = None


_TYPE_NAMES = {
    tarfile.SYMTYPE: "symbolic link",
    tarfile.LNKTYPE: "hard link",
    tarfile.DIRTYPE: "directory",
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
}


def _checked_name(member: tarfile.TarInfo) -> str:
    name = member.name
    if member.type != tarfile.REGTYPE:
        what = _TYPE_NAMES.get(member.type, f"member of type {_short(member.type)}")
        raise BundleError(f"member {_short(name)} is a {what}; bundles hold regular files only")
    if member.sparse is not None:
        raise BundleError(
            f"member {_short(name)} is a sparse file; bundles hold regular files only"
        )
    if name.startswith("/") or "\\" in name or ".." in name.split("/"):
        raise BundleError(f"unsafe member path {_short(name)}")
    return name


def _read(stream: IO[bytes], size: int, what: str, item_id: str | None = None) -> bytes:
    try:
        data = stream.read(size)
    except tarfile.TarError as exc:
        raise BundleError(f"{what} is cut short: {exc}", item_id) from None
    if len(data) != size:
        raise BundleError(f"{what} is cut short", item_id)
    return data


def _open_member(tar: tarfile.TarFile, member: tarfile.TarInfo, size: int, key: str) -> IO[bytes]:
    if member.size != size:
        raise BundleError(
            f"member {member.name} is {member.size} bytes; the manifest says {size}", key
        )
    stream = tar.extractfile(member)
    if stream is None:  # pragma: no cover - regular files always have one
        raise BundleError(f"member {member.name} cannot be read", key)
    return stream


def _read_manifest(tar: tarfile.TarFile, guard: _GuardedSource, cap: int) -> object:
    member = _next_member(tar, guard)
    if member is None:
        raise BundleError("the bundle is empty: no manifest.json")
    if _checked_name(member) != MANIFEST_NAME:
        raise BundleError(f"the first member must be manifest.json, not {_short(member.name)}")
    if member.size > cap:
        raise BundleError(f"manifest.json is {member.size} bytes; the limit is {cap}")
    stream = _open_member(tar, member, member.size, MANIFEST_NAME)
    return _load_json(_read(stream, member.size, "manifest.json"))


def _listed_members(
    tar: tarfile.TarFile, guard: _GuardedSource, folder: str, ids: Sequence[str]
) -> Iterator[tuple[int, tarfile.TarInfo]]:
    """The members after the manifest, each checked to be the next id listed. The caller
    reads each member to its end before asking for the next (tar is read forward only)."""
    position = {key: n for n, key in enumerate(ids)}
    index = 0
    while (member := _next_member(tar, guard)) is not None:
        name = _checked_name(member)
        key = name.removeprefix(folder + "/")
        if key == name or not _ID.fullmatch(key):
            raise BundleError(
                f"unexpected member {_short(name)}: bundles hold manifest.json and {folder}/<id>"
            )
        n = position.get(key)
        if n is None:
            raise BundleError(f"member {name} is not in the manifest", key)
        if n < index:
            raise BundleError(f"member {name} appears twice", key)
        if n > index:
            raise BundleError(
                f"member {name} comes where {folder}/{ids[index]} should (missing or out of order)",
                ids[index],
            )
        index += 1
        yield n, member
    if index < len(ids):
        raise BundleError(
            f"the bundle ends before {folder}/{ids[index]}: truncated or damaged", ids[index]
        )


# -- export bundles: reading -----------------------------------------------------------


class ItemStream:
    """One item's ciphertext from an export bundle, checked as it is read.

    The read that reaches the end raises BundleError instead of returning the last bytes if
    the SHA-256 differs from the manifest. Keep what you read aside (a temporary file) until
    the end has been reached without error.
    """

    def __init__(self, entry: ExportEntry, raw: IO[bytes]) -> None:
        self.entry = entry
        self._raw = raw
        self._remaining = entry.size
        self._sha = hashlib.sha256()
        self._verified = False
        self._finished = False

    @property
    def verified(self) -> bool:
        return self._verified

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._finished:
            raise BundleError(f"item {self.entry.id} was read after the next item", self.entry.id)
        want = self._remaining if size < 0 else min(size, self._remaining)
        data = _read(self._raw, want, f"item {self.entry.id}", self.entry.id) if want else b""
        self._sha.update(data)
        self._remaining -= len(data)
        if not self._remaining:
            self._verify()
        return data

    def _verify(self) -> None:
        if not self._verified:
            if self._sha.hexdigest() != self.entry.sha256:
                raise BundleError(
                    f"item {self.entry.id} does not match its SHA-256 (damaged or tampered)",
                    self.entry.id,
                )
            self._verified = True

    def finish(self) -> None:
        """Read (and check) whatever the caller left unread."""
        while not self._verified:
            self.read(BLOCK_SIZE)
        self._finished = True


class ExportReader:
    """An export bundle, read once from front to back.

    The manifest is read and checked when this is made; iterating yields each item with
    an :class:`ItemStream`, checks that the members are exactly those listed, in order, and
    checks every item in full even if the caller does not read it.
    """

    def __init__(self, src: ByteSource) -> None:
        self._guard = _GuardedSource(src, None, "export bundle")
        self._tar = _open_tar(self._guard)
        self.manifest = _parse_export_manifest(
            _read_manifest(self._tar, self._guard, MAX_MANIFEST_BYTES)
        )
        self._started = False

    def __iter__(self) -> Iterator[tuple[ExportEntry, ItemStream]]:
        if self._started:
            raise BundleError("an export bundle can be read only once")
        self._started = True
        return self._items()

    def _items(self) -> Iterator[tuple[ExportEntry, ItemStream]]:
        entries = self.manifest.items
        for n, member in _listed_members(self._tar, self._guard, "items", [e.id for e in entries]):
            entry = entries[n]
            stream = ItemStream(entry, _open_member(self._tar, member, entry.size, entry.id))
            yield entry, stream
            stream.finish()

    def close(self) -> None:
        """Release the tar reader (``src`` stays open: it is the caller's)."""
        self._tar.close()

    def __enter__(self) -> ExportReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_export(src: ByteSource) -> ExportReader:
    """Open an export bundle from a binary stream; BundleError if its manifest is bad."""
    return ExportReader(src)


# -- reply bundles ---------------------------------------------------------------------


def write_replies(sink: ByteSink, replies: Iterable[ReplyEntry]) -> BundleSummary:
    """Write a reply bundle. Each ciphertext must be a sealed envelope."""
    listed = list(replies)
    lines = []
    for n, reply in enumerate(listed):
        _id(reply.id, f"replies[{n}].id")
        if not isinstance(reply.ciphertext, bytes):
            raise BundleError(f"reply {reply.id}: ciphertext must be bytes", reply.id)
        _envelope_recipients(reply.ciphertext, reply.id)
        sha = hashlib.sha256(reply.ciphertext).hexdigest()
        size = len(reply.ciphertext)
        lines.append(
            {
                "id": reply.id,
                "source": reply.source,
                "size": size,
                "sha256": sha,
                "author": reply.author,
            }
        )
    doc = {"format": REPLIES_FORMAT, "version": REPLIES_VERSION, "replies": lines}
    _parse_replies_manifest(doc)
    raw = _dump_json(doc)
    members: list[_Member] = [(MANIFEST_NAME, len(raw), [raw])]
    members += [(f"replies/{r.id}", len(r.ciphertext), [r.ciphertext]) for r in listed]
    written = 0
    for piece in _tar_pieces(members):
        sink.write(piece)
        written += len(piece)
    return BundleSummary(len(listed), written)


def read_replies(src: ByteSource, max_bytes: int) -> list[ParsedReply]:
    """Read and check a whole reply bundle of at most ``max_bytes`` (the tar file's size).

    Checks format, version, schema, member names and order, sizes, hashes and that each
    ciphertext is a version 1 envelope. Not checked here: that each ``source`` exists and
    each ``id`` is new, which the caller does before storing anything.
    """
    guard = _GuardedSource(src, max_bytes, "reply bundle")
    tar = _open_tar(guard)
    try:
        lines = _parse_replies_manifest(
            _read_manifest(tar, guard, min(MAX_MANIFEST_BYTES, max_bytes))
        )
        if sum(line.size for line in lines) > max_bytes:
            raise BundleError(f"the replies add up to more than {max_bytes} bytes")
        replies = []
        for n, member in _listed_members(tar, guard, "replies", [line.id for line in lines]):
            line = lines[n]
            stream = _open_member(tar, member, line.size, line.id)
            data = _read(stream, line.size, f"reply {line.id}", line.id)
            if hashlib.sha256(data).hexdigest() != line.sha256:
                raise BundleError(f"reply {line.id} does not match its SHA-256", line.id)
            recipients = _envelope_recipients(data, line.id)
            replies.append(
                ParsedReply(
                    line.id, line.source, line.author, line.size, line.sha256, data, recipients
                )
            )
        return replies
    finally:
        tar.close()
