"""The apps answer only under their own names: a foreign Host gets a neutral 421.

And a visitor who came through the clearnet mirror is told to use Tor Browser.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crypto import OnionServiceKey
from journalist_interface import create_app as create_staff_app
from source_interface import create_app
from tests.conftest import Instance, csrf_of

SOURCE = OnionServiceKey.generate().address
STAFF = OnionServiceKey.generate().address
MIRROR = "sesim.example.org"


@pytest.fixture
def onion_app(instance: Instance) -> Iterator[Flask]:
    config = instance.config.with_changes(
        onion_address=SOURCE, staff_onion_address=STAFF, clearnet_url=f"https://{MIRROR}"
    )
    application = create_app(config, TESTING=True)
    yield application
    application.extensions["sesim"].service.close()


@pytest.fixture
def staff_app(instance: Instance) -> Iterator[Flask]:
    config = instance.config.with_changes(onion_address=SOURCE, staff_onion_address=STAFF)
    application = create_staff_app(config, TESTING=True)
    yield application
    application.extensions["sesim_staff"].reports.close()


def _get(client: FlaskClient, host: str, path: str = "/") -> tuple[int, str]:
    response = client.get(path, headers={"Host": host})
    return response.status_code, response.get_data(as_text=True)


def _assert_refused(status: int, body: str, instance_name: str) -> None:
    assert status == 421
    assert instance_name not in body and "Səsim" not in body
    assert "href" not in body and "<form" not in body


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost:8080",
        STAFF,  # the other onion
        "evil.example",
        SOURCE.replace(".onion", ".onion.evil.example"),
        f"{MIRROR}.evil.example",
        "",
    ],
)
def test_the_source_app_refuses_any_other_host(onion_app: Flask, host: str) -> None:
    client = onion_app.test_client()
    for path in ("/", "/report", "/static/style.css", "/lang/ru", "/no-such-page"):
        status, body = _get(client, host, path)
        _assert_refused(status, body, onion_app.config["SESIM"].instance_name)


def test_the_source_app_answers_under_its_onion_and_its_mirror(onion_app: Flask) -> None:
    client = onion_app.test_client()
    for host in (SOURCE, f"{SOURCE}:80", SOURCE.upper(), MIRROR, f"{MIRROR}:443"):
        status, _body = _get(client, host)
        assert status == 200, host


def test_a_post_to_a_foreign_host_is_refused_before_its_form_is_checked(
    onion_app: Flask,
) -> None:
    client = onion_app.test_client()
    token = csrf_of(client.get("/report", headers={"Host": SOURCE}).get_data(as_text=True))
    response = client.post(
        "/report",
        headers={"Host": "evil.example"},
        data={"csrf_token": token, "what_happened": "x"},
    )
    assert response.status_code == 421
    assert onion_app.extensions["sesim"].service.find_source("0" * 64) is None


def test_the_refusal_is_translated_and_keeps_the_security_headers(
    onion_app: Flask,
) -> None:
    client = onion_app.test_client()
    response = client.get("/", headers={"Host": "evil.example"})
    assert '<html lang="az">' in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Cache-Control"] == "no-store"


def test_the_clearnet_mirror_shows_the_tor_browser_banner(onion_app: Flask) -> None:
    client = onion_app.test_client()
    for path in ("/", "/report", "/login"):
        _status, body = _get(client, MIRROR, path)
        assert 'class="errbox" role="note"' in body
        assert f'<p class="codename" lang="en">{SOURCE}</p>' in body
        assert "Snowflake" in body
        _status, body = _get(client, SOURCE, path)
        assert 'role="note"' not in body and SOURCE not in body


def test_the_start_page_gives_the_tor_advice(onion_app: Flask) -> None:
    client = onion_app.test_client()
    client.get("/lang/en", headers={"Host": SOURCE})
    _status, body = _get(client, SOURCE)
    for advice in ("Safest", "Snowflake", "obfs4", "New Identity"):
        assert advice in body


def test_the_staff_app_answers_only_under_the_staff_onion(staff_app: Flask) -> None:
    client = staff_app.test_client()
    assert _get(client, STAFF, "/login")[0] == 200
    for host in (SOURCE, MIRROR, "127.0.0.1", "localhost", "evil.example"):
        status, body = _get(client, host, "/login")
        _assert_refused(status, body, staff_app.config["SESIM"].instance_name)


def test_without_an_onion_the_apps_answer_on_this_machine_only(
    client: FlaskClient, instance: Instance
) -> None:
    for host in ("localhost", "127.0.0.1:8080", "[::1]:8080"):
        assert _get(client, host)[0] == 200, host
    assert _get(client, SOURCE)[0] == 421
    assert _get(client, "192.168.1.5:8080")[0] == 421
    staff = create_staff_app(instance.config, TESTING=True).test_client()
    assert _get(staff, "127.0.0.1", "/login")[0] == 200
    assert _get(staff, STAFF, "/login")[0] == 421
