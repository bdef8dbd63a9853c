"""A flood of anonymous requests never ends a session that matters (issue 8, 5b).

Pages that need no state create no session; sessions that hold a log-in, a
fresh codename or kept files are never evicted by new ones; when every slot
holds one, a light session is simply not kept and a new log-in is told to
try again. The same for the staff interface. Through the Flask test client
here, and through a real server in tests/integration/test_session_flood.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journalist_interface import create_app as create_staff_app
from journalist_interface.accounts import StaffAccounts
from journalist_interface.totp import code_at
from securedrop_like.db import Database
from securedrop_like.security import FORM_COOKIE_NAME
from securedrop_like.sessions import COOKIE_NAME
from source_interface import create_app
from tests.conftest import Instance, SourceBrowser, csrf_of

TABLE = 50
FLOOD = 500
# Every page a visitor can GET without a session (the others redirect to /login).
ANONYMOUS_PAGES = (
    "/",
    "/report",
    "/login",
    "/codename",
    "/codename/check",
    "/case",
    "/case/withdraw",
    "/static/style.css",
    "/no-such-page",
)


def _source_app(instance: Instance, table: int) -> Flask:
    return create_app(instance.config.with_changes(max_sessions=table), TESTING=True)


@pytest.fixture
def flood_app(instance: Instance) -> Iterator[Flask]:
    application = _source_app(instance, TABLE)
    yield application
    application.extensions["sesim"].service.close()


def _service(app: Flask) -> Any:
    return app.extensions["sesim"].service


def _sessions(app: Flask) -> Any:
    return app.extensions["sesim"].sessions


def _flood(app: Flask, pages: tuple[str, ...], lang_switches: int) -> None:
    anonymous = app.test_client(use_cookies=False)
    for _ in range(FLOOD):
        for page in pages:
            response = anonymous.get(page)
            # At most the form cookie, which is no session and takes no slot.
            for cookie in response.headers.getlist("Set-Cookie"):
                assert cookie.startswith(f"{FORM_COOKIE_NAME}="), page
    for n in range(lang_switches):
        response = anonymous.get(f"/lang/{('ru', 'en', 'az')[n % 3]}?next=/report")
        assert response.status_code == 303


def test_a_flood_of_anonymous_requests_ends_no_session_that_matters(
    flood_app: Flask, instance: Instance
) -> None:
    # She has just reported: her codename is on screen, not yet written down.
    fresh = SourceBrowser(flood_app.test_client())
    fresh.client.get("/lang/en")
    codename = fresh.report_and_get_codename("A fresh report.")
    # A failed form: her file is kept for her while she corrects the form.
    keeping = SourceBrowser(flood_app.test_client())
    assert keeping.report("", files=[(b"evidence bytes", "evidence.txt")]).status_code == 400
    # Logged in, reading her case.
    reading = SourceBrowser(flood_app.test_client())
    reading.report_and_get_codename("An older report.")
    reading.case()
    assert len(_sessions(flood_app)) == 3

    _flood(flood_app, ANONYMOUS_PAGES, FLOOD)
    assert len(_sessions(flood_app)) <= TABLE

    page = fresh.client.get("/codename")
    assert page.status_code == 200 and codename in page.get_data(as_text=True)
    assert keeping.report("Now with the words.").status_code == 200
    items = _service(flood_app).items(_source_id_of(flood_app, keeping.client))
    assert sorted(i.kind for i in items) == ["file", "report"]  # her kept file went with it
    reading.case()  # still logged in, and her key still opens (200, not a redirect)


def _source_id_of(app: Flask, client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie
    data = _sessions(app).get(cookie.value.rsplit(".", 2)[0])
    return str(data["source_id"])


def test_a_table_full_of_protected_sessions_keeps_them_and_says_busy_to_a_new_log_in(
    instance: Instance,
) -> None:
    app = _source_app(instance, 2)
    try:
        women = [SourceBrowser(app.test_client()) for _ in range(2)]
        for woman in women:
            woman.report_and_get_codename()
        # A language choice is a light session: not kept, no cookie, the page still answers.
        visitor = app.test_client()
        switch = visitor.get("/lang/ru?next=/report")
        assert switch.status_code == 303 and "Set-Cookie" not in switch.headers
        assert visitor.get("/report").status_code == 200
        # A new report is refused before anything is stored, her text kept.
        newcomer = SourceBrowser(app.test_client())
        response = newcomer.report("Please keep this text.")
        assert response.status_code == 503
        page = response.get_data(as_text=True)
        assert "Please keep this text." in page and 'class="codename"' not in page
        assert len(app.extensions["sesim"].sessions) == 2
        # Her log-out leaves a light session (her language), which a log-in may take.
        women[0].logout()
        assert women[0].login().status_code == 303
        # With every slot protected again, a log-in is told to try again.
        busy = SourceBrowser(app.test_client()).login(women[1].codename)
        assert busy.status_code == 503 and "Retry-After" in busy.headers
        for woman in women:
            assert woman.client.get("/case").status_code == 200
    finally:
        _service(app).close()


# -- the staff interface -----------------------------------------------------------------------


def test_a_flood_does_not_log_out_a_staff_member(instance: Instance) -> None:
    accounts = StaffAccounts(
        Database.for_config(instance.config), opslimit=1, memlimit=8 * 1024 * 1024
    )
    lawyer = accounts.add("leyla", language="en")
    app = create_staff_app(
        instance.config.with_changes(max_sessions=TABLE), accounts=accounts, TESTING=True
    )
    try:
        staff = app.test_client()
        token = csrf_of(staff.get("/login").get_data(as_text=True))
        code = code_at(lawyer.totp_secret, int(time.time()) // 30)
        login = staff.post(
            "/login",
            data={
                "csrf_token": token,
                "username": "leyla",
                "password": lawyer.password,
                "code": code,
            },
        )
        assert login.status_code == 303
        _flood(app, ("/login", "/", "/static/style.css"), FLOOD)
        assert len(app.extensions["sesim_staff"].sessions) <= TABLE
        assert staff.get("/").status_code == 200  # still logged in
    finally:
        app.extensions["sesim_staff"].reports.close()
