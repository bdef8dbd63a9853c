"""Acknowledged means stored: files kept for a failed form survive a worker starting,
a submission whose file is gone is refused (never acknowledged), and many kept files
never overflow her session."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from flask import Flask

from securedrop_like import models
from securedrop_like.sessions import COOKIE_NAME
from securedrop_like.shared_sessions import DATA_BYTES, ServerShared
from source_interface import uploads
from tests.conftest import Instance, SourceBrowser


def _sources(app: Flask) -> int:
    return models.count_sources(app.extensions["sesim"].service.db.reader())


def _fail_with_files(source: SourceBrowser, files: list[tuple[bytes, str]]) -> str:
    """A report form that fails its check (no "what happened"), with files."""
    source.client.get("/lang/en")
    response = source.report("", files=files, landmark="the clerk at window 4")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "the clerk at window 4" in html
    return html


def test_a_worker_starting_does_not_delete_files_kept_for_her(
    app: Flask, instance: Instance, source: SourceBrowser
) -> None:
    _fail_with_files(source, [(b"%PDF the complaint", "complaint.pdf")])
    [kept] = app.extensions["sesim"].service.unclaimed_uploads()
    from source_interface import create_app

    restarted = create_app(instance.config, TESTING=True)  # another worker (re)starts
    restarted.extensions["sesim"].service.close()
    response = source.report("Now with what happened.")
    assert response.status_code == 200  # the codename page
    source_id = app.extensions["sesim"].sessions.live_data()[0]["source_id"]
    files = [i for i in app.extensions["sesim"].service.items(source_id) if i.kind == "file"]
    assert [f.id for f in files] == [kept]


@pytest.mark.parametrize("where", ["report", "message"])
def test_a_submission_whose_kept_file_is_gone_is_refused_and_keeps_her_text(
    app: Flask, source: SourceBrowser, where: str
) -> None:
    service = app.extensions["sesim"].service
    files = [(b"first photo", "photo-1.jpg"), (b"second photo", "photo-2.jpg")]
    if where == "message":
        source.report_and_get_codename()
        source.client.get("/lang/en")
        # Keep two files by failing the form once (an expired token).
        response = source.client.post(
            "/case/message",
            data={
                "csrf_token": "expired",
                "message": "My words.",
                "files": [(io.BytesIO(body), name) for body, name in files],
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 400 and "My words." in response.get_data(as_text=True)
    else:
        _fail_with_files(source, files)
    kept = {p.name: p.item_id for p in _pending(app, source)}
    assert set(kept) == {"photo-1.jpg", "photo-2.jpg"}
    service.discard_uploads([kept["photo-2.jpg"]])  # lost on the server's side
    before = _sources(app)
    items_before = _all_items(app)
    if where == "report":
        response = source.report("What happened, typed again.")
        typed = "What happened, typed again."
    else:
        response = source.send_message("My words, typed again.")
        typed = "My words, typed again."
    assert response.status_code == 400  # never an acknowledgement
    html = response.get_data(as_text=True)
    assert typed in html
    assert "photo-2.jpg" in html and "Nothing was sent" in html
    assert _sources(app) == before and _all_items(app) == items_before
    # The file that is still there stays kept for her; the lost one is no longer listed.
    assert [p.name for p in _pending(app, source)] == ["photo-1.jpg"]
    again = (
        source.report("Third time.") if where == "report" else source.send_message("Third time.")
    )
    # A report answers with the codename page itself; a message with a 303 to her case.
    assert again.status_code == (200 if where == "report" else 303)
    assert service.unclaimed_uploads() == set()


def _pending(app: Flask, source: SourceBrowser) -> list[uploads.Attachment]:
    """Her kept files as her next request sees them (their names open with her cookie)."""
    [data] = [d for d in app.extensions["sesim"].sessions.live_data() if uploads.PENDING_KEY in d]
    cookie = source.client.get_cookie(COOKIE_NAME)
    assert cookie is not None
    with app.test_request_context(headers={"Cookie": f"{COOKIE_NAME}={cookie.value}"}):
        kept = uploads.pending()
    assert [a.item_id for a in kept] == uploads.pending_ids(data)
    return kept


def _all_items(app: Flask) -> int:
    conn = app.extensions["sesim"].service.db.reader()
    return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])


@pytest.fixture
def shared_app(instance: Instance) -> Iterator[Flask]:
    """The source app with the server's shared session table (one 8 KiB slot each)."""
    from source_interface import create_app

    application = create_app(instance.config, shared=ServerShared.create(64), TESTING=True)
    yield application
    application.extensions["sesim"].service.close()


def test_many_kept_files_never_make_her_session_too_large(shared_app: Flask) -> None:
    source = SourceBrowser(shared_app.test_client())
    names = [f"Шикаятнамə-{n:02d}-" + "документ" * 20 + ".pdf" for n in range(40)]
    html = _fail_with_files(source, [(f"file {n}".encode(), name) for n, name in enumerate(names)])
    kept = _pending(shared_app, source)
    assert 0 < len(kept) <= uploads.MAX_KEPT
    data = shared_app.extensions["sesim"].sessions.live_data()[0]
    assert len(json.dumps(data, separators=(",", ":"))) <= DATA_BYTES
    # She is told which were not kept, by name; the others are listed as kept.
    assert "were not kept" in html
    not_kept = [n for n in names if n not in {k.name for k in kept}]
    assert not_kept and all(n in html for n in not_kept)
    # The ones not kept are gone from the database; the kept ones are all there.
    assert shared_app.extensions["sesim"].service.unclaimed_uploads() == {k.item_id for k in kept}
    assert source.report("What happened.").status_code == 200
