"""New secret files: created 0600, never over an existing one (the one helper for it).

Every place that writes a key, a passphrase, a pin or a bundle of ciphertext uses
:func:`new_private_file`, so the rules live in one place: ``O_CREAT | O_EXCL`` (never
overwrite, never follow a symlink planted at the name), ``O_CLOEXEC``, the mode given
at creation (never readable by others, not even for an instant, whatever the umask),
then made exact with ``fchmod``, flushed and fsynced; a file whose writing fails is
removed, so no half-written key is left behind. It lives in ``crypto`` (the lowest
layer) because key files are written here too; the core and every app use it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["new_private_file"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


@contextlib.contextmanager
def new_private_file(
    path: str | os.PathLike[str],
    *,
    mode: int = 0o600,
    encoding: str | None = None,
    sync: bool = True,
) -> Iterator[IO[Any]]:
    """Create ``path`` new and yield it open for writing (binary, or text in
    ``encoding``). ``FileExistsError`` if it exists, ``OSError`` if it cannot be made or
    written: callers turn these into their own errors. Anything raised inside the block
    removes the file and is raised again. ``mode`` beyond 0600 (a public key's 0644) is
    applied only once the file is complete."""
    fd = os.open(path, _FLAGS, mode & 0o600)
    try:
        handle: IO[Any] = os.fdopen(fd, "w", encoding=encoding) if encoding else os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    try:
        with handle:
            yield handle
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
