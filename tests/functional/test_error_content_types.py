"""Every status the source and staff apps can answer is an HTML page a browser renders.

The busy page (503) was sent as ``text/plain``: the browser showed its raw HTML
and Quick exit could not be tapped. Each status is driven through the real app
(a full session table, a wrong Host, a body over the limit, a throttled log-in,
a domain error out of a view), and each answer must be ``text/html`` with the
page's own markup (so a test that only checks the header cannot pass on an
empty body).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journalist_interface import create_app as create_staff_app
from journalist_interface.accounts import StaffAccounts
from securedrop_like import inbox
from securedrop_like.db import Database
from securedrop_like.errors import Busy, StorageFull
from securedrop_like.instance import init_instance
from source_interface import create_app
from tests.conftest import FAST_ARGON2, Instance, SourceBrowser, csrf_of
from tests.functional.test_staff_interface import _code, _login

HTML = "text/html; charset=utf-8"


def _is_page(response: Any, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"] == HTML, (status, response.headers["Content-Type"])
    body = response.get_data(as_text=True)
    assert body.lstrip().lower().startswith("<!doctype html>"), body[:200]
    assert "<h1" in body


def _raise(exc: Exception) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return fail


# -- the source interface -----------------------------------------------------------------------


def test_source_error_pages_are_html(
    app: Flask, source: SourceBrowser, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = source.client
    client.get("/lang/en")
    seen: set[int] = set()

    def page(response: Any, status: int) -> None:
        _is_page(response, status)
        seen.add(status)

    page(client.get("/no-such-page"), 404)
    page(client.get("/logout"), 405)  # log-out is a POST
    page(client.post("/logout", data={"csrf_token": "forged"}), 400)  # CSRF failure (strict)
    page(client.post("/login", data={"csrf_token": "old", "codename": "a b"}), 400)  # soft
    page(client.post("/report", data={"csrf_token": source.token()}), 400)  # a failed form
    page(client.get("/", headers={"Host": "elsewhere.example"}), 421)
    too_big = app.config["MAX_CONTENT_LENGTH"] + 1
    page(
        client.post(
            "/report",
            data={"csrf_token": source.token(), "files": (io.BytesIO(b"x" * too_big), "a.jpg")},
            content_type="multipart/form-data",
        ),
        413,
    )
    source.report_and_get_codename()
    page(client.post("/case/replies/short/delete", data={"csrf_token": source.token("/case")}), 404)
    service = app.extensions["sesim"].service
    with monkeypatch.context() as patch:  # a bug out of a view: the calm 500 page
        patch.setattr(service, "items", _raise(RuntimeError("a bug")))
        page(client.get("/case"), 500)
    with monkeypatch.context() as patch:  # the writer restarting, out of a page's read
        patch.setattr(service, "items", _raise(Busy()))
        busy = client.get("/case")
        page(busy, 503)
        assert "Retry-After" in busy.headers
        assert '<a class="exit" href="/exit">' in busy.get_data(as_text=True)
    with monkeypatch.context() as patch:
        patch.setattr(service, "items", _raise(StorageFull()))
        page(client.get("/case"), 503)
    assert seen == {400, 404, 405, 413, 421, 500, 503}


def test_the_busy_page_out_of_the_session_table_is_html(instance: Instance) -> None:
    """Busy raised by the session table itself (not caught by a view): the shared page."""
    app = create_app(instance.config.with_changes(max_sessions=1), TESTING=True)
    try:
        woman = SourceBrowser(app.test_client())
        codename = woman.report_and_get_codename()
        newcomer = SourceBrowser(app.test_client())
        busy = newcomer.login(codename)  # the right codename: a log-in needs a slot
        _is_page(busy, 503)
        assert int(busy.headers["Retry-After"]) > 0
        assert '<a class="exit" href="/exit">' in busy.get_data(as_text=True)
    finally:
        app.extensions["sesim"].service.close()


def test_not_ready_page_is_html(tmp_path: Path) -> None:
    """An instance with no reviewer key yet cannot take a report: a 503 page, in HTML."""
    config = init_instance(tmp_path / "bare", dict(FAST_ARGON2))
    app = create_app(config, TESTING=True)
    try:
        response = SourceBrowser(app.test_client()).report("Something happened.")
        _is_page(response, 503)
    finally:
        app.extensions["sesim"].service.close()


# -- the staff interface ------------------------------------------------------------------------


@pytest.fixture
def staff_accounts(instance: Instance) -> StaffAccounts:
    return StaffAccounts(Database.for_config(instance.config), opslimit=1, memlimit=8 * 1024 * 1024)


@pytest.fixture
def staff_app(instance: Instance, staff_accounts: StaffAccounts) -> Iterator[Flask]:
    application = create_staff_app(instance.config, accounts=staff_accounts, TESTING=True)
    yield application
    application.extensions["sesim_staff"].reports.close()


def _logged_in(app: Flask, accounts: StaffAccounts, name: str, admin: bool) -> FlaskClient:
    account = accounts.add(name, language="en", is_admin=admin)
    client = app.test_client()
    assert _login(client, name, account.password, _code(account.totp_secret)).status_code == 303
    return client


def test_staff_error_pages_are_html(
    staff_app: Flask, staff_accounts: StaffAccounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: set[int] = set()

    def page(response: Any, status: int) -> None:
        _is_page(response, status)
        seen.add(status)

    lawyer = _logged_in(staff_app, staff_accounts, "leyla", admin=False)
    page(lawyer.get("/no-such-page"), 404)
    page(lawyer.get("/sources/" + "0" * 32), 404)
    page(lawyer.get("/logout"), 405)
    page(lawyer.post("/logout", data={"csrf_token": "forged"}), 400)  # CSRF failure
    page(lawyer.get("/admin/staff"), 403)  # administrators only
    page(lawyer.get("/", headers={"Host": "elsewhere.example"}), 421)
    token = csrf_of(lawyer.get("/").get_data(as_text=True))
    too_big = staff_app.config["MAX_CONTENT_LENGTH"] + 1
    page(
        lawyer.post(
            "/replies/upload",
            data={"csrf_token": token, "bundle": (io.BytesIO(b"x" * too_big), "r.tar")},
            content_type="multipart/form-data",
        ),
        413,
    )
    page(lawyer.get("/?after=damaged"), 400)
    with monkeypatch.context() as patch:
        patch.setattr(inbox, "page", _raise(RuntimeError("a bug")))
        page(lawyer.get("/"), 500)
    with monkeypatch.context() as patch:
        patch.setattr(inbox, "page", _raise(Busy()))
        busy = lawyer.get("/")
        page(busy, 503)
        assert "Retry-After" in busy.headers

    disabled = staff_accounts.add("nigar", language="en")
    staff_accounts.disable("nigar")
    stranger = staff_app.test_client()
    page(_login(stranger, "nigar", disabled.password, _code(disabled.totp_secret)), 403)
    statuses = [_login(stranger, "leyla", "wrong", "123456").status_code for _ in range(7)]
    assert statuses[-1] == 429
    page(_login(stranger, "leyla", "wrong", "123456"), 429)
    assert seen == {400, 403, 404, 405, 413, 421, 429, 500, 503}


def test_the_staff_busy_page_of_a_full_session_table_is_html(
    instance: Instance, staff_accounts: StaffAccounts
) -> None:
    app = create_staff_app(
        instance.config.with_changes(max_sessions=1), accounts=staff_accounts, TESTING=True
    )
    try:
        _logged_in(app, staff_accounts, "leyla", admin=False)
        rena = staff_accounts.add("rena", language="en")
        busy = _login(app.test_client(), "rena", rena.password, _code(rena.totp_secret))
        _is_page(busy, 503)
        assert "Retry-After" in busy.headers
    finally:
        app.extensions["sesim_staff"].reports.close()
