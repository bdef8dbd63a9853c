"""The workstation's base error.

Every workstation error is a :class:`WorkstationError`; ``str()`` of one is a
plain English message fit to show a user, and the app translates the known
ones (see ``sanitize.UnsafeFile.user_message``).
"""

from __future__ import annotations

from securedrop_like.errors import SesimError


class WorkstationError(SesimError):
    """Base of every workstation error."""
