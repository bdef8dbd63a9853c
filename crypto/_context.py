"""What a version 2 envelope is bound to (private; use :mod:`crypto.envelope`).

See "Binary format, version 2" in :mod:`crypto.envelope` / FORMAT.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal, get_args

from crypto.errors import CryptoError, FormatError
from crypto.keys import PublicKey

__all__ = ["CONTEXT_BYTES", "EnvelopeContext", "ItemKind", "source_key_hash"]

ItemKind = Literal["report", "message", "file", "reply"]

#: The kind byte of the context block. 0 is never used, so a zeroed block
#: cannot pass for a context.
_KIND_CODES: dict[str, int] = {"report": 1, "message": 2, "file": 3, "reply": 4}
_KINDS_BY_CODE = {code: kind for kind, code in _KIND_CODES.items()}
if set(_KIND_CODES) != set(get_args(ItemKind)):  # pragma: no cover - keeps the two in step
    raise CryptoError("envelope kind codes and ItemKind disagree")

ITEM_ID_BYTES = 16
SOURCE_HASH_BYTES = 32
#: kind (1) + item id (16) + source key hash or zeros (32)
CONTEXT_BYTES = 1 + ITEM_ID_BYTES + SOURCE_HASH_BYTES
_NO_SOURCE = bytes(SOURCE_HASH_BYTES)
_SOURCE_PERSON = b"sesim-ctx-source"  # 16 bytes, the BLAKE2b maximum
_ITEM_ID = re.compile(r"[0-9a-f]{32}")


def source_key_hash(public_key: PublicKey) -> bytes:
    """BLAKE2b-256 of a source's raw X25519 public key, person ``b"sesim-ctx-source"``.

    This is what a reply's context carries to name its recipient source.
    """
    if not isinstance(public_key, PublicKey):
        raise CryptoError("the source key must be a PublicKey")
    return hashlib.blake2b(
        public_key.raw, digest_size=SOURCE_HASH_BYTES, person=_SOURCE_PERSON
    ).digest()


@dataclass(frozen=True, slots=True, repr=False)
class EnvelopeContext:
    """The item a version 2 envelope belongs to: its id, its kind and, for a
    reply, a hash of the recipient source's public key.

    Make one with :meth:`report`, :meth:`message`, :meth:`file` or
    :meth:`reply`; the constructor checks every field. Two contexts are
    equal when all three fields are. ``repr`` shows the kind only (item ids
    must not reach logs).
    """

    item_id: str
    kind: ItemKind
    source_key_hash: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.item_id, str) or not _ITEM_ID.fullmatch(self.item_id):
            raise CryptoError("an envelope item id must be 32 lowercase hex characters")
        if self.kind not in _KIND_CODES:
            raise CryptoError("an envelope kind must be report, message, file or reply")
        if self.kind == "reply":
            if (
                not isinstance(self.source_key_hash, bytes)
                or len(self.source_key_hash) != SOURCE_HASH_BYTES
                or self.source_key_hash == _NO_SOURCE
            ):
                raise CryptoError("a reply's context needs the 32-byte hash of the source's key")
        elif self.source_key_hash is not None:
            raise CryptoError("only a reply's context names a source")

    @classmethod
    def report(cls, item_id: str) -> EnvelopeContext:
        """The context of a source's report (the main item of a first submission)."""
        return cls(item_id, "report")

    @classmethod
    def message(cls, item_id: str) -> EnvelopeContext:
        """The context of a source's follow-up message."""
        return cls(item_id, "message")

    @classmethod
    def file(cls, item_id: str) -> EnvelopeContext:
        """The context of an attached file."""
        return cls(item_id, "file")

    @classmethod
    def reply(cls, item_id: str, source_public_key: PublicKey) -> EnvelopeContext:
        """The context of a reply to the source whose public key is given."""
        return cls(item_id, "reply", source_key_hash(source_public_key))

    @classmethod
    def for_item(
        cls, kind: str, item_id: str, source_public_key: PublicKey | None = None
    ) -> EnvelopeContext:
        """The context of an item given its kind as stored (``"report"`` …).

        ``source_public_key`` is required for a reply and refused otherwise.
        """
        if kind == "reply":
            if source_public_key is None:
                raise CryptoError("a reply's context needs the source's public key")
            return cls.reply(item_id, source_public_key)
        if source_public_key is not None:
            raise CryptoError("only a reply's context names a source")
        if kind not in _KIND_CODES or kind == "reply":
            raise CryptoError("an envelope kind must be report, message, file or reply")
        return cls(item_id, kind)  # type: ignore[arg-type]  # checked just above

    def to_bytes(self) -> bytes:
        """The 49-byte context block of a version 2 header."""
        return (
            bytes([_KIND_CODES[self.kind]])
            + bytes.fromhex(self.item_id)
            + (self.source_key_hash or _NO_SOURCE)
        )

    @classmethod
    def from_bytes(cls, block: bytes) -> EnvelopeContext:
        """Parse a context block; :class:`FormatError` if it cannot be one."""
        if len(block) != CONTEXT_BYTES:
            raise FormatError("an envelope context block must be 49 bytes")
        kind = _KINDS_BY_CODE.get(block[0])
        if kind is None:
            raise FormatError(f"unknown envelope kind code {block[0]}")
        item_id = block[1 : 1 + ITEM_ID_BYTES].hex()
        source = block[1 + ITEM_ID_BYTES :]
        if kind == "reply":
            if source == _NO_SOURCE:
                raise FormatError("a reply's envelope context names no source")
            return cls(item_id, "reply", source)
        if source != _NO_SOURCE:
            raise FormatError("only a reply's envelope context may name a source")
        return cls(item_id, kind)  # type: ignore[arg-type]  # a known kind

    def mismatch(self, other: EnvelopeContext) -> str | None:
        """The first field in which ``other`` differs ("kind", "item id",
        "source key"), or None if they are equal."""
        if self.kind != other.kind:
            return "kind"
        if self.item_id != other.item_id:
            return "item id"
        if self.source_key_hash != other.source_key_hash:
            return "source key"
        return None

    def __repr__(self) -> str:
        return f"EnvelopeContext(kind={self.kind!r}, item_id=<not shown>)"
