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


class BadCodename(SesimError):
    """A codename that cannot be right (see codenames.InvalidCodename.reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
