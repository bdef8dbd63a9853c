"""What the staff views share: the services built once in :func:`.app.create_app`,
and a source looked up by the id in a URL."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app

from securedrop_like import models
from securedrop_like.db import Database
from securedrop_like.service import ReportService
from securedrop_like.sessions import SessionStore

from .accounts import StaffAccounts


@dataclass
class StaffServices:
    """What the staff views need; built once in :func:`.app.create_app`."""

    db: Database
    accounts: StaffAccounts
    sessions: SessionStore
    reports: ReportService


def staff_services() -> StaffServices:
    return current_app.extensions["sesim_staff"]  # type: ignore[no-any-return]


def source_or_404(source_id: str) -> models.Source:
    """The source a URL names, or a 404 (ids are 32 hex digits)."""
    conn = staff_services().db.reader()
    source = models.source_by_id(conn, source_id) if len(source_id) == 32 else None
    if source is None:
        abort(404)
    return source


def active_usernames() -> list[str]:
    """Usernames a source can be assigned to: every enabled account, in order."""
    return [s.username for s in staff_services().accounts.list() if not s.disabled]


def assignee(form_value: str | None, me: str) -> str | None:
    """The username a form's ``to`` names ("me", "nobody" or a colleague's username;
    missing means "me"): ``""`` for nobody; None if it names no enabled account, or
    nothing was chosen (the caller says so)."""
    if form_value is None or form_value == "me":
        return me
    if form_value == "nobody":
        return ""
    return form_value if form_value in active_usernames() else None
