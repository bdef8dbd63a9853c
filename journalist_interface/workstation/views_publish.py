"""Drafts of public entries, the redaction check, her consent, and publication.

Built on publish.py and redact.py (their owners' modules). While either is
missing from this build the pages say so (views.init_errors) instead of pretending.
"""

from __future__ import annotations

import logging

from flask import request

from .views import bp

log = logging.getLogger(__name__)


@bp.get("/drafts")
def drafts_page() -> str:
    from . import publish, redact  # noqa: F401

    request.args.get("case_id", type=int)
    raise NotImplementedError
