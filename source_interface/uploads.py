"""Uploaded files: encrypted while Werkzeug parses them, kept across a failed form.

:class:`SourceRequest` hands the multipart parser an
:class:`~securedrop_like.store.EncryptingSpool` for every file part, so a file
is ciphertext from its first byte on disk and memory stays bounded by the
envelope's chunk size; when the part ends its ciphertext is an unclaimed blob
in the database. When a form fails a check, the finished uploads are kept for
her (listed in her session, which lives in memory only) so that she need not
attach them again — at most :data:`MAX_KEPT` of them, within
:data:`MAX_KEPT_BYTES` of session data; they are deleted when the session ends,
or at once when she ticks "remove" next to one (:func:`remove_pending`).
"""

from __future__ import annotations

import json
from typing import IO, Any, cast

from flask import Request, current_app, g, request, session

from securedrop_like.i18n import gettext as _
from securedrop_like.multipart import FastFormDataParser
from securedrop_like.security import csrf_failed
from securedrop_like.service import Attachment
from securedrop_like.sessions import KEPT, server_session
from securedrop_like.store import EncryptingSpool

PENDING_KEY = "pending_files"
# The names and types she gave her kept files are hers: sealed under her
# cookie's key like her private key (a memory image shows only ids and sizes).
PENDING_NAMES = "pending_names"
MAX_NAME = 200
# A session is one 8 KiB slot (shared_sessions.SLOT_BYTES): the kept files'
# entries may take at most this much of it, and there are at most MAX_KEPT.
MAX_KEPT = 20
MAX_KEPT_BYTES = 4096


class SourceRequest(Request):
    """A request whose uploaded files are encrypted as they stream in."""

    spools: list[EncryptingSpool]
    form_data_parser_class = FastFormDataParser

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        spool: EncryptingSpool = current_app.extensions["sesim"].service.spool()
        if not hasattr(self, "spools"):
            self.spools = []
        self.spools.append(spool)
        return cast(IO[bytes], spool)


