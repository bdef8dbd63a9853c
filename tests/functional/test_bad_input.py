"""Bad input: a clear, translated error, nothing stored half-way, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securedrop_like import models, security
from securedrop_like.sessions import SessionsFull
from tests.conftest import SourceBrowser

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _sources(app: Flask) -> int:
    return models.count_sources(app.extensions["sesim"].service.db.reader())


def _store_files(app: Flask) -> list[str]:
    """Ids of the uploads in the database that no item has claimed."""
    return sorted(app.extensions["sesim"].service.unclaimed_uploads())


def test_empty_report_is_refused_politely_in_azerbaijani(app: Flask, source: SourceBrowser) -> None:
    response = source.client.post("/report", data={"csrf_token": source.token()})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'lang="az"' in html and 'class="err"' in html
    assert "Please tell us what happened" not in html  # translated, not the English source
    assert _sources(app) == 0


def test_wrong_csrf_keeps_what_she_typed(
    app: Flask, source: SourceBrowser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Her own form, expired (its token made for her cookie, too long ago)."""
    source.client.get("/lang/en")
    token = source.token()
    later = security.time.time() + 3 * security.CSRF_WINDOW_SECONDS
    monkeypatch.setattr(security.time, "time", lambda: later)
    response = source.client.post(
        "/report",
        data={"csrf_token": token, "what_happened": "Keep every word of this."},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Keep every word of this." in html
    assert "expired" in html
    assert _sources(app) == 0


def test_a_forged_csrf_token_gets_an_empty_form(app: Flask, source: SourceBrowser) -> None:
    """A token made for no cookie of this browser: perhaps someone resending her
    form from her history, with a session of their own (review H1)."""
    source.client.get("/lang/en")
    response = source.client.post(
        "/report",
        data={"csrf_token": "forged", "what_happened": "Keep every word of this."},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Keep every word of this." not in html
    assert "expired" in html
    assert _sources(app) == 0


def test_nul_bytes_and_control_characters_are_dropped_not_fatal(
    app: Flask, source: SourceBrowser
) -> None:
    response = source.report("before\x00after\x07 end")
    assert response.status_code == 200  # the codename page itself
    assert _sources(app) == 1


def test_invalid_utf8_is_not_a_server_error(app: Flask, source: SourceBrowser) -> None:
    token = source.token()
    boundary = "XyZ"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="what_happened"\r\n\r\n'
        ).encode()
        + b"ok \xff\xfe\xc3 bytes\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    response = source.client.post(
        "/report", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code in (200, 400)


def test_truncated_multipart_stores_nothing(app: Flask, source: SourceBrowser) -> None:
    token = source.token()
    boundary = "BoUnDaRy"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="what_happened"\r\n\r\nhello\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + b"x" * 200_000  # no closing boundary: the connection dropped
    response = source.client.post(
        "/report", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400
    assert _sources(app) == 0
    assert _store_files(app) == []


def test_huge_codename_is_refused_quickly(source: SourceBrowser) -> None:
    token = source.token("/login")
    response = source.client.post(
        "/login", data={"csrf_token": token, "codename": "a" * (10 * 1024 * 1024)}
    )
    assert response.status_code in (400, 413)
    assert "<h1>" in response.get_data(as_text=True)


def test_oversized_text_comes_back_with_a_message(app: Flask, source: SourceBrowser) -> None:
    limit = app.config["SESIM"].max_text_chars
    response = source.report("y" * (limit + 1))
    assert response.status_code == 400
    assert _sources(app) == 0


@pytest.fixture
def small_files_app(instance, tmp_path: Path):  # type: ignore[no-untyped-def]
    from source_interface import create_app

    config = instance.config.with_changes(max_file_bytes=1000)
    application = create_app(config, TESTING=True)
    yield application
    application.extensions["sesim"].service.close()


def test_too_large_file_is_refused_and_the_rest_is_kept(small_files_app: Flask) -> None:
    source = SourceBrowser(small_files_app.test_client())
    source.client.get("/lang/en")
    response = source.report(
        "My text stays.", files=[(b"z" * 5000, "big.jpg"), (b"small", "small.txt")]
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "big.jpg" in html and "My text stays." in html
    assert "small.txt" in html  # kept for her: no need to attach it again
    kept = _store_files(small_files_app)
    assert len(kept) == 1
    again = source.report("My text stays.")
    assert _store_files(small_files_app) == []  # claimed
    assert again.status_code == 200
    service = small_files_app.extensions["sesim"].service
    source_id = small_files_app.extensions["sesim"].sessions.live_data()[0]["source_id"]
    kinds = [(i.kind, i.id) for i in service.items(source_id)]
    assert ("file", kept[0]) in kinds


def test_files_kept_for_a_session_are_deleted_when_it_ends(small_files_app: Flask) -> None:
    source = SourceBrowser(small_files_app.test_client())
    source.report("", files=[(b"small", "small.txt")])
    assert len(_store_files(small_files_app)) == 1
    sessions = small_files_app.extensions["sesim"].sessions
    sessions.capacity = 1
    with pytest.raises(SessionsFull):  # kept files protect her session from eviction…
        sessions.new_id()
    assert len(_store_files(small_files_app)) == 1
    sessions.idle = -1.0  # …until it expires
    assert sessions.sweep() == 1
    assert _store_files(small_files_app) == []


def test_request_over_the_total_limit_gets_a_translated_413(instance) -> None:  # type: ignore[no-untyped-def]
    from source_interface import create_app

    application = create_app(
        instance.config.with_changes(max_request_bytes=10_000, max_file_bytes=5_000), TESTING=True
    )
    try:
        source = SourceBrowser(application.test_client())
        response = source.report("text", files=[(b"q" * 20_000, "x.bin")])
        assert response.status_code == 413
        assert 'lang="az"' in response.get_data(as_text=True)
        assert _sources(application) == 0
    finally:
        application.extensions["sesim"].service.close()


text_values = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300
)
form_values = st.fixed_dictionaries(
    {
        "what_happened": text_values,
        "types": st.lists(st.sampled_from(["sextortion", "stalking", "nope", ""]), max_size=4),
        "when_day": st.one_of(st.integers(-5, 40).map(str), text_values),
        "when_month": st.one_of(st.integers(-5, 20).map(str), text_values),
        "when_year": st.one_of(st.integers(1000, 3000).map(str), text_values),
        "part_of_day": text_values,
        "district": st.sampled_from(["nasimi", "online", "", "mars"]),
        "landmark": text_values,
        "perpetrator": st.sampled_from(["police", "", "alien"]),
        "service": st.sampled_from(["health", "", "spa"]),
        "role": st.sampled_from(["self", "witness", "", "?"]),
        "wants": st.lists(st.sampled_from(["legal_help", "x"]), max_size=3),
        "consent": st.sampled_from(["yes", "no", "ask_first", "", "maybe"]),
    }
)


@FUZZ
@given(values=form_values)
def test_any_report_form_gets_a_page_not_a_crash(
    app: Flask, client: FlaskClient, values: dict[str, object]
) -> None:
    source = SourceBrowser(client)
    before = _sources(app)
    response = client.post("/report", data={"csrf_token": source.token(), **values})
    assert response.status_code in (200, 400)
    after = _sources(app)
    assert after == before + (1 if response.status_code == 200 else 0)
    if response.status_code == 400:
        assert 'class="err"' in response.get_data(as_text=True)


@FUZZ
@given(codename=text_values)
def test_any_codename_gets_a_page_not_a_crash(client: FlaskClient, codename: str) -> None:
    source = SourceBrowser(client)
    response = source.login(codename)
    assert response.status_code == 400


@FUZZ
@given(message=text_values)
def test_any_message_gets_a_page_not_a_crash(source: SourceBrowser, message: str) -> None:
    if not source.codename:
        source.report_and_get_codename()
    response = source.send_message(message)
    assert response.status_code in (303, 400)
