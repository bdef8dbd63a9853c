"""The source interface's pages about SMS, e-mail, Messenger and X (issue 12)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from source_interface.channels import grouped
from tests.conftest import Instance
from tests.functional.test_every_page import _check as check_page
from tests.intake.pages_support import PUBLIC, gpg_key, offering_config, page
from tests.intake.pages_support import offering_app as _offering_app
from tests.unit.public_map.vnu import validate


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return gpg_key(tmp_path_factory.mktemp("gpg") / "home")


@pytest.fixture
def offering_app(instance: Instance, key: tuple[str, str]) -> Iterator[Flask]:
    yield from _offering_app(instance, key)


@pytest.fixture
def keyless_app(instance: Instance) -> Iterator[Flask]:
    yield from _offering_app(instance, None)


CHANNELS = ("sms", "email", "messenger", "x")
# What each page must say, in English: who sees what.
WHO_SEES = {
    "sms": "Your phone company sees your number, the time and the text",
    "email": "Your mailbox provider and ours see your address",
    "messenger": "Meta (Facebook) sees your messages, your account",
    "x": "X (Twitter) sees your messages, your account",
}


def test_start_page_links_to_the_channels(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert 'href="/channels/"' in html


def test_nothing_configured_every_channel_is_not_offered(client: FlaskClient) -> None:
    client.get("/lang/en")
    html = client.get("/channels/").get_data(as_text=True)
    for name in CHANNELS:
        assert f'href="/channels/{name}"' in html
    assert html.count("not offered yet") == 4
    for name in CHANNELS:
        response = client.get(f"/channels/{name}")
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert 'id="not-offered"' in body
        assert WHO_SEES[name] in body  # the warning stays, even when not offered
        assert 'class="codename"' not in body
        assert "pgp-key.asc" not in body
    assert client.get("/pgp-key.asc").status_code == 404


def test_unknown_channel_is_a_plain_404(client: FlaskClient) -> None:
    response = client.get("/channels/telegram")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("name", CHANNELS)
def test_each_offered_channel_says_how_and_who_sees_what(offering_app: Flask, name: str) -> None:
    status, html, _ = page(offering_app, f"/channels/{name}")
    assert status == 200
    assert WHO_SEES[name] in html
    assert "delete the conversation" in html  # the receipt travels in the answer
    assert "STOP (DAYAN, DUR, СТОП)" in html
    assert "only until your case is closed" in html
    assert "onion site in Tor Browser" in html
    assert 'id="not-offered"' not in html
    shown = {
        "sms": PUBLIC["sms_number"],
        "email": PUBLIC["email"],
        "messenger": PUBLIC["messenger_url"],
        "x": "@" + PUBLIC["x_handle"],
    }[name]
    assert f'<p class="codename" lang="en">{shown}</p>' in html
    # Never a link off the onion site: she copies it into her own app.
    assert not re.search(r'href="(?!/|#)', html)


def test_shared_phone_warning_on_the_sms_page(offering_app: Flask) -> None:
    _, html, _ = page(offering_app, "/channels/sms")
    assert "If others use your phone" in html


def test_email_page_shows_the_openpgp_fingerprint_and_key(
    offering_app: Flask, key: tuple[str, str]
) -> None:
    armoured, fingerprint = key
    _, html, _ = page(offering_app, "/channels/email")
    assert grouped(fingerprint) in html and len(grouped(fingerprint)) == 49
    assert 'href="/pgp-key.asc"' in html
    client = offering_app.test_client()
    response = client.get("/pgp-key.asc")
    assert response.status_code == 200
    assert response.mimetype == "application/pgp-keys"
    served = response.get_data(as_text=True)
    assert "BEGIN PGP PUBLIC KEY BLOCK" in served and "PRIVATE" not in served
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_email_page_without_a_key_says_so(keyless_app: Flask) -> None:
    _, html, _ = page(keyless_app, "/channels/email")
    assert "cannot be encrypted" in html
    assert "/pgp-key.asc" not in html
    assert keyless_app.test_client().get("/pgp-key.asc").status_code == 404


def test_broken_public_settings_show_not_offered_not_a_500(
    instance: Instance, caplog: pytest.LogCaptureFixture
) -> None:
    from source_interface import create_app

    config = offering_config(instance.config, {**PUBLIC, "sms_number": "call +994501234567"})
    app = create_app(config, TESTING=True)
    try:
        status, html, _ = page(app, "/channels/sms")
    finally:
        app.extensions["sesim"].service.close()
    assert status == 200 and 'id="not-offered"' in html
    assert "ConfigError" in caplog.text and "994501234567" not in caplog.text


@pytest.mark.parametrize("lang", ["az", "ru"])
def test_pages_are_translated(offering_app: Flask, lang: str) -> None:
    for path in ("/channels/", *(f"/channels/{n}" for n in CHANNELS)):
        _, html, _ = page(offering_app, path, lang)
        assert f'<html lang="{lang}">' in html
        for english in (
            "Who sees what",
            "What we keep",
            "Other ways to write to us",
            "not anonymous",
            "delete the conversation",
        ):
            assert english not in html, (path, english)


@pytest.mark.timeout(300)
def test_offered_pages_are_small_strict_and_valid_html(offering_app: Flask, tmp_path: Path) -> None:
    """The pages with every channel offered (the every-page and vnu tests see them not
    offered): within the byte budget, the same headers, valid HTML, in every language."""
    files = []
    for lang in ("az", "ru", "en"):
        client = offering_app.test_client()
        client.get(f"/lang/{lang}")
        for path in ("/", "/channels/", *(f"/channels/{n}" for n in CHANNELS)):
            response = client.get(path)
            html = response.get_data(as_text=True)
            try:
                check_page(client, html, dict(response.headers))
            except AssertionError as exc:
                raise AssertionError(f"{lang} {path}: {exc}") from exc
            name = f"{lang}-{path.strip('/').replace('/', '-') or 'start'}.html"
            (tmp_path / name).write_text(html, "utf-8")
            files.append(tmp_path / name)
    errors = validate(files)
    assert errors == [], "\n".join(errors)
