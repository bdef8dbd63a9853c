"""Secure by default: safe redirects, CSRF on every POST, strict headers on every response."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from werkzeug.exceptions import NotFound

from securedrop_like.security import (
    BASE_CSP,
    FORM_COOKIE_NAME,
    CSRFError,
    csrf_exempt,
    csrf_failed,
    csrf_replay_suspected,
    csrf_soft,
    end_form_cookie,
    init_security,
    require,
    safe_next,
)
from securedrop_like.sessions import MemorySessionInterface, MemorySessionStore
from source_interface import create_app
from tests.conftest import Instance

TOKEN_RE = re.compile(r"token=(\S+)")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "///evil.example",
        "http://x",
        "https://evil.example/report",
        "javascript:alert(1)",
        "\\\\evil",
        "/\\evil",
        "/ok\r\n",
        "/ok\r\nSet-Cookie: a=b",
        "/ok\x00",
        "/tab\there",
        "report",
        "",
        None,
        "/" + "a" * 600,
    ],
)
def test_safe_next_refuses_anything_but_a_short_local_path(target: str | None) -> None:
    assert safe_next(target) == "/"
    assert safe_next(target, default="/case") == "/case"


@pytest.mark.parametrize("target", ["/report", "/", "/case?lang=az", "/lang/ru", "/a" * 200])
def test_safe_next_keeps_a_local_path(target: str) -> None:
    assert safe_next(target) == target


def test_require_aborts_with_the_given_status() -> None:
    require(True)
    with pytest.raises(NotFound):
        require(False)


# -- a tiny app with nothing but init_security ---------------------------------------------


@pytest.fixture
def tiny_app() -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test only"
    init_security(app)

    @app.errorhandler(CSRFError)
    def expired(_: CSRFError) -> tuple[str, int]:
        return "expired", 400

    @app.get("/form")
    def form() -> str:
        return render_template_string("token={{ csrf_token() }}")

    @app.post("/strict")
    def strict() -> str:
        return "done"

    @app.post("/soft")
    @csrf_soft
    def soft() -> str:
        return "failed" if csrf_failed() else "done"

    @app.post("/exempt")
    @csrf_exempt
    def exempt() -> str:
        return "done"

    return app


@pytest.fixture
def tiny(tiny_app: Flask) -> FlaskClient:
    return tiny_app.test_client()


def token_of(client: FlaskClient) -> str:
    match = TOKEN_RE.search(client.get("/form").get_data(as_text=True))
    assert match
    return match.group(1)


def test_a_strict_post_needs_the_sessions_token(tiny: FlaskClient) -> None:
    token = token_of(tiny)
    assert tiny.post("/strict").status_code == 400
    assert tiny.post("/strict", data={"csrf_token": token + "x"}).status_code == 400
    response = tiny.post("/strict", data={"csrf_token": token})
    assert (response.status_code, response.get_data(as_text=True)) == (200, "done")


def test_a_token_from_another_session_is_refused(tiny_app: Flask, tiny: FlaskClient) -> None:
    other = tiny_app.test_client()
    assert tiny.post("/strict", data={"csrf_token": token_of(other)}).status_code == 400


def test_a_post_without_any_session_is_refused_even_with_an_empty_token(
    tiny: FlaskClient,
) -> None:
    assert tiny.post("/strict", data={"csrf_token": ""}).status_code == 400


def test_the_token_is_stable_within_a_session(tiny: FlaskClient) -> None:
    assert token_of(tiny) == token_of(tiny)


def test_a_soft_view_is_told_the_token_failed_instead_of_erroring(tiny: FlaskClient) -> None:
    assert tiny.post("/soft").get_data(as_text=True) == "failed"
    token = token_of(tiny)
    assert tiny.post("/soft", data={"csrf_token": token}).get_data(as_text=True) == "done"


def test_an_exempt_view_takes_posts_without_a_token(tiny: FlaskClient) -> None:
    response = tiny.post("/exempt")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "done")


def assert_strict_headers(headers: Any) -> None:
    csp = headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in csp
    assert "script-src" not in csp and "unsafe" not in csp
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "ETag" not in headers and "Last-Modified" not in headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/form"), ("POST", "/strict"), ("POST", "/exempt"), ("GET", "/no-such-page")],
)
def test_every_response_carries_the_strict_headers(
    tiny: FlaskClient, method: str, path: str
) -> None:
    response = tiny.open(path, method=method)
    assert_strict_headers(response.headers)
    assert response.headers["Content-Security-Policy"] == BASE_CSP


def test_a_page_specific_csp_replaces_the_base_one() -> None:
    app = Flask(__name__)
    init_security(app, csp="default-src 'none'; img-src 'self'")
    app.add_url_rule("/", "index", lambda: "hi")
    response = app.test_client().get("/")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; img-src 'self'"


# -- the real source interface ---------------------------------------------------------------


@pytest.fixture
def production_client(instance: Instance) -> Iterator[FlaskClient]:
    """The source app as served (not TESTING): error handlers answer, nothing propagates."""
    app = create_app(instance.config)
    yield app.test_client()
    app.extensions["sesim"].service.close()


def test_the_source_interface_answers_a_forged_post_with_the_400_page(
    production_client: FlaskClient,
) -> None:
    response = production_client.post("/logout")
    assert response.status_code == 400
    assert response.mimetype == "text/html"


def test_the_error_page_for_a_forged_post_still_carries_the_strict_headers(
    production_client: FlaskClient,
) -> None:
    response = production_client.post("/logout")
    assert response.status_code >= 400
    assert_strict_headers(response.headers)


@pytest.mark.parametrize("path", ["/", "/report", "/login", "/static/style.css"])
def test_the_source_interface_sends_the_strict_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert_strict_headers(response.headers)


# -- the form cookie: a cookieless visitor's token is bound to it (review H1) --------------


@pytest.fixture
def cookieless_app() -> Flask:
    """The tiny app with our session interface: no session unless a view writes one."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test only"
    store = MemorySessionStore(1800, 14400, 10)
    app.session_interface = MemorySessionInterface(store, b"test only")
    app.extensions["store"] = store
    init_security(app)

    @app.get("/form")
    def form() -> str:
        return render_template_string("token={{ csrf_token() }}")

    @app.post("/soft")
    @csrf_soft
    def soft() -> str:
        if csrf_replay_suspected():
            return "replay"
        if csrf_failed():
            return "failed"
        end_form_cookie()
        return "done"

    return app


