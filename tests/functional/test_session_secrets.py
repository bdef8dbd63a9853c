"""What her session keeps, and for how long (issue 8, items 1, 5 and 8).

Her codename is the answer to her report itself (no redirect a restart could
lose), is kept sealed only until she has confirmed she has it, and neither it
nor her private key is ever in the server's session store in the clear. Forms
work without a session, and a form's token works only where it was given. On
the https clearnet mirror the cookie is ``__Host-`` and Secure, with HSTS.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from flask import Flask

from crypto import OnionServiceKey
from securedrop_like.security import FORM_COOKIE_NAME, SECURE_FORM_COOKIE_NAME
from securedrop_like.sessions import COOKIE_NAME, SECURE_COOKIE_NAME
from source_interface import create_app
from tests.conftest import CODENAME_RE, Instance, SourceBrowser, csrf_of


def _store_text(app: Flask) -> str:
    return repr(app.extensions["sesim"].sessions.live_data())


def test_the_codename_page_is_the_answer_to_her_report(app: Flask, source: SourceBrowser) -> None:
    source.client.get("/lang/en")
    response = source.report("What happened to me.")
    assert response.status_code == 200 and "Location" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    match = CODENAME_RE.search(page)
    assert match
    # Its language links come back to the codename, not to a fresh report form.
    assert "/lang/ru?next=/codename" in page
    source.client.get("/lang/ru?next=/codename")
    again = source.client.get("/codename")
    assert again.status_code == 200 and match.group(1) in again.get_data(as_text=True)


def test_neither_her_key_nor_her_codename_is_kept_in_the_clear(
    app: Flask, source: SourceBrowser
) -> None:
    codename = source.report_and_get_codename()
    deriver = app.extensions["sesim"].deriver
    key = deriver.derive(deriver.normalise(codename)).private_key.unsafe_raw()
    kept = _store_text(app)
    for secret in (
        codename,
        codename.replace(" ", ""),
        key.hex(),
        base64.b64encode(key).decode().rstrip("="),
        base64.urlsafe_b64encode(key).decode().rstrip("="),
        repr(key)[2:-1],
    ):
        assert secret not in kept


def test_the_codename_is_kept_until_she_has_typed_it_back_correctly(
    app: Flask, source: SourceBrowser
) -> None:
    """Issue 11, item 4: opening the check, a wrong try and her case page keep it (she
    can be shown it again); only a check that matches drops it from the server."""
    codename = source.report_and_get_codename()
    assert "fresh_codename" in _store_text(app)  # sealed, for the language switch
    token = source.token("/codename/check")
    assert "fresh_codename" in _store_text(app)  # opening the check keeps it
    wrong = source.client.post(
        "/codename/check", data={"csrf_token": token, "codename": "wrong " * 7}
    )
    assert wrong.status_code == 400 and 'href="/codename"' in wrong.get_data(as_text=True)
    source.case()
    assert "fresh_codename" in _store_text(app)  # nor does her case page end it
    again = source.client.get("/codename")
    assert again.status_code == 200 and codename in again.get_data(as_text=True)
    right = source.client.post(
        "/codename/check", data={"csrf_token": token, "codename": codename.upper()}
    )
    assert right.status_code == 200 and 'class="ok"' in right.get_data(as_text=True)
    assert 'href="/codename"' not in right.get_data(as_text=True)
    assert "fresh_codename" not in _store_text(app)
    assert source.client.get("/codename").status_code == 303  # never shown again


def test_the_codename_ends_with_her_session(app: Flask, source: SourceBrowser) -> None:
    source.report_and_get_codename()
    source.logout()
    assert "fresh_codename" not in _store_text(app)


# -- CSRF without a session -----------------------------------------------------------------


def test_forms_make_no_session_and_still_work(app: Flask, source: SourceBrowser) -> None:
    for page in ("/", "/report", "/login"):
        # At most the form cookie (see test_report_replay.py), which is no session.
        for cookie in source.client.get(page).headers.getlist("Set-Cookie"):
            assert cookie.startswith(f"{FORM_COOKIE_NAME}=")
    assert len(app.extensions["sesim"].sessions) == 0
    assert source.report("Sent from a form with no session behind it.").status_code == 200


def test_a_token_works_only_in_the_session_it_was_given_to(app: Flask) -> None:
    her = SourceBrowser(app.test_client())
    her.report_and_get_codename()
    other = SourceBrowser(app.test_client())
    other.report_and_get_codename()
    anonymous = csrf_of(app.test_client().get("/login").get_data(as_text=True))
    for token in (other.token("/case"), anonymous, ""):
        response = her.client.post("/case/message", data={"csrf_token": token, "message": "x"})
        assert response.status_code == 400  # kept form with "expired", nothing sent
    # Nor a session's token without the session (its cookie).
    cookieless = app.test_client()
    response = cookieless.post("/logout", data={"csrf_token": her.token("/case")})
    assert response.status_code == 400
    assert her.send_message("with her own token").status_code == 303


def test_a_post_the_browser_says_came_from_another_site_is_refused(
    source: SourceBrowser,
) -> None:
    codename = source.report_and_get_codename()
    source.logout()

    def log_in(site: str) -> int:
        data = {"csrf_token": source.token("/login"), "codename": codename}
        headers = {"Sec-Fetch-Site": site}
        return int(source.client.post("/login", data=data, headers=headers).status_code)

    assert log_in("cross-site") == 400
    assert log_in("same-site") == 400
    assert log_in("same-origin") == 303


# -- the clearnet mirror (item 8) ------------------------------------------------------------

ONION = OnionServiceKey.generate().address
MIRROR = "sesim.example.org"


@pytest.fixture
def mirrored_app(instance: Instance) -> Iterator[Flask]:
    config = instance.config.with_changes(onion_address=ONION, clearnet_url=f"https://{MIRROR}")
    application = create_app(config, TESTING=True)
    yield application
    application.extensions["sesim"].service.close()


def test_through_the_mirror_the_cookie_is_host_prefixed_secure_and_hsts_is_sent(
    mirrored_app: Flask,
) -> None:
    client = mirrored_app.test_client()
    page = client.get("/report", headers={"Host": MIRROR})
    assert page.headers["Strict-Transport-Security"] == "max-age=63072000"
    form_cookie = page.headers["Set-Cookie"]  # as host-bound as the session's
    assert form_cookie.startswith(f"{SECURE_FORM_COOKIE_NAME}=")
    assert "; Secure" in form_cookie and "Path=/" in form_cookie and "Domain" not in form_cookie
    assert "HttpOnly" in form_cookie and "SameSite=Strict" in form_cookie
    response = client.get("/lang/ru?next=/report", headers={"Host": MIRROR})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SECURE_COOKIE_NAME}=")
    assert "; Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert 'lang="ru"' in client.get("/report", headers={"Host": MIRROR}).get_data(as_text=True)


@pytest.mark.parametrize("host", [ONION, "localhost"])
def test_over_the_onion_or_locally_the_plain_cookie_and_no_hsts(
    mirrored_app: Flask, app: Flask, host: str
) -> None:
    application = mirrored_app if host == ONION else app
    client = application.test_client()
    form_cookie = client.get("/report", headers={"Host": host}).headers["Set-Cookie"]
    assert form_cookie.startswith(f"{FORM_COOKIE_NAME}=") and "Secure" not in form_cookie
    response = client.get("/lang/ru?next=/report", headers={"Host": host})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and "Secure" not in cookie
    assert "Strict-Transport-Security" not in response.headers
    assert "Strict-Transport-Security" not in client.get("/", headers={"Host": host}).headers