def safe_name(name: str | None) -> str:
    """Keep the file name she chose (it goes inside the envelope), minus paths."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable()).strip()
    return base[:MAX_NAME] or "file"


def collect(request: Request) -> tuple[list[Attachment], list[str]]:
    """The files of this request that arrived whole, and a message per refused one."""
    attachments: list[Attachment] = []
    errors: list[str] = []
    limit_mb = current_app.config["SESIM"].max_file_bytes // (1024 * 1024)
    for storage in request.files.getlist("files"):
        spool = storage.stream
        if not isinstance(spool, EncryptingSpool):  # pragma: no cover - our request class
            continue
        if spool.too_large:
            errors.append(
                _(
                    "The file “%(name)s” is larger than %(mb)s MB, so it was not kept. "
                    "Everything else is safe.",
                    name=safe_name(storage.filename),
                    mb=limit_mb,
                )
            )
            continue
        if spool.failed:  # the view says why (storage_failed); here, which file
            errors.append(_not_saved(storage.filename))
            continue
        if not spool.finished or (spool.plain_size == 0 and not storage.filename):
            spool.discard()
            continue
        spool.ingest_now()  # an empty file she chose on purpose
        if spool.failed:
            errors.append(_not_saved(storage.filename))
            continue
        spool.claimed = True  # type: ignore[attr-defined]
        attachments.append(
            Attachment.from_spool(
                spool, safe_name(storage.filename), (storage.mimetype or "")[:100]
            )
        )
    return attachments, errors


def _not_saved(filename: str | None) -> str:
    return _(
        "The file “%(name)s” could not be saved. Please attach it again when you send the form.",
        name=safe_name(filename),
    )


def storage_failed(req: Request | None = None) -> bool:
    """Whether an upload of this request could not be saved (a full disk)."""
    return any(s.failed for s in getattr(req or request, "spools", []))


def keep_pending(attachments: list[Attachment]) -> list[str]:
    """Remember finished uploads in her session for when she sends the form again.

    Keeps at most :data:`MAX_KEPT` files within :data:`MAX_KEPT_BYTES`; the
    others are deleted at once. Returns the names of those not kept, for the
    view to tell her. Ids and sizes stay readable (the master's sweep spares
    what sessions keep); names and types are sealed.

    Nothing is kept for a request that failed the CSRF check and came with no
    session cookie (there is no one to keep them for: a forged or replayed
    request), nor when sessions that only keep files already take their share
    of the session table (a flood of failed forms must not keep anyone from
    logging in): she is then told to attach them again.
    """
    if not attachments:
        return []
    sess = server_session()
    if csrf_failed() and not sess.from_cookie:
        g.files_not_kept_reason = "expired"
        _discard([a.item_id for a in attachments])
        return [a.name for a in attachments]
    if not sess.make_room(KEPT):
        _discard([a.item_id for a in attachments])
        return [a.name for a in attachments]
    kept = list(session.get(PENDING_KEY, []))
    names = _names()
    dropped: list[Attachment] = []
    for attachment in attachments:
        entry = _to_dict(attachment)
        named = {**names, attachment.item_id: [attachment.name, attachment.content_type]}
        if len(kept) < MAX_KEPT and _size(kept + [entry], named) <= MAX_KEPT_BYTES:
            kept.append(entry)
            names = named
        else:
            dropped.append(attachment)
    session[PENDING_KEY] = kept
    _seal_names(names)
    if dropped:
        _discard([a.item_id for a in dropped])
    return [a.name for a in dropped]


def _names() -> dict[str, list[str]]:
    """Her kept files' names and types, opened with her cookie's key."""
    raw = server_session().unseal(PENDING_NAMES)
    if raw is None:
        return {}
    opened: dict[str, list[str]] = json.loads(raw)
    return opened


def _seal_names(names: dict[str, list[str]]) -> None:
    sess = server_session()
    if names:
        sess.seal(PENDING_NAMES, json.dumps(names, separators=(",", ":")).encode())
    else:
        sess.drop_sealed(PENDING_NAMES)


def not_kept_message(names: list[str]) -> str:
    if g.get("files_not_kept_reason") == "expired":
        return _(
            "For your safety, these files were not kept: %(names)s. "
            "Please attach them again when you send the form.",
            names=", ".join(f"“{n}”" for n in names),
        )
    return _(
        "These files were not kept, because too many files are already waiting: "
        "%(names)s. Please attach them again when you send the form.",
        names=", ".join(f"“{n}”" for n in names),
    )


def _size(entries: list[dict[str, Any]], names: dict[str, list[str]]) -> int:
    """About what the entries and the sealed names take in the session."""
    sealed = len(json.dumps(names, separators=(",", ":")).encode()) * 4 // 3 + 64
    return len(json.dumps(entries, separators=(",", ":"))) + sealed


def _discard(ids: list[str]) -> None:
    if ids:
        try:
            current_app.extensions["sesim"].service.discard_uploads(ids)
        except Exception:  # noqa: BLE001 - the sweep deletes them later
            return


def remove_pending(ids: list[str]) -> list[str]:
    """She ticked "remove" next to kept files: forget them and delete their
    ciphertext now (rows gone under secure_delete, the WAL checkpointed), so a
    wrongly attached photo is never sent and leaves nothing in the temporary
    store. Only ids her own session keeps count. Returns the names removed."""
    if PENDING_KEY not in session or not ids:
        return []
    wanted = set(ids)
    kept = list(session[PENDING_KEY])
    gone = [d["item_id"] for d in kept if d["item_id"] in wanted]
    if not gone:
        return []
    names = _names()
    removed = [names.get(i, ["file", ""])[0] for i in gone]
    left = [d for d in kept if d["item_id"] not in wanted]
    if left:
        session[PENDING_KEY] = left
    else:
        session.pop(PENDING_KEY)
    _seal_names({i: n for i, n in names.items() if i not in wanted})
    try:
        current_app.extensions["sesim"].service.discard_and_checkpoint(gone)
    except Exception:  # noqa: BLE001 - no longer listed: the master's sweep deletes them
        return removed
    return removed


def take_pending() -> list[Attachment]:
    if PENDING_KEY not in session:  # popping a missing key would still mark it modified
        return []
    taken = pending()
    session.pop(PENDING_KEY)
    server_session().drop_sealed(PENDING_NAMES)
    return taken


def pending() -> list[Attachment]:
    names = _names() if PENDING_KEY in session else {}
    out = []
    for d in session.get(PENDING_KEY, []):
        name, content_type = names.get(d["item_id"], ["file", ""])
        out.append(Attachment(d["item_id"], name, content_type, d["plain_size"], d["size"]))
    return out


def discard_unclaimed(req: Request) -> None:
    """After every request: delete uploads that no view took (a refused request)."""
    ids = []
    for spool in getattr(req, "spools", []):
        if not getattr(spool, "claimed", False) and not spool.discarded:
            spool.discard()
            if spool.ingested:
                ids.append(spool.item_id)
    _discard(ids)


def pending_ids(data: dict[str, Any]) -> list[str]:
    """Ids of the uploads a session's data keeps (to wipe when it ends)."""
    return [str(d["item_id"]) for d in data.get(PENDING_KEY, [])]


def _to_dict(a: Attachment) -> dict[str, Any]:
    return {"item_id": a.item_id, "plain_size": a.plain_size, "size": a.size}
