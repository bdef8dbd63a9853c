"""The staff interface: log in with passphrase and TOTP, sessions that end, the inbox."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journalist_interface import create_app
from journalist_interface.accounts import StaffAccounts
from journalist_interface.totp import code_at
from securedrop_like.db import Database
from tests.conftest import Instance, SourceBrowser, csrf_of

STEP = 30


def _code(secret: str, offset: int = 0) -> str:
    return code_at(secret, int(time.time()) // STEP + offset)


@pytest.fixture
def accounts(instance: Instance) -> StaffAccounts:
    return StaffAccounts(Database.for_config(instance.config), opslimit=1, memlimit=8 * 1024 * 1024)


@pytest.fixture
def staff_app(instance: Instance, accounts: StaffAccounts) -> Iterator[Flask]:
    yield create_app(instance.config, accounts=accounts, TESTING=True)


@pytest.fixture
def lawyer(accounts: StaffAccounts) -> Any:
    return accounts.add("leyla", language="en")


def _login(client: FlaskClient, username: str, password: str, code: str) -> Any:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password, "code": code},
    )


def test_login_with_passphrase_and_code_opens_the_inbox(staff_app: Flask, lawyer: Any) -> None:
    client = staff_app.test_client()
    assert client.get("/").status_code == 303  # not logged in
    response = _login(client, "leyla", lawyer.password, _code(lawyer.totp_secret))
    assert response.status_code == 303
    page = client.get("/")
    assert page.status_code == 200
    assert 'lang="en"' in page.get_data(as_text=True)  # her language


@pytest.mark.parametrize("field", ["password", "code", "username"])
def test_a_wrong_field_gets_the_same_refusal(staff_app: Flask, lawyer: Any, field: str) -> None:
    client = staff_app.test_client()
    values = {"username": "leyla", "password": lawyer.password, "code": _code(lawyer.totp_secret)}
    values[field] = {"password": "wrong words", "code": "000000", "username": "nobody"}[field]
    if field == "code" and values["code"] == _code(lawyer.totp_secret):
        values["code"] = "111111"
    response = _login(client, values["username"], values["password"], values["code"])
    assert response.status_code == 400
    assert client.get("/").status_code == 303


def test_a_used_code_is_refused_the_second_time(staff_app: Flask, lawyer: Any) -> None:
    code = _code(lawyer.totp_secret)
    assert _login(staff_app.test_client(), "leyla", lawyer.password, code).status_code == 303
    assert _login(staff_app.test_client(), "leyla", lawyer.password, code).status_code == 400


def test_repeated_failures_are_throttled_with_a_translated_429(
    staff_app: Flask, lawyer: Any
) -> None:
    client = staff_app.test_client()
    statuses = [_login(client, "leyla", "wrong", "123456").status_code for _ in range(7)]
    assert statuses[:5] == [400] * 5
    assert statuses[-1] == 429
    throttled = _login(client, "leyla", "wrong", "123456")
    assert int(throttled.headers["Retry-After"]) > 0
    assert 'lang="az"' in throttled.get_data(as_text=True)


def test_the_429_page_offers_the_log_in_page_to_someone_not_logged_in(
    staff_app: Flask, lawyer: Any
) -> None:
    client = staff_app.test_client()
    for _ in range(6):
        throttled = _login(client, "leyla", "wrong", "123456")
    assert throttled.status_code == 429
    page = throttled.get_data(as_text=True)
    assert 'href="/login"' in page
    assert 'href="/"' not in page.split("<main", 1)[-1]  # not the inbox, in the page itself


def test_an_error_page_offers_the_inbox_to_someone_logged_in(staff_app: Flask, lawyer: Any) -> None:
    client = staff_app.test_client()
    _login(client, "leyla", lawyer.password, _code(lawyer.totp_secret))
    page = client.get("/?after=not-a-cursor")
    assert page.status_code == 400
    assert 'href="/"' in page.get_data(as_text=True).split("<main", 1)[-1]


def test_disabling_or_resetting_ends_live_sessions(
    staff_app: Flask, accounts: StaffAccounts, lawyer: Any
) -> None:
    client = staff_app.test_client()
    _login(client, "leyla", lawyer.password, _code(lawyer.totp_secret))
    assert client.get("/").status_code == 200
    accounts.reset_password("leyla")
    assert client.get("/").status_code == 303
    password = accounts.reset_password("leyla")
    _login(client, "leyla", password, _code(lawyer.totp_secret, 1))
    assert client.get("/").status_code == 200
    accounts.disable("leyla")
    assert client.get("/").status_code == 303


def test_logout_is_a_post_and_ends_the_session(staff_app: Flask, lawyer: Any) -> None:
    client = staff_app.test_client()
    _login(client, "leyla", lawyer.password, _code(lawyer.totp_secret))
    page = client.get("/").get_data(as_text=True)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout", data={"csrf_token": csrf_of(page)}).status_code == 303
    assert client.get("/").status_code == 303


def test_the_inbox_lists_sources_by_designation_with_no_secrets(
    app: Flask, staff_app: Flask, lawyer: Any, source: SourceBrowser
) -> None:
    source.report_and_get_codename("Canary report text 4f1d.")
    client = staff_app.test_client()
    _login(client, "leyla", lawyer.password, _code(lawyer.totp_secret))
    page = client.get("/").get_data(as_text=True)
    link = re.search(r'href="/sources/([0-9a-f]{32})"', page)
    assert link, page
    detail = client.get(f"/sources/{link.group(1)}")
    assert detail.status_code == 200
    html = page + detail.get_data(as_text=True)
    assert "Canary report text" not in html
    assert lawyer.password not in html and lawyer.totp_secret not in html
    assert source.codename not in html
    lookup_ids = [
        r[0]
        for r in app.extensions["sesim"]
        .service.db.reader()
        .execute("SELECT lookup_id FROM sources")
        .fetchall()
    ]
    assert not any(lookup in html for lookup in lookup_ids)
    assert client.get("/sources/" + "0" * 32).status_code == 404
    assert client.get("/sources/nonsense").status_code == 404
    assert "<script" not in html and detail.headers["Cache-Control"] == "no-store"


def test_the_search_box_finds_a_source_by_its_designation(
    app: Flask, staff_app: Flask, lawyer: Any, source: SourceBrowser
) -> None:
    from securedrop_like import designations

    source.report_and_get_codename("One.")
    other = SourceBrowser(app.test_client())
    other.report_and_get_codename("Two.")
    tokens = [
        r[0]
        for r in app.extensions["sesim"]
        .service.db.reader()
        .execute("SELECT designation FROM sources")
        .fetchall()
    ]
    client = staff_app.test_client()
    _login(client, "leyla", lawyer.password, _code(lawyer.totp_secret))
    for lang in ("en", "ru", "az"):
        label = designations.label(tokens[0], lang)
        page = client.get("/", query_string={"q": label.upper()}).get_data(as_text=True)
        assert designations.label(tokens[0], "en") in page  # her own language is English
        if tokens[1][-4:] != tokens[0][-4:]:
            assert designations.label(tokens[1], "en") not in page
    nothing = client.get("/", query_string={"q": "no such words"}).get_data(as_text=True)
    assert "<table>" not in nothing
