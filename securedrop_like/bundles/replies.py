"""Reply bundles (``sesim-replies``): replies sealed on the offline workstation, carried
back to the server to be stored for their sources.

Small enough to be read whole (:func:`read_replies` takes a byte limit): every reply is
checked against the manifest's size and SHA-256 and must be a version 1 envelope. Whether
each ``source`` exists and each ``id`` is new is for the caller to check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from crypto import ByteSink, ByteSource, CryptoError, envelope_size, read_recipient_ids

from ._tar import (
    BundleSummary,
    _GuardedSource,
    _listed_members,
    _Member,
    _open_member,
    _open_tar,
    _read,
    _read_manifest,
    _tar_pieces,
)
from ._validate import (
    _REPLIES_KEYS,
    _REPLY_KEYS,
    _SHA256,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    REPLIES_FORMAT,
    REPLIES_VERSION,
    BundleError,
    _check_header,
    _dump_json,
    _id,
    _list,
    _match,
    _object,
    _size,
    _text,
)

# -- what the format carries -----------------------------------------------------------


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


# -- the manifest ----------------------------------------------------------------------


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


def _envelope_recipients(data: bytes, reply_id: str) -> tuple[str, ...]:
    """The key ids of an envelope header (crypto/FORMAT.md, version 1), or BundleError."""
    try:
        ids = read_recipient_ids(data)
        if len(data) < envelope_size(0, len(ids)):
            raise BundleError(f"reply {reply_id} is too short to be an envelope", reply_id)
    except CryptoError as exc:
        raise BundleError(f"reply {reply_id} is not a Səsim envelope: {exc}", reply_id) from None
    return tuple(ids)


# -- writing and reading ---------------------------------------------------------------


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
