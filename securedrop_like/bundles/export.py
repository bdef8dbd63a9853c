"""Export bundles (``sesim-export``): the server's ciphertexts, with their metadata and
retraction notices, carried to the offline workstation.

Writing takes two passes, because the manifest comes first and lists every hash:
:func:`plan_export` checks the items and hashes those whose hash is not known, then
:meth:`ExportPlan.pieces` streams them in ~64 KiB pieces, hashing them again to catch a
file that changed in between. Reading is one forward pass: :class:`ExportReader` yields
each item as an :class:`ItemStream`, which checks its size and SHA-256 as it is read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from crypto import ByteSink, ByteSource, CryptoError, PublicKey

from ._tar import (
    BundleSummary,
    _GuardedSource,
    _listed_members,
    _Member,
    _open_member,
    _open_tar,
    _read,
    _read_manifest,
    _rechunk,
    _tar_pieces,
    _tar_size,
)
from ._validate import (
    _CHANNEL,
    _CONSENT_KEYS,
    _EXPORT_KEYS,
    _EXPORT_KEYS_V1,
    _ITEM_KEYS,
    _RETRACTION_KEYS,
    _SHA256,
    _SOURCE_KEYS,
    BLOCK_SIZE,
    CONSENT_DECISIONS,
    EXPORT_FORMAT,
    EXPORT_VERSION,
    EXPORT_VERSIONS,
    ITEM_KINDS,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    BundleError,
    _check_header,
    _day,
    _dump_json,
    _id,
    _list,
    _match,
    _object,
    _short,
    _size,
    _text,
)

_NOT_YET_HASHED = "0" * 64  # stands in for a hash while the rest of an item is checked


# -- what the format carries -----------------------------------------------------------


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
class ConsentDecision:
    """Her answer to a draft a reviewer sent her (a reply with a ``consent_request``):
    ``decision`` is "approve" (publish it) or "refuse"; ``day`` is when she last decided."""

    draft_id: str
    decision: str
    day: str


@dataclass(frozen=True)
class ExportSource:
    """One source of an export bundle version 2: what the workstation needs to answer her
    (her public key: replies are sealed to it) and what she decided about drafts."""

    designation: str
    public_key: PublicKey
    channel: str
    consent: tuple[ConsentDecision, ...] = ()


@dataclass(frozen=True)
class ExportManifest:
    created_day: str
    items: tuple[ExportEntry, ...]
    retractions: tuple[RetractionEntry, ...]
    # designation -> source, in manifest order; empty for a version 1 bundle
    sources: dict[str, ExportSource] = field(default_factory=dict)
    version: int = EXPORT_VERSION


ExportSummary = BundleSummary


# -- the manifest ----------------------------------------------------------------------


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


def _public_key(value: object, where: str) -> PublicKey:
    if isinstance(value, str) and len(value) <= 100:
        try:
            key = PublicKey.from_text(value)
        except (CryptoError, ValueError):
            pass
        else:
            if key.to_text() == value:  # one spelling per key
                return key
    raise BundleError(
        f"manifest: {where} must be a public key sesim-x25519-pk:…, not {_short(value)}"
    )


def _consent(raw: object, where: str) -> ConsentDecision:
    line = _object(raw, _CONSENT_KEYS, where)
    if line["decision"] not in CONSENT_DECISIONS:
        raise BundleError(
            f"manifest: {where}.decision must be one of {', '.join(CONSENT_DECISIONS)},"
            f" not {_short(line['decision'])}"
        )
    return ConsentDecision(
        draft_id=_id(line["draft_id"], f"{where}.draft_id"),
        decision=line["decision"],
        day=_day(line["day"], f"{where}.day"),
    )


def _export_source(raw: object, where: str) -> ExportSource:
    line = _object(raw, _SOURCE_KEYS, where)
    decisions: list[ConsentDecision] = []
    drafts: set[str] = set()
    for n, entry in enumerate(_list(line["consent"], f"{where}.consent")):
        decision = _consent(entry, f"{where}.consent[{n}]")
        if decision.draft_id in drafts:
            raise BundleError(f"manifest: {where} decides draft {decision.draft_id} twice")
        drafts.add(decision.draft_id)
        decisions.append(decision)
    return ExportSource(
        designation=_text(line["designation"], f"{where}.designation"),
        public_key=_public_key(line["public_key"], f"{where}.public_key"),
        channel=_match(line["channel"], _CHANNEL, f"{where}.channel", "a channel such as web"),
        consent=tuple(decisions),
    )


def _parse_sources(raw: object, items: list[ExportEntry]) -> dict[str, ExportSource]:
    """Version 2's sources: one per designation, exactly those with an item or a decision."""
    sources: dict[str, ExportSource] = {}
    for n, line in enumerate(_list(raw, "sources")):
        source = _export_source(line, f"sources[{n}]")
        if source.designation in sources:
            raise BundleError(f"manifest: source {source.designation!r} is listed twice")
        sources[source.designation] = source
    with_items = {e.source for e in items}
    for entry in items:
        if entry.source not in sources:
            raise BundleError(
                f"manifest: item {entry.id}'s source {entry.source!r} is not in sources",
                entry.id,
            )
    for source in sources.values():
        if source.designation not in with_items and not source.consent:
            raise BundleError(
                f"manifest: source {source.designation!r} has no item and no decision here"
            )
    return sources


