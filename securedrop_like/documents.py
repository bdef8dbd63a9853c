"""The plaintext documents sealed in items: their format names and limits.

One definition for the server (``service.py``, the staff interface) and the reviewer
workstation, so both sides agree on what a report, message or reply is.
"""

from __future__ import annotations

__all__ = [
    "DOCUMENT_VERSION",
    "MAX_REPLY_CHARS",
    "MESSAGE_FORMAT",
    "REPLY_FORMAT",
    "REPORT_FORMAT",
]

REPORT_FORMAT = "sesim-report"
MESSAGE_FORMAT = "sesim-message"
REPLY_FORMAT = "sesim-reply"
DOCUMENT_VERSION = 1
#: The longest reply a reviewer may write, in the staff interface or on the workstation.
MAX_REPLY_CHARS = 20_000
