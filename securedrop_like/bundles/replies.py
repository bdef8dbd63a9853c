"""Reply bundles (``sesim-replies``): replies sealed on the offline workstation, carried
back to the server to be stored for their sources.

Small enough to be read whole (:func:`read_replies` takes a byte limit): every reply is
checked against the manifest's size and SHA-256 and must be a version 2 envelope whose
context is a reply with the manifest's ``id``. Whether each ``source`` exists, each ``id``
is new and each context names the source's key is for the caller to check
(:attr:`ParsedReply.context` against ``EnvelopeContext.reply(id, her public key)``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from crypto import (
    ByteSink,
    ByteSource,
    CryptoError,
    EnvelopeContext,
    envelope_size,
    read_envelope_context,
    read_recipient_ids,
)

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
    ReplyBindingError,
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
    exists, that ``id`` is new, which keys (``recipient_ids``) it is sealed to, and that
    ``context`` (a reply with this ``id``, checked here) names that source's key."""

    id: str
    source: str
    author: str
    size: int
    sha256: str
    ciphertext: bytes
    recipient_ids: tuple[str, ...]
    context: EnvelopeContext


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


def _check_envelope(
    data: bytes, reply_id: str, source: str
) -> tuple[tuple[str, ...], EnvelopeContext]:
    """The key ids and context of a reply's envelope header (crypto/FORMAT.md); BundleError
    unless it is a version 2 envelope bound to a reply with id ``reply_id``."""
    try:
        ids = read_recipient_ids(data)
        context = read_envelope_context(data)
        version = 1 if context is None else 2
        if len(data) < envelope_size(0, len(ids), version=version):
            raise BundleError(f"reply {reply_id} is too short to be an envelope", reply_id)
    except CryptoError as exc:
        raise BundleError(f"reply {reply_id} is not a Səsim envelope: {exc}", reply_id) from None
    if context is None:
        raise ReplyBindingError(
            f"reply {reply_id} is an envelope version 1, bound to no reply or source",
            reply_id,
            source,
        )
    if context.kind != "reply" or context.item_id != reply_id:
        raise ReplyBindingError(
            f"reply {reply_id} is sealed for another item, not this reply",
            reply_id,
            source,
        )
    return tuple(ids), context


# -- writing and reading ---------------------------------------------------------------


def write_replies(sink: ByteSink, replies: Iterable[ReplyEntry]) -> BundleSummary:
    """Write a reply bundle. Each ciphertext must be a sealed envelope."""
    listed = list(replies)
    lines = []
    for n, reply in enumerate(listed):
        _id(reply.id, f"replies[{n}].id")
        if not isinstance(reply.ciphertext, bytes):
            raise BundleError(f"reply {reply.id}: ciphertext must be bytes", reply.id)
        _check_envelope(reply.ciphertext, reply.id, reply.source)
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
    ciphertext is a version 2 envelope bound to a reply with its ``id``
    (:class:`ReplyBindingError` if not). Not checked here: that each ``source`` exists,
    each ``id`` is new and each ``context`` names that source's key, which the caller
    does before storing anything.
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
            recipients, context = _check_envelope(data, line.id, line.source)
            replies.append(
                ParsedReply(
                    line.id,
                    line.source,
                    line.author,
                    line.size,
                    line.sha256,
                    data,
                    recipients,
                    context,
                )
            )
        return replies
    finally:
        tar.close()
