"""Her report POST, resent from her browser's history, does nothing (review H1).

The codename page is the answer to ``POST /report`` (issue 8 item 5), so that
POST stays in her history. After Quick exit, whoever holds her phone can press
Back and "Resend". That must create no second case, store nothing, show
nothing she typed and make no session: a cookieless visitor's CSRF token is
bound to a form cookie that her report and Quick exit both end, and a failed
token with no browser of hers behind it gets an empty form.

Every replay here sends the exact bytes of the POST she sent.
"""

from __future__ import annotations

import time
from http.cookies import SimpleCookie
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from werkzeug.test import encode_multipart

from journalist_interface import create_app as create_staff_app
from securedrop_like import security
from securedrop_like.sessions import COOKIE_NAME
from source_interface import create_app, views
from tests.conftest import CODENAME_RE, Instance, csrf_of

TEXT = "The head of the district office demanded sex for my permit."
PLACE = "Second floor, room 214, behind the archive"
FILE_NAME = "permit-office-voice-note.ogg"


class Sent:
    """One POST /report exactly as her browser sent it: body and type."""

    def __init__(self, client: FlaskClient, lang: str | None = None) -> None:
        if lang:
            client.get(f"/lang/{lang}")
        token = csrf_of(client.get("/report").get_data(as_text=True))
        self.boundary, self.body = encode_multipart(
            {
                "csrf_token": token,
                "what_happened": TEXT,
                "place_detail": PLACE,
                "files": (FILE_NAME, b"OggS" + b"her voice" * 500),
            }
        )

    def post(self, client: FlaskClient) -> Any:
        return client.post(
            "/report",
            data=self.body,
            content_type=f"multipart/form-data; boundary={self.boundary}",
        )


def _jar(client: FlaskClient) -> dict[str, str]:
    return {c.key: c.value for c in client._cookies.values()}  # noqa: SLF001


def _client(app: Flask, cookies: dict[str, str]) -> FlaskClient:
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def _counts(app: Flask) -> tuple[int, int, int]:
    service = app.extensions["sesim"].service
    reader = service.db.reader()
    sources = reader.execute("SELECT count(*) FROM sources").fetchone()[0]
    items = reader.execute("SELECT count(*) FROM items").fetchone()[0]
    return sources, items, len(service.unclaimed_uploads())


def _message(app: Flask, which: Any) -> str:
    """A message as the page shows it (in the instance's default language)."""
    with app.test_request_context("/report"):
        return str(escape(which()))


def _empty(app: Flask) -> str:
    return _message(app, views._expired_empty_message)  # noqa: SLF001


def _sessions(app: Flask) -> int:
    return len(app.extensions["sesim"].sessions)


