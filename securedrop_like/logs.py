"""Logging that cannot leak: no address, user agent, request, codename, text or time.

Every server process (gunicorn's master and workers, the writer process)
writes its log lines through one formatter and one filter:

- :class:`DayFreeFormatter` writes ``LEVEL logger: message``: no time at
  all, and of an exception only its type (its text can quote a request);
- :class:`RedactingFilter` replaces a message about a request or a
  connection with a fixed event name (gunicorn's say which address sent
  what; Flask's name the path), and takes addresses, long hex ids and clock
  times out of every other message.

Our own log lines name events and counts only; these are the net under them
and under the libraries'. gunicorn's error log goes through them too
(securedrop_like.gunicorn_worker.QuietLogger); its access log, and
Werkzeug's, are off.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# The fixed event names that stand for a message about a request.
MALFORMED_REQUEST = "a malformed request was refused"
CONNECTION_ENDED = "a connection ended early"
REQUEST_FAILED = "a request failed"
DETAILS_LEFT_OUT = "an event about a request (details left out)"
_EVENT_NAMES = {MALFORMED_REQUEST, CONNECTION_ENDED, REQUEST_FAILED, DETAILS_LEFT_OUT}

# Matched against the message's template, before its arguments are merged in:
# the arguments are what a client sent.
_REQUEST_EVENTS = [
    (
        re.compile(
            r"invalid|malformed|bad request|limit request|chunk|header|proxy|h2c|preface", re.I
        ),
        MALFORMED_REQUEST,
    ),
    (
        re.compile(
            r"connection|disconnect|socket|ssl|epipe|reset|not connected|stream|http/2", re.I
        ),
        CONNECTION_ENDED,
    ),
    (re.compile(r"error handling|exception on|request_hook|_request hook", re.I), REQUEST_FAILED),
    (
        re.compile(r"request|client|\buri\b|\burl\b|\bpath\b|agent|cookie|codename", re.I),
        DETAILS_LEFT_OUT,
    ),
]
# gunicorn's messages whose arguments are the server's own: its version, the
# address it listens on, worker classes, pids, signals, exit codes, counts.
# The arguments of any other gunicorn message are left out.
SERVER_MESSAGES = re.compile(
    r"(Starting gunicorn|Listening at|Using worker|Booting worker|Worker exiting|WORKER TIMEOUT"
    r"|Worker \(pid|Handling signal|Hang up|Shutting down|Reaped unknown child|Dirty arbiter"
    r"|Ignoring unknown signal|Unhandled signal|Parent changed"
    # binding the listening socket
    r"|Connection in use|Invalid address|Can't connect to|Retrying in)"
)
LEFT_OUT = "[left out]"
_ONLY_PLACEHOLDERS = re.compile(r"\s*(%[-#0 +]*\d*(?:\.\d+)?[sdrifxa]\s*)+")
_SCRUB = [
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"), "[address]"),
    (re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?\b"), "[time]"),
    (
        re.compile(r"(?<![\w:])\[?(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\]?(?![\w:])", re.I),
        "[address]",
    ),
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "[id]"),
    (re.compile(r"[A-Za-z0-9_-]{24,}"), "[id]"),
]


def _event(template: str) -> str | None:
    for pattern, event in _REQUEST_EVENTS:
        if pattern.search(template):
            return event
    return None


def redact(template: str, args: Any = (), strict: bool = False) -> str:
    """What may be written of a message: an event name, or the message scrubbed.

    ``strict`` (gunicorn's messages): arguments are left out too, but for the
    messages about the server's own processes.
    """
    if template in _EVENT_NAMES:
        return template
    process = SERVER_MESSAGES.match(template)
    event = None if process else _event(template)
    if event:
        return event
    if args and _ONLY_PLACEHOLDERS.fullmatch(template):
        return DETAILS_LEFT_OUT  # "%s" % something: nothing says what it is
    if args and strict and not process:
        if not isinstance(args, tuple):
            return DETAILS_LEFT_OUT
        args = (LEFT_OUT,) * len(args)
    try:
        message = template % args if args else template
    except (TypeError, ValueError, KeyError):
        message = template
    for pattern, replacement in _SCRUB:
        message = pattern.sub(replacement, message)
    return message


class RedactingFilter(logging.Filter):
    """Rewrites each record once: a fixed event name or a scrubbed message, the
    exception's type only, no stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "sesim_redacted", False):
            return True
        message = redact(str(record.msg), record.args, record.name.startswith("gunicorn"))
        if record.exc_info and record.exc_info[0] is not None:
            message += f" ({record.exc_info[0].__name__})"
        record.msg, record.args = message, ()
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        record.sesim_redacted = True
        return True


class DayFreeFormatter(logging.Formatter):
    """``LEVEL logger: message``, never a time; of an exception, its type only."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def usesTime(self) -> bool:  # noqa: N802 - logging's name
        return False

    def formatException(self, ei: object) -> str:  # noqa: N802 - logging's name
        kind = ei[0] if isinstance(ei, tuple) and ei else None
        return f"({kind.__name__})" if isinstance(kind, type) else ""

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return ""


def install(handler: logging.Handler) -> None:
    """Give a handler the formatter and the filter (once)."""
    handler.setFormatter(DayFreeFormatter())
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


def configure_logging(level: int = logging.INFO) -> None:
    """The root logger's one handler (stderr), with the formatter and the filter.

    Idempotent: the server's master calls it before it starts the writer
    process, each app again when it is built.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if any(isinstance(f, RedactingFilter) for f in h.filters)]
    if not ours:
        handler = logging.StreamHandler()
        install(handler)
        root.addHandler(handler)
        root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # stem (tor's control port) logs every message it exchanges at DEBUG.
    logging.getLogger("stem").setLevel(logging.WARNING)
    logging.getLogger("gunicorn.access").disabled = True
