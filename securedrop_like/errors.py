"""Domain exceptions. Each carries data; each app maps them to a status and a
translated message in one error handler."""

from __future__ import annotations


class SesimError(Exception):
    """Base of every domain error."""


class Busy(SesimError):
    """Too many codename derivations at once, or the writer process is restarting
    (see writer_process.WriterUnavailable); the request should be retried."""

    def __init__(self, retry_after: int = 10) -> None:
        super().__init__("busy")
        self.retry_after = retry_after


class NotReady(SesimError):
    """No reviewer key is installed: nothing could be encrypted to anyone."""


class NotFound(SesimError):
    """No such source or item (or not hers)."""


class UnknownDraft(SesimError):
    """A consent decision for a draft that none of her replies (that she can open) asks
    about: a forged or stale form, or a reply deleted meanwhile. Nothing was stored."""


class BadCodename(SesimError):
    """A codename that cannot be right (see codenames.InvalidCodename.reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MissingBlob(LookupError):
    """A submission refers to an upload that is not (or no longer) in the database.

    Nothing of the submission was written. ``ids`` are the missing uploads."""

    def __init__(self, ids: list[str] | tuple[str, ...]) -> None:
        super().__init__("missing upload")
        self.ids = list(ids)


class StorageFull(SesimError):
    """The disk is full (ENOSPC, SQLITE_FULL): nothing was saved; retry later."""


def is_storage_full(exc: BaseException) -> bool:
    """Whether an error from a write means the disk (or a size limit) is full."""
    import errno

    if isinstance(exc, StorageFull):
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF == 13:  # SQLITE_FULL
        return True
    text = str(exc)
    return "database or disk is full" in text or "disk I/O error" in text
