"""A source's case status: staff routing metadata, like the star.

Stored in ``sources.case_status`` (migration 0005), set by staff from the
source page or in bulk from the inbox, and audited (designation, old and new
code). No content and no time; never shown to her and not part of an export
bundle. Not a report-form choice, so it is not in :data:`.taxonomy.GROUPS`
(the open-data codebook).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .taxonomy import Choice, by_code

CASE_STATUSES: tuple[Choice, ...] = (
    Choice("new", _l("New case")),
    Choice("in_progress", _l("In progress")),
    Choice("aid_offered", _l("Legal aid offered")),
    Choice("referred", _l("Referred")),
    Choice("closed", _l("Closed")),
)
"""In the order a case usually moves. The codes are also the CHECK of the column
(migration 0005): a new code needs a migration too."""

DEFAULT = "new"
CODES: frozenset[str] = frozenset(choice.code for choice in CASE_STATUSES)


def label(code: str) -> str:
    """The translated label of a code (the code itself if unknown, e.g. in an old audit row)."""
    try:
        return str(by_code(CASE_STATUSES, code).label)
    except KeyError:
        return code
