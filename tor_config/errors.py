"""The one error ``tor_config`` raises: its message is fit to show an administrator."""

from __future__ import annotations

from securedrop_like.errors import SesimError


class TorConfigError(SesimError):
    """A tor setting, key, client or control-port problem, said in one sentence."""