def _parse_export_manifest(doc: object) -> ExportManifest:
    version = _check_header(doc, EXPORT_FORMAT, EXPORT_VERSIONS, "export bundle")
    top = _object(doc, _EXPORT_KEYS_V1 if version == 1 else _EXPORT_KEYS, "the top level")
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
    sources = {} if version == 1 else _parse_sources(top["sources"], items)
    created_day = _day(top["created_day"], "created_day")
    return ExportManifest(created_day, tuple(items), tuple(retractions), sources, version)


# -- writing ---------------------------------------------------------------------------


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


def _source_doc(source: ExportSource) -> dict[str, Any]:
    if not isinstance(source, ExportSource):
        raise BundleError(f"a source must be an ExportSource, not {type(source).__name__}")
    if not isinstance(source.public_key, PublicKey):
        raise BundleError(f"source {source.designation!r}: public_key must be a PublicKey")
    return {
        "designation": source.designation,
        "public_key": source.public_key.to_text(),
        "channel": source.channel,
        "consent": [
            {"draft_id": c.draft_id, "decision": c.decision, "day": c.day} for c in source.consent
        ],
    }


def plan_export(
    items: Iterable[ExportItem],
    retractions: Iterable[RetractionLike | Mapping[str, Any]],
    created_day: str,
    *,
    sources: Iterable[ExportSource] = (),
) -> ExportPlan:
    """Check the items and make the manifest (version 2), hashing (and size-checking)
    every item whose ``sha256`` is not given. Raises BundleError before any byte of the
    bundle exists.

    ``sources`` must hold exactly one entry for each source with an item here, plus any
    other source whose consent decisions travel in this bundle, in the order to write.
    """
    listed = list(items)
    source_lines = [_source_doc(s) for s in sources]
    designations = {line["designation"] for line in source_lines}
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
        if item.source not in designations:
            raise BundleError(f"item {item.id}'s source {item.source!r} is not in sources", item.id)
        if item.sha256 is None:
            line["sha256"] = _hash_item(item)
        lines.append(line)
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "created_day": created_day,
        "items": lines,
        "retractions": [_retraction_doc(r) for r in retractions],
        "sources": source_lines,
    }
    manifest = _parse_export_manifest(doc)  # the writer never makes what readers refuse
    return ExportPlan(listed, manifest, _dump_json(doc))


def write_export(
    sink: ByteSink,
    items: Iterable[ExportItem],
    retractions: Iterable[RetractionLike | Mapping[str, Any]],
    created_day: str,
    *,
    sources: Iterable[ExportSource] = (),
) -> BundleSummary:
    """Write an export bundle (version 2) to ``sink`` (any binary file object)."""
    return plan_export(items, retractions, created_day, sources=sources).write_to(sink)


def iter_export_chunks(
    items: Iterable[ExportItem],
    retractions: Iterable[RetractionLike | Mapping[str, Any]],
    created_day: str,
    chunk_size: int = BLOCK_SIZE,
    *,
    sources: Iterable[ExportSource] = (),
) -> Iterator[bytes]:
    """An export bundle as ``chunk_size`` pieces, for a streaming response.

    The first pass runs in this call, so a missing or wrong item raises here, before a
    response has started. An item that changes afterwards raises from the iterator, which
    leaves a truncated download that every reader refuses.
    """
    return plan_export(items, retractions, created_day, sources=sources).chunks(chunk_size)


# -- reading ---------------------------------------------------------------------------


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