def _set_cookies(response: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for header in response.headers.getlist("Set-Cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        out.update({name: morsel.value for name, morsel in parsed.items()})
    return out


def _assert_nothing_of_hers(app: Flask, response: Any, before: tuple[int, int, int]) -> None:
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _counts(app) == before, "a replay stored a case, an item or a file"
    assert CODENAME_RE.search(page) is None, "a replay was given a codename"
    for hers in (TEXT, PLACE, FILE_NAME, "her voice"):
        assert hers not in page
    assert _empty(app) in page
    assert COOKIE_NAME not in _set_cookies(response), "a replay was given a session"
    assert _sessions(app) == 0


@pytest.mark.parametrize("lang", [None, "en"], ids=["fresh visitor", "chose a language"])
def test_her_report_resent_after_quick_exit_makes_nothing(app: Flask, lang: str | None) -> None:
    phone = app.test_client()
    sent = Sent(phone, lang)
    first = sent.post(phone)
    assert first.status_code == 200 and CODENAME_RE.search(first.get_data(as_text=True))
    stale = _jar(phone)  # what her browser held on the codename page
    phone.get("/exit")
    assert _sessions(app) == 0
    before = _counts(app)

    # Clear-Site-Data honoured: Back + "Resend" sends no cookie at all.
    _assert_nothing_of_hers(app, sent.post(app.test_client()), before)
    # Not honoured: the cookies her browser held on the codename page. (Those it
    # sent with the report were replaced or expired by its answer: HttpOnly, they
    # are nowhere else on the phone.)
    _assert_nothing_of_hers(app, sent.post(_client(app, stale)), before)
    assert security.FORM_COOKIE_NAME not in stale, "her report did not end the form cookie"
    # What Quick exit left in the jar (it expires both cookies).
    _assert_nothing_of_hers(app, sent.post(phone), before)
    # A session of the phone holder's own (a language choice) proves nothing.
    phone.get("/lang/ru")
    assert _sessions(app) == 1
    replay = sent.post(phone)
    page = replay.get_data(as_text=True)
    assert replay.status_code == 400 and _counts(app) == before
    assert CODENAME_RE.search(page) is None
    for hers in (TEXT, PLACE, FILE_NAME):
        assert hers not in page
    assert _sessions(app) == 1


def test_her_own_back_and_resend_after_her_report_makes_no_second_case(app: Flask) -> None:
    phone = app.test_client()
    sent = Sent(phone)
    first = sent.post(phone)
    codename = CODENAME_RE.search(first.get_data(as_text=True))
    assert codename
    assert _set_cookies(first).get(security.FORM_COOKIE_NAME) == ""  # expired
    before = _counts(app)
    again = sent.post(phone)  # her own browser, her live session
    page = again.get_data(as_text=True)
    assert again.status_code == 400
    assert _counts(app) == before
    assert CODENAME_RE.search(page) is None
    # Its token was for the form cookie her report ended: a live session is no
    # proof that this form was hers, so it comes back empty.
    assert TEXT not in page and _empty(app) in page
    # Still logged in to the one case she made.
    assert phone.get("/codename").get_data(as_text=True).count(codename.group(1)) >= 1


def test_a_form_page_sets_a_form_cookie_that_is_no_session(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/report")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("sesim_form="))
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    assert "Expires" not in header and "Max-Age" not in header  # dies with the browser
    assert COOKIE_NAME not in _set_cookies(response)
    value = _set_cookies(response)["sesim_form"]
    assert len(value) == 43
    # Set once: the next page keeps it.
    assert "Set-Cookie" not in client.get("/login").headers
    assert _sessions(app) == 0
    assert _set_cookies(app.test_client().get("/report"))["sesim_form"] != value


def test_a_cookieless_token_needs_its_own_form_cookie(app: Flask) -> None:
    her = app.test_client()
    token = csrf_of(her.get("/report").get_data(as_text=True))
    data = {"csrf_token": token, "what_happened": TEXT}
    other = app.test_client()
    other.get("/report")  # a form cookie of its own
    for client in (app.test_client(), other):
        response = client.post("/report", data=data)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert TEXT not in page and _empty(app) in page
    assert _counts(app)[0] == 0
    assert her.post("/report", data=data).status_code == 200  # with its cookie it works


def test_her_own_form_left_open_too_long_keeps_her_text(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    her = app.test_client()
    token = csrf_of(her.get("/report").get_data(as_text=True))
    later = time.time() + 3 * security.CSRF_WINDOW_SECONDS
    monkeypatch.setattr(security.time, "time", lambda: later)
    response = her.post("/report", data={"csrf_token": token, "what_happened": TEXT})
    page = response.get_data(as_text=True)
    kept = _message(app, views._expired_message)  # noqa: SLF001
    assert response.status_code == 400 and TEXT in page and kept in page
    # The same stale token from anywhere else: an empty form.
    response = app.test_client().post("/report", data={"csrf_token": token, "what_happened": TEXT})
    page = response.get_data(as_text=True)
    assert TEXT not in page and _empty(app) in page and kept not in page
    assert _counts(app)[0] == 0


def test_her_form_with_a_session_left_open_too_long_keeps_her_text(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    her = app.test_client()
    her.get("/lang/en")  # a session: the token is bound to its cookie
    token = csrf_of(her.get("/report").get_data(as_text=True))
    later = time.time() + 3 * security.CSRF_WINDOW_SECONDS
    monkeypatch.setattr(security.time, "time", lambda: later)
    response = her.post("/report", data={"csrf_token": token, "what_happened": TEXT})
    assert response.status_code == 400 and TEXT in response.get_data(as_text=True)
    # Another browser with a session of its own: nothing of hers.
    other = app.test_client()
    other.get("/lang/en")
    response = other.post("/report", data={"csrf_token": token, "what_happened": TEXT})
    assert response.status_code == 400 and TEXT not in response.get_data(as_text=True)
    assert _counts(app)[0] == 0


def test_quick_exit_expires_the_form_cookie(app: Flask) -> None:
    client = app.test_client()
    client.get("/report")
    response = client.get("/exit")
    assert _set_cookies(response).get(security.FORM_COOKIE_NAME) == ""
    assert security.FORM_COOKIE_NAME not in _jar(client)


# -- crafted cookies and tokens (review L1) ---------------------------------------------------

ODD = ["x.y.\u00e9", "x.y.\u00c3\u00a9", "\u00e9", "a" * 5000, "x." * 2000, "\udcff"]


@pytest.fixture
def apps(instance: Instance) -> Any:
    source = create_app(instance.config, TESTING=False)
    staff = create_staff_app(instance.config, TESTING=False)
    yield {"source": source, "staff": staff}
    source.extensions["sesim"].service.close()
    staff.extensions["sesim_staff"].reports.close()


@pytest.mark.parametrize("part", ["source", "staff"])
@pytest.mark.parametrize("value", ODD, ids=range(len(ODD)))
def test_a_crafted_cookie_or_token_is_never_a_500(apps: Any, part: str, value: str) -> None:
    app = apps[part]
    client = app.test_client(use_cookies=False)
    for name in (COOKIE_NAME, "__Host-sesim_session", "sesim_form", "__Host-sesim_form"):
        cookie = f"{name}={value}".encode("utf-8", "surrogateescape").decode("latin-1")
        for path in ("/", "/login"):
            response = client.get(path, environ_overrides={"HTTP_COOKIE": cookie})
            assert response.status_code in (200, 303), (name, path)
            assert response.headers["Cache-Control"] == "no-store"
        response = client.post(
            "/login",
            data={"csrf_token": value.encode("utf-8", "surrogateescape"), "codename": "x"},
            environ_overrides={"HTTP_COOKIE": cookie},
        )
        assert response.status_code == 400, (name, response.status_code)
