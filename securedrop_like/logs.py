"""Logging that cannot leak: no IP address, user agent, codename or report text.

Our own log lines name events and counts only. Werkzeug's and gunicorn's
access logs (which carry addresses, paths and times) are switched off; a
filter also drops any record that still looks like an access-log line.
"""

from __future__ import annotations

import logging
import re

_ACCESS_LINE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|HTTP/\d")


class NoAccessLog(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _ACCESS_LINE.search(record.getMessage())


def configure_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if not any(isinstance(f, NoAccessLog) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(NoAccessLog())
        root.addHandler(handler)
        root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("gunicorn.access").disabled = True
