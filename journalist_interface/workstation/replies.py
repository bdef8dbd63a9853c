"""Replies written on the workstation: sealed at once, carried to the server in a bundle.

A reply is sealed when it is written, to her public key (from export version 2) and to
every reviewer (this workstation's key and the colleagues' added with ``sesim
workstation add-reviewer``), bound to its id and to her key
(``EnvelopeContext.reply(id, her_pk)``), exactly as ``securedrop_like/BUNDLES.md``
requires of a reply bundle. The sealed envelope waits in the case store until
:func:`write_reply_bundle` puts it in a ``sesim-replies`` bundle for the staff interface.

The document is ``{"format": "sesim-reply", "v": 1, "text": …, "lang": …}``, plus, when
the reviewer asks her to approve a draft for publication, ``"consent_request":
{"draft_id": "<32 hex>", "text": "<the draft shown to her>"}`` — the id is a fresh one
per request (``publish.consent_request``), which counts only once this reply was sealed
(the same transaction stores the reply and marks the request sent)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from crypto import MAX_RECIPIENTS, EnvelopeContext, PublicKey, encrypt_bytes, new_private_file
from securedrop_like import bundles
from securedrop_like.config import LOCALES
from securedrop_like.db import today
from securedrop_like.documents import DOCUMENT_VERSION, MAX_REPLY_CHARS, REPLY_FORMAT
from securedrop_like.store import new_id

from .casestore import CaseStore
from .keypin import check_can_reply
from .keys import Unlocked, WorkstationError
from .search import index_item

__all__ = [
    "MAX_REPLY_CHARS",
    "NoSourceKey",
    "PendingReply",
    "add_reply",
    "mark_sent",
    "pending_replies",
    "reply_bundle",
    "write_reply_bundle",
]


class NoSourceKey(WorkstationError):
    def __init__(self) -> None:
        super().__init__(
            "This case has no public key for her yet, so a reply cannot be sealed to her. "
            "Her key comes with an export bundle of version 2: import a new export from the "
            "staff interface, then write the reply again."
        )


@dataclass(frozen=True)
class PendingReply:
    id: str
    case_id: int
    designation: str
    author: str
    day: str
    size: int


def add_reply(
    store: CaseStore,
    unlocked: Unlocked,
    case_id: int,
    text: str,
    lang: str,
    author: str,
    *,
    consent_request: dict[str, str] | None = None,
) -> str:
    """Seal a reply to her and to every reviewer and keep it for the next reply bundle;
    return its id."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise WorkstationError("A reply needs some text.")
    if len(text) > MAX_REPLY_CHARS:
        raise WorkstationError(f"A reply is at most {MAX_REPLY_CHARS} characters.")
    if lang not in LOCALES:
        raise WorkstationError(f"The reply's language must be one of {', '.join(LOCALES)}.")
    author = (author or "").strip()
    if not author or len(author) > 100 or not author.isprintable():
        raise WorkstationError("The author must be a name of 1 to 100 characters.")
    document: dict[str, object] = {
        "format": REPLY_FORMAT,
        "v": DOCUMENT_VERSION,
        "text": text,
        "lang": lang,
    }
    if consent_request is not None:
        draft_id = consent_request.get("draft_id")
        draft_text = consent_request.get("text")
        if not isinstance(draft_id, str) or not bundles.ID_PATTERN.fullmatch(draft_id):
            raise WorkstationError("A consent request needs the draft's id (32 hex digits).")
        if not isinstance(draft_text, str) or not draft_text.strip():
            raise WorkstationError("A consent request needs the draft's text.")
        document["consent_request"] = {"draft_id": draft_id, "text": draft_text}
    with store.connection() as conn:
        case = conn.execute(
            "SELECT source_public_key, withdrawn_day FROM cases WHERE id = ?", (case_id,)
        ).fetchone()
        if case is not None and not case["withdrawn_day"]:
            check_can_reply(conn, case_id)  # KeyChanged: the server named another key
    if case is None:
        raise WorkstationError("no such case")
    if case["withdrawn_day"]:
        raise WorkstationError("She withdrew: nothing can be sent to her any more.")
    if not case["source_public_key"]:
        raise NoSourceKey()
    her_key = PublicKey(bytes(case["source_public_key"]))
    recipients = [her_key, *(k for k in unlocked.reviewers() if k != her_key)]
    if len(recipients) > MAX_RECIPIENTS:
        raise WorkstationError(f"A reply can be sealed to at most {MAX_RECIPIENTS} keys.")
    reply_id = new_id()
    plaintext = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    ciphertext = encrypt_bytes(
        plaintext.encode("utf-8"), recipients, context=EnvelopeContext.reply(reply_id, her_key)
    )
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO items (id, case_id, kind, parent_id, day, size, lang, document,"
            " author, origin, sent, ciphertext)"
            " VALUES (?, ?, 'reply', NULL, ?, ?, ?, ?, ?, 'workstation', 0, ?)",
            (reply_id, case_id, today(), len(ciphertext), lang, plaintext, author, ciphertext),
        )
        conn.execute(
            "UPDATE cases SET last_day = max(last_day, ?) WHERE id = ?", (today(), case_id)
        )
        index_item(conn, case_id, reply_id, text)
        if consent_request is not None:  # the request counts from now on, not before
            conn.execute(
                "UPDATE consent_requests SET reply_id = ? WHERE id = ? AND reply_id IS NULL",
                (reply_id, consent_request["draft_id"]),
            )
    return reply_id


