"""Ciphertext storage: files under random ids, written encrypted as they stream in.

An upload is never held whole in memory and never touches disk as plaintext:
:class:`EncryptingSpool` is handed to Werkzeug's multipart parser as the
file object for each uploaded part, so every chunk the parser reads is
encrypted (crypto envelope, 64 KiB chunks) and written straight to its final
path. The database row that makes the file part of a case is written later by
the group-commit writer; a file without a row (a crash in between, an
abandoned form) is an orphan that :meth:`CiphertextStore.sweep` removes.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from crypto import EnvelopeWriter, PublicKey

_WIPE_CHUNK = 1024 * 1024


def new_id() -> str:
    """A random 128-bit identifier, hex. Reveals nothing, orders nothing."""
    return secrets.token_hex(16)


def _is_id(name: str) -> bool:
    return len(name) == 32 and all(c in "0123456789abcdef" for c in name)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def wipe_file(path: Path) -> bool:
    """Overwrite a file with zeros, fsync, then unlink it. Returns False if absent.

    On journalling or copy-on-write file systems and on SSDs the old blocks may
    survive elsewhere; the data is ciphertext anyway, so this is one more layer,
    not the guarantee.
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        remaining = os.fstat(fd).st_size
        zeros = bytes(min(remaining, _WIPE_CHUNK))
        while remaining > 0:
            remaining -= os.write(fd, zeros[: min(remaining, _WIPE_CHUNK)])
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    return True


class CiphertextStore:
    """Ciphertext files under ``root/<2 hex>/<id>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, item_id: str) -> Path:
        if not _is_id(item_id):
            raise ValueError("not a store id")
        return self.root / item_id[:2] / item_id

    def spool(self, recipients: Sequence[PublicKey], max_plain_bytes: int) -> EncryptingSpool:
        return EncryptingSpool(self, recipients, max_plain_bytes)

    def write_bytes(self, item_id: str, ciphertext: bytes) -> None:
        path = self.path_for(item_id)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(ciphertext)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(path.parent)

    def open(self, item_id: str) -> BinaryIO:
        return self.path_for(item_id).open("rb")

    def size(self, item_id: str) -> int:
        return self.path_for(item_id).stat().st_size

    def delete(self, item_ids: Iterable[str]) -> int:
        return sum(1 for item_id in item_ids if wipe_file(self.path_for(item_id)))

    def ids(self) -> Iterator[str]:
        """Ids of the ciphertext files in the store (anything else there is ignored)."""
        if not self.root.exists():
            return
        for sub in self.root.iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                for entry in sub.iterdir():
                    if _is_id(entry.name) and entry.name.startswith(sub.name):
                        yield entry.name

    def sweep(self, known: set[str], keep: set[str] | None = None) -> int:
        """Wipe every file that no database row (nor ``keep``) refers to."""
        keep = keep or set()
        orphans = [i for i in self.ids() if i not in known and i not in keep]
        return self.delete(orphans)


class EncryptingSpool:
    """A write-only file object that encrypts into the store as it is written.

    Werkzeug calls ``write`` for every chunk of an uploaded part and
    ``seek(0)`` when the part ends; we take that as the end of the file and
    finish the envelope. Bytes beyond ``max_plain_bytes`` are not kept: the
    spool records ``too_large`` so the view can say so while keeping the rest
    of what she typed, and the partial ciphertext is wiped.
    """

    def __init__(
        self, store: CiphertextStore, recipients: Sequence[PublicKey], max_plain_bytes: int
    ) -> None:
        self.store = store
        self.item_id = new_id()
        self.path = store.path_for(self.item_id)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh: BinaryIO | None = os.fdopen(fd, "wb")
        self._envelope: EnvelopeWriter | None = EnvelopeWriter(self._fh, recipients)
        self.max_plain_bytes = max_plain_bytes
        self.plain_size = 0
        self.size = 0
        self.too_large = False
        self.finished = False
        self.discarded = False

    # -- the file-object protocol Werkzeug uses ---------------------------------
    def write(self, data: bytes) -> int:
        if self.too_large or self._envelope is None:
            return len(data)
        if self.plain_size + len(data) > self.max_plain_bytes:
            self.too_large = True
            self._abort()
            return len(data)
        self._envelope.write(data)
        self.plain_size += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset == 0 and whence == 0:
            self.finish()
        return 0

    def tell(self) -> int:
        return self.plain_size

    def read(self, size: int = -1) -> bytes:
        raise OSError("an encrypting spool cannot be read back")

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        return None

    def close(self) -> None:
        """Closing an unfinished spool wipes what it had written."""
        if self._fh is not None and not self.finished:
            self._abort()

    # -- our own ----------------------------------------------------------------
    def finish(self) -> None:
        if self.finished or self._envelope is None or self._fh is None:
            return
        self._envelope.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.size = self._fh.tell()
        self._fh.close()
        self._fh = None
        self._envelope = None
        _fsync_dir(self.path.parent)
        self.finished = True

    def _abort(self) -> None:
        self._envelope = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        wipe_file(self.path)
        self.discarded = True

    def discard(self) -> None:
        """Wipe the ciphertext (an abandoned or refused upload)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._envelope = None
        wipe_file(self.path)
        self.discarded = True
