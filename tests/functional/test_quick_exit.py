"""Quick exit goes through the server: her session ends there, then the neutral site."""

from __future__ import annotations

from flask import Flask

from securedrop_like.sessions import COOKIE_NAME
from tests.conftest import Instance, SourceBrowser


def _kept_files(app: Flask) -> set[str]:
    """Uploads in the database that no submission has claimed: the files kept for her."""
    return app.extensions["sesim"].service.unclaimed_uploads()  # type: ignore[no-any-return]


def test_quick_exit_ends_her_session_and_wipes_what_it_kept(
    app: Flask, instance: Instance, source: SourceBrowser
) -> None:
    store = app.extensions["sesim"].sessions
    source.report_and_get_codename("A report she will leave in a hurry.")
    # A failed message keeps her file for her session (encrypted).
    failed = source.send_message("x" * (instance.config.max_text_chars + 1), [(b"y" * 3000, "a")])
    assert failed.status_code == 400
    kept = _kept_files(app)
    assert kept, "the failed form kept her file"
    service = app.extensions["sesim"].service
    items = service.db.reader().execute("SELECT count(*) FROM items").fetchone()[0]
    assert items == 1  # her report
    before = len(store)

    response = source.client.get("/exit")

    assert response.status_code == 303
    assert response.headers["Location"] == instance.config.quick_exit_url
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert response.headers["Cache-Control"] == "no-store"
    cookies = response.headers.getlist("Set-Cookie")
    cookie = next(c for c in cookies if c.startswith(f"{COOKIE_NAME}="))
    assert cookie.startswith(f"{COOKIE_NAME}=;") and "Expires=Thu, 01 Jan 1970" in cookie
    assert len(store) == before - 1
    assert not any(d.get("source_id") for d in store.live_data())
    # The files her session kept are wiped; her sent report and file stay stored.
    assert _kept_files(app) == set()
    assert service.db.reader().execute("SELECT count(*) FROM items").fetchone()[0] == items
    # A stale page asks for the codename again.
    case = source.client.get("/case")
    assert case.status_code == 303 and case.headers["Location"].endswith("/login")


def test_quick_exit_without_a_session_creates_none(app: Flask, source: SourceBrowser) -> None:
    store = app.extensions["sesim"].sessions
    before = len(store)
    response = source.client.get("/exit")
    assert response.status_code == 303
    assert len(store) == before
    assert source.client.post("/exit").status_code in (400, 405)  # GET only