def _form_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(FORM_COOKIE_NAME)
    return cookie.value if cookie else None


def test_a_form_page_sets_a_form_cookie_and_makes_no_session(cookieless_app: Flask) -> None:
    client = cookieless_app.test_client()
    token = token_of(client)
    value = _form_cookie(client)
    assert value and len(value) == 43
    assert len(cookieless_app.extensions["store"]) == 0
    assert token_of(client) == token and _form_cookie(client) == value  # kept, not renewed
    other = cookieless_app.test_client()
    assert token_of(other) != token and _form_cookie(other) != value


def test_a_cookieless_token_works_only_with_its_form_cookie_and_only_once(
    cookieless_app: Flask,
) -> None:
    her = cookieless_app.test_client()
    token = token_of(her)
    other = cookieless_app.test_client()
    token_of(other)  # a form cookie of its own
    for client in (cookieless_app.test_client(), other):
        assert client.post("/soft", data={"csrf_token": token}).get_data(as_text=True) == "replay"
    assert her.post("/soft", data={"csrf_token": token}).get_data(as_text=True) == "done"
    assert _form_cookie(her) is None  # ended by the view
    assert her.post("/soft", data={"csrf_token": token}).get_data(as_text=True) == "replay"


def test_her_own_expired_form_is_a_failure_not_a_replay(
    cookieless_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    import securedrop_like.security as security

    her = cookieless_app.test_client()
    token = token_of(her)
    later = security.time.time() + 3 * security.CSRF_WINDOW_SECONDS
    monkeypatch.setattr(security.time, "time", lambda: later)
    assert her.post("/soft", data={"csrf_token": token}).get_data(as_text=True) == "failed"
    for sent in ("", "x" * 101, "é" * 43):
        answer = her.post("/soft", data={"csrf_token": sent}).get_data(as_text=True)
        assert answer == "replay"
