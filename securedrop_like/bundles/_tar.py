"""The container both bundles share: a POSIX tar file (pax format), written piece by piece
with deterministic headers and read forward only, with every member checked.

Writing mirrors ``tarfile.open(mode="w|", format=PAX_FORMAT)`` byte for byte (a known-answer
test holds it to that). Reading goes through :class:`_GuardedSource`, which caps the whole
bundle and what tarfile may buffer for one member's headers, and refuses anything but
regular files with safe names, listed in the manifest, in manifest order.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, cast

from crypto import ByteSource

from ._validate import BLOCK_SIZE, ID_PATTERN, MANIFEST_NAME, BundleError, _load_json, _short

_TAR_BLOCK = 512
_TAR_RECORD = 20 * _TAR_BLOCK  # tarfile.RECORDSIZE: archives are padded to a multiple
# What tarfile may read for one member's headers (pax records, long names). Ours need under
# 2 KiB; the cap stops a crafted header from making tarfile buffer gigabytes.
_HEADER_BUDGET = 1024 * 1024


@dataclass(frozen=True)
class BundleSummary:
    count: int  # items or replies
    bytes: int  # the whole bundle


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
        if key == name or not ID_PATTERN.fullmatch(key):
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