def pending_replies(store: CaseStore) -> list[PendingReply]:
    """Replies written here and not yet put in a reply bundle, oldest first."""
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT i.id, i.case_id, c.designation, i.author, i.day, i.size FROM items i"
            " JOIN cases c ON c.id = i.case_id"
            " WHERE i.sent = 0 AND i.origin = 'workstation' AND c.withdrawn_day IS NULL"
            " ORDER BY i.day, i.id"
        ).fetchall()
    return [
        PendingReply(r["id"], int(r["case_id"]), r["designation"], r["author"], r["day"], r["size"])
        for r in rows
    ]


def write_reply_bundle(store: CaseStore, out: Path | str | IO[bytes]) -> int:
    """Write every pending reply into a ``sesim-replies`` bundle and mark them sent once
    it is complete; return how many. A path is created new (never overwritten); with no
    pending reply nothing is written and 0 is returned."""
    ids = reply_bundle(store, out)
    mark_sent(store, ids)
    return len(ids)


def reply_bundle(store: CaseStore, out: Path | str | IO[bytes]) -> list[str]:
    """Write every pending reply into a ``sesim-replies`` bundle *without* marking them
    sent; their ids. For a download: the caller calls :func:`mark_sent` once the whole
    bundle went out; until then they stay pending and can be written again."""
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT i.id, c.designation, i.author, i.ciphertext FROM items i"
            " JOIN cases c ON c.id = i.case_id"
            " WHERE i.sent = 0 AND i.origin = 'workstation' AND c.withdrawn_day IS NULL"
            " AND i.ciphertext IS NOT NULL ORDER BY i.day, i.id"
        ).fetchall()
    if not rows:
        return []
    entries = [
        bundles.ReplyEntry(r["id"], r["designation"], r["author"], bytes(r["ciphertext"]))
        for r in rows
    ]
    if isinstance(out, str | Path):
        path = Path(out)
        try:
            with new_private_file(path) as handle:
                bundles.write_replies(handle, entries)
        except FileExistsError as exc:
            raise WorkstationError(f"{path} already exists: choose another file name") from exc
        except OSError as exc:
            raise WorkstationError(f"cannot write {path}: {exc.strerror}") from exc
    else:
        bundles.write_replies(out, entries)
    return [e.id for e in entries]


def mark_sent(store: CaseStore, reply_ids: list[str]) -> None:
    """These replies left in a complete bundle (an export showing them back from the
    server marks them too)."""
    with store.transaction() as conn:
        conn.executemany("UPDATE items SET sent = 1 WHERE id = ?", [(i,) for i in reply_ids])
