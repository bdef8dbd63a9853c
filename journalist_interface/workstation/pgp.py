"""A decrypted case, re-encrypted to a reviewer's OpenPGP key (python-gnupg).

For a reviewer who keeps her own OpenPGP key: the case leaves the workstation only as
OpenPGP ciphertext. Inside is a tar file (never written to disk in the clear: it is
streamed through a pipe into GnuPG) holding:

- ``case.json``: designation, days, channel, status, her report's document, her
  messages and the replies (decrypted documents), and the list of files;
- ``case.txt``: the same for reading, in plain text;
- ``files/NN-<name>``: each file that opened, byte for byte (unless ``include_files`` is
  False). Names are made safe (no folders, no control characters).
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crypto import CryptoError, OpenPGP

from .casestore import CaseStore, CaseView
from .keys import WorkstationError

__all__ = ["PgpExport", "case_document", "export_case", "safe_name"]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True)
class PgpExport:
    out: Path
    recipient: str
    members: int


def safe_name(name: str | None, fallback: str) -> str:
    """A file name that is one path component, printable, at most 100 characters."""
    cleaned = _UNSAFE.sub("_", name or "").strip().lstrip(".")
    return (cleaned or fallback)[:100]


def case_document(case: CaseView) -> dict[str, Any]:
    return {
        "format": "sesim-case-export",
        "v": 1,
        "designation": case.designation,
        "first_day": case.first_day,
        "last_day": case.last_day,
        "withdrawn_day": case.withdrawn_day,
        "channel": case.channel,
        "status": case.status,
        "report": case.report_item.document if case.report_item else None,
        "messages": [{"id": m.id, "day": m.day, "document": m.document} for m in case.messages],
        "replies": [
            {"id": r.id, "day": r.day, "author": r.author, "document": r.document}
            for r in case.replies
        ],
        "files": [
            {
                "id": f.item_id,
                "name": f.name,
                "type": f.content_type,
                "size": f.plain_size,
                "error": f.error,
            }
            for f in case.files
        ],
        "not_opened": [{"id": i.id, "kind": i.kind, "error": i.error} for i in case.errors],
    }


def _case_text(case: CaseView) -> str:
    lines = [f"Case {case.designation} ({case.first_day} .. {case.last_day})", ""]
    if case.report is not None:
        r = case.report
        lines += [
            "Report",
            f"  types: {', '.join(r.types) or '-'}",
            f"  when: {r.date or '-'} ({r.date_precision}), {r.part_of_day or '-'}",
            f"  where: {r.district or '-'}; {r.landmark or '-'}",
            f"  perpetrator: {r.perpetrator_type or '-'}; service: {r.service or '-'}",
            f"  role: {r.role or '-'}; wants: {', '.join(r.wants) or '-'}",
            f"  consent: {r.consent or '-'}; language: {r.lang or '-'}",
            "",
            r.text,
            "",
        ]
    for m in case.messages:
        lines += [f"Message, {m.day}", m.text, ""]
    for reply in case.replies:
        lines += [f"Reply by {reply.author or 'staff'}, {reply.day}", reply.text, ""]
    for f in case.files:
        lines.append(f"File {f.name or f.item_id}: {f.plain_size} bytes {f.error or ''}".rstrip())
    return "\n".join(lines) + "\n"


class _ChunkReader(io.RawIOBase):
    """A file's chunks from the case store as a readable stream."""

    def __init__(self, chunks: Any) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def _write_tar(store: CaseStore, case: CaseView, include_files: bool, sink: Any) -> int:
    members = 0
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))

        add("case.json", json.dumps(case_document(case), ensure_ascii=False, indent=1).encode())
        add("case.txt", _case_text(case).encode("utf-8"))
        members = 2
        if include_files:
            for n, f in enumerate(case.files, start=1):
                if f.error or f.plain_size is None:
                    continue
                info = tarfile.TarInfo(f"files/{n:02d}-{safe_name(f.name, f.item_id)}")
                info.size = int(f.plain_size)
                info.mode = 0o600
                tar.addfile(info, io.BufferedReader(_ChunkReader(store.file_plaintext(f.item_id))))
                members += 1
    return members


def export_case(
    store: CaseStore,
    case_id: int,
    *,
    recipient: str,
    gnupghome: Path,
    out: Path,
    include_files: bool = True,
) -> PgpExport:
    """Write case ``case_id`` to ``out`` (a new file) encrypted to the OpenPGP key with
    fingerprint ``recipient`` from the keyring in ``gnupghome``."""
    case = store.get_case(case_id)
    if case.withdrawn_day:
        raise WorkstationError("She withdrew: her case cannot be exported.")
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise WorkstationError(f"{out} already exists: refusing to overwrite it")
    try:
        with OpenPGP(Path(gnupghome)) as pgp:
            pgp.export_public_key(recipient)  # there, before a byte of her case is read
    except CryptoError as exc:
        raise WorkstationError(f"The OpenPGP export failed: {exc}") from exc
    counted: list[int] = []
    failure: list[BaseException] = []

    def produce(write_fd: int) -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink:
                counted.append(_write_tar(store, case, include_files, sink))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            failure.append(exc)

    thread: threading.Thread | None = None
    try:
        with OpenPGP(Path(gnupghome)) as pgp:
            read_fd, write_fd = os.pipe()
            thread = threading.Thread(target=produce, args=(write_fd,), name="pgp-export")
            thread.daemon = True
            thread.start()
            with os.fdopen(read_fd, "rb") as source:
                pgp.encrypt_file(source, recipient, out)
    except CryptoError as exc:
        raise WorkstationError(f"The OpenPGP export failed: {exc}") from exc
    finally:
        if thread is not None:
            thread.join(timeout=60)
    if failure:
        out.unlink(missing_ok=True)
        raise WorkstationError(f"The OpenPGP export failed: {failure[0]}") from failure[0]
    return PgpExport(out, recipient, counted[0] if counted else 0)
