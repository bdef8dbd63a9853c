"""The Legal Centre staff interface (issue 3) and, as a sub-package, the offline workstation."""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any) -> Any:
    """See :func:`journalist_interface.app.create_app`."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)
