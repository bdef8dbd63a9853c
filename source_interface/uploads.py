"""Uploaded files: encrypted while Werkzeug parses them, kept across a failed form.

:class:`SourceRequest` hands the multipart parser an
:class:`~securedrop_like.store.EncryptingSpool` for every file part, so a file
is ciphertext from its first byte on disk and memory stays bounded by the
envelope's chunk size. When a form fails a check, the finished ciphertexts are
kept for her (listed in her session, which lives in memory only) so that she
need not attach them again; they are wiped when the session ends.
"""

from __future__ import annotations

from typing import IO, Any, cast

from flask import Request, current_app, session

from securedrop_like.i18n import gettext as _
from securedrop_like.multipart import FastFormDataParser
from securedrop_like.service import Attachment
from securedrop_like.store import EncryptingSpool

PENDING_KEY = "pending_files"
MAX_NAME = 200


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
        if not spool.finished or (spool.plain_size == 0 and not storage.filename):
            spool.discard()
            continue
        spool.claimed = True  # type: ignore[attr-defined]
        attachments.append(
            Attachment.from_spool(
                spool, safe_name(storage.filename), (storage.mimetype or "")[:100]
            )
        )
    return attachments, errors


def keep_pending(attachments: list[Attachment]) -> None:
    """Remember finished uploads in her session for when she sends the form again."""
    if attachments:
        kept = list(session.get(PENDING_KEY, []))
        kept.extend(_to_dict(a) for a in attachments)
        session[PENDING_KEY] = kept


def take_pending() -> list[Attachment]:
    if PENDING_KEY not in session:  # popping a missing key would still mark it modified
        return []
    return [Attachment(**d) for d in session.pop(PENDING_KEY)]


def pending() -> list[Attachment]:
    return [Attachment(**d) for d in session.get(PENDING_KEY, [])]


def discard_unclaimed(request: Request) -> None:
    """After every request: wipe uploads that no view took (a refused request)."""
    for spool in getattr(request, "spools", []):
        if not getattr(spool, "claimed", False) and not spool.discarded:
            spool.discard()


def pending_ids(data: dict[str, Any]) -> list[str]:
    """Ids of the uploads a session's data keeps (to wipe when it ends)."""
    return [str(d["item_id"]) for d in data.get(PENDING_KEY, [])]


def _to_dict(a: Attachment) -> dict[str, Any]:
    return {
        "item_id": a.item_id,
        "name": a.name,
        "content_type": a.content_type,
        "plain_size": a.plain_size,
        "size": a.size,
    }
