"""Every page a source can reach: headers, no script, nothing from another host, small."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SourceBrowser

MAX_PAGE_BYTES = 20 * 1024
EXTERNAL = re.compile(r'(?:src|href|action)\s*=\s*"(?!/|#)([^"]*)"', re.I)


def _css_size(client: FlaskClient, html: str) -> int:
    total = 0
    for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', html):
        total += len(client.get(href).data)
    return total


def _check(client: FlaskClient, response_html: str, headers: dict[str, str]) -> None:
    csp = headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'")
    assert "script-src" not in csp
    assert "style-src 'self'" in csp
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert "<script" not in response_html.lower()
    assert "style=" not in response_html  # inline styles would need 'unsafe-inline'
    outbound = EXTERNAL.findall(response_html)
    assert outbound == [], f"links or resources off this host: {outbound}"
    # Quick exit goes through our server (which ends her session), never straight off-site.
    assert '<a class="exit" href="/exit">' in response_html
    assert "<form" not in response_html or all(
        'autocomplete="off"' in tag for tag in re.findall(r"<form[^>]*>", response_html)
    )
    size = len(response_html.encode()) + _css_size(client, response_html)
    assert size < MAX_PAGE_BYTES, f"{size} bytes of HTML and CSS"


def _pages(source: SourceBrowser) -> dict[str, tuple[str, dict[str, str]]]:
    client = source.client
    pages = {}

    def grab(name: str, response) -> None:  # type: ignore[no-untyped-def]
        pages[name] = (response.get_data(as_text=True), dict(response.headers))

    grab("start", client.get("/"))
    grab("channels", client.get("/channels/"))
    for channel in ("sms", "email", "messenger", "x"):
        grab(f"channel-{channel}", client.get(f"/channels/{channel}"))
    grab("report", client.get("/report"))
    grab("report-errors", client.post("/report", data={"csrf_token": source.token()}))
    grab("login", client.get("/login"))
    grab("login-error", source.login("nothing like a codename at all here"))
    grab("not-found", client.get("/no-such-page"))
    grab("method", client.get("/logout"))
    source.report_and_get_codename("A report for the page test.")
    grab("codename-check", client.get("/codename/check"))
    grab("case", client.get("/case"))
    grab("withdraw", client.get("/case/withdraw"))
    grab("logged-out", source.logout())
    return pages


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_every_page_is_small_strict_and_self_contained(
    app: Flask, source: SourceBrowser, lang: str
) -> None:
    source.client.get(f"/lang/{lang}")
    pages = _pages(source)
    assert len(pages) >= 16
    for name, (html, headers) in pages.items():
        try:
            _check(source.client, html, headers)
        except AssertionError as exc:
            raise AssertionError(f"page {name!r}: {exc}") from exc


def test_stylesheet_has_the_same_headers(client: FlaskClient) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "url(" not in response.get_data(as_text=True)  # no fonts or images to fetch


def test_language_is_remembered_in_the_session_not_a_lasting_cookie(
    client: FlaskClient,
) -> None:
    response = client.get("/lang/ru?next=/report")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/report")
    cookie = response.headers["Set-Cookie"]
    assert "Expires" not in cookie and "Max-Age" not in cookie
    assert 'lang="ru"' in client.get("/report").get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil"])
def test_language_switch_never_redirects_off_site(client: FlaskClient, target: str) -> None:
    response = client.get("/lang/en", query_string={"next": target})
    assert response.headers["Location"] in ("/", "http://localhost/")


def test_default_language_is_azerbaijani(client: FlaskClient) -> None:
    assert '<html lang="az">' in client.get("/").get_data(as_text=True)
