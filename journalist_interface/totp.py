"""Time-based one-time passwords (RFC 6238): HMAC-SHA-1, 6 digits, 30-second steps.

The parameters are the ones every authenticator app (FreeOTP, Aegis, Google
Authenticator) supports without configuration. It is a few lines on top of
:mod:`hmac`, written here rather than taken from a library so that the time
is always a parameter: tests are exact, and nothing reads the clock behind
the caller's back.

Replay: :func:`verify` returns the time step a code matched, the caller
stores it, and passes it back as ``last_step`` next time; a code whose step
is not newer is refused, so a code seen over a shoulder or in a proxy log is
useless even within its own 30 seconds.

.. warning::
   Never log a code or a secret, nor put one in an exception message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
from urllib.parse import quote, urlencode

DIGITS = 6
PERIOD = 30
#: Accept the previous and the next step too: phones' clocks drift, and a
#: code typed in its last seconds arrives in the next step.
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends for HMAC-SHA-1

_CODE = re.compile(r"[0-9]{6}", re.ASCII)
_SPACES = re.compile(r"\s+")


class InvalidSecret(ValueError):
    """A stored TOTP secret is not base32 (a corrupt database, not a wrong code)."""


def new_secret() -> str:
    """A fresh random secret: 160 bits as 32 base32 characters (no padding)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    cleaned = _SPACES.sub("", secret).upper()
    cleaned += "=" * (-len(cleaned) % 8)
    try:
        key = base64.b32decode(cleaned)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret("the TOTP secret is not base32") from exc
    if not key:
        raise InvalidSecret("the TOTP secret is empty")
    return key


def step_at(now: float) -> int:
    """The 30-second step a moment (seconds since the epoch, UTC) falls in."""
    return int(now // PERIOD)


def code_at(secret: str, step: int) -> str:
    """The 6-digit code for one time step (RFC 4226 dynamic truncation)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**DIGITS:0{DIGITS}d}"


def verify(secret: str, code: str, now: float, last_step: int) -> int | None:
    """The step ``code`` is valid for around ``now``, or None.

    Accepts the steps ``now - 1``, ``now`` and ``now + 1`` but only those
    newer than ``last_step`` (the step of the last code accepted for this
    account; 0 if none). Spaces are ignored ("123 456" as apps show it);
    anything else that is not exactly six ASCII digits is refused. Every
    candidate step is compared, in constant time, so the time taken does
    not say which one matched.
    """
    typed = _SPACES.sub("", code) if isinstance(code, str) else ""
    if not _CODE.fullmatch(typed):
        return None
    current = step_at(now)
    matched: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step), typed) and step > last_step:
            if matched is None:
                matched = step
    return matched


def otpauth_uri(secret: str, username: str, issuer: str = "Səsim") -> str:
    """The ``otpauth://`` URI authenticator apps read from a QR code.

    The label is ``issuer:username``, both percent-encoded as UTF-8; the
    issuer is repeated as a parameter, as the Key URI format asks.
    """
    label = f"{quote(issuer, safe='')}:{quote(username, safe='')}"
    query = urlencode(
        {
            "secret": _SPACES.sub("", secret).upper().rstrip("="),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"
