"""The session table as an attacker would fill it, and as a seized server shows it.

- Nobody can fill the table for free (review H2): a flood of failed forms
  with an empty named file, with or without a CSRF token, or one codename
  logged in again and again, leaves room for a real woman's report and
  log-in.
- A request still running when her session ends (Quick exit in another tab,
  the sweep, an eviction) does not bring it back (review M1).
- A slot shows neither her source id nor that she just reported, and its
  times only to 5 minutes (review M2).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, session
from flask.testing import FlaskClient

from securedrop_like import sessions as sessions_module
from securedrop_like.sessions import COOKIE_NAME, ServerSession
from securedrop_like.shared_sessions import _BASE, _HEADER, SLOT_BYTES, ServerShared
from source_interface import create_app, uploads
from tests.conftest import Instance, SourceBrowser
from tests.unit.conftest import Clock

TABLE = 50
FLOOD = 60  # more than the table


@pytest.fixture
def small_app(instance: Instance) -> Iterator[Flask]:
    application = create_app(instance.config.with_changes(max_sessions=TABLE), TESTING=True)
    yield application
    application.extensions["sesim"].service.close()


def _store(app: Flask) -> Any:
    return app.extensions["sesim"].sessions


def _fail_with_an_empty_file(client: FlaskClient, token: str | None) -> Any:
    data: dict[str, Any] = {"files": (io.BytesIO(b""), "a")}
    if token is not None:
        data["csrf_token"] = token
    return client.post("/report", data=data, content_type="multipart/form-data")


def _a_real_woman_still_gets_in(app: Flask, earlier: SourceBrowser) -> None:
    """A new report gets its codename, and a woman who reported before logs in."""
    newcomer = SourceBrowser(app.test_client())
    newcomer.report_and_get_codename("He demanded it.")
    assert newcomer.client.get("/case").status_code == 200
    returning = SourceBrowser(app.test_client())
    assert returning.login(earlier.codename).status_code == 303
    assert returning.client.get("/case").status_code == 200


@pytest.mark.parametrize("attack", ["no token", "another's token", "own token"])
def test_a_flood_of_failed_forms_with_empty_files_keeps_nobody_out(
    small_app: Flask, attack: str
) -> None:
    earlier = SourceBrowser(small_app.test_client())
    earlier.report_and_get_codename("Before the flood.")
    earlier.logout()
    # A token is bound to the form cookie of the visitor it was made for.
    shared_token = SourceBrowser(small_app.test_client()).token()
    for _ in range(FLOOD):
        client = small_app.test_client()
        if attack == "own token":  # the costliest: a form page (and its cookie) each time
            token: str | None = SourceBrowser(client).token()
        else:
            token = shared_token if attack == "another's token" else None
        assert _fail_with_an_empty_file(client, token).status_code == 400
    store = _store(small_app)
    keeping = [d for d in store.live_data() if uploads.PENDING_KEY in d]
    # Without a valid token there is nobody to keep them for; with one, a quarter at most.
    assert len(keeping) == (TABLE // 4 if attack == "own token" else 0)
    # What was not kept is gone from the database too.
    kept_ids = {i for d in keeping for i in uploads.pending_ids(d)}
    assert small_app.extensions["sesim"].service.unclaimed_uploads() == kept_ids
    _a_real_woman_still_gets_in(small_app, earlier)


def test_beyond_their_share_files_are_not_kept_and_she_is_told(small_app: Flask) -> None:
    for _ in range(TABLE // 4):
        SourceBrowser(small_app.test_client()).report("", files=[(b"", "a")])
    her = SourceBrowser(small_app.test_client())
    her.client.get("/lang/en")
    page = her.report("", files=[(b"%PDF evidence", "complaint.pdf")]).get_data(as_text=True)
    assert "were not kept" in page and "complaint.pdf" in page
    assert len(small_app.extensions["sesim"].service.unclaimed_uploads()) == TABLE // 4
    assert her.report("What happened.").status_code == 200  # her words are never refused


def test_a_log_in_evicts_a_session_that_only_keeps_files_when_nothing_else_is_free(
    instance: Instance,
) -> None:
    table = 8
    app = create_app(instance.config.with_changes(max_sessions=table), TESTING=True)
    try:
        keepers = [SourceBrowser(app.test_client()) for _ in range(table // 4)]
        for keeper in keepers:
            assert keeper.report("", files=[(b"", "a")]).status_code == 400
        women = [SourceBrowser(app.test_client()) for _ in range(table - len(keepers))]
        for woman in women:
            woman.report_and_get_codename()
        assert len(_store(app)) == table
        newcomer = SourceBrowser(app.test_client())
        newcomer.report_and_get_codename("There was no free slot.")
        assert len(_store(app)) == table
        # The least recently used session that only kept files gave way; no log-in did.
        for woman in women:
            assert woman.client.get("/case").status_code == 200
        assert sum(1 for d in _store(app).live_data() if uploads.PENDING_KEY in d) == 1
    finally:
        app.extensions["sesim"].service.close()


def test_one_codename_logged_in_again_and_again_fills_no_table(small_app: Flask) -> None:
    her = SourceBrowser(small_app.test_client())
    codename = her.report_and_get_codename("Mine.")
    clients = []
    for _ in range(FLOOD):
        browser = SourceBrowser(small_app.test_client())
        assert browser.login(codename).status_code == 303
        clients.append(browser.client)
    assert len(_store(small_app)) <= 3
    # Her three most recent log-ins still work; the older ones ended.
    assert [c.get("/case").status_code for c in clients[-3:]] == [200, 200, 200]
    assert clients[0].get("/case").status_code == 303
    _a_real_woman_still_gets_in(small_app, her)


# -- M1: a request in flight when her session ends ---------------------------------------------


def _in_flight(app: Flask, client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    """A request of hers, pushed (its session opened) but not yet handled."""
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie
    ctx = app.test_request_context(
        path,
        method="POST",
        headers={"Cookie": f"{COOKIE_NAME}={cookie.value}"},
        data=data,
        content_type="multipart/form-data",
    )
    ctx.push()
    assert isinstance(session._get_current_object(), ServerSession)  # type: ignore[attr-defined]
    return ctx


@pytest.mark.parametrize("ending", ["quick exit", "sweep or eviction"])
def test_a_request_in_flight_when_her_session_ends_does_not_bring_it_back(
    app: Flask, ending: str
) -> None:
    her = SourceBrowser(app.test_client())
    her.report_and_get_codename("He came again.")
    her.case()
    sid = her.client.get_cookie(COOKIE_NAME).value.rsplit(".", 2)[0]  # type: ignore[union-attr]
    # A message form that fails its check (an expired token) with a file: it keeps files.
    ctx = _in_flight(
        app,
        her.client,
        "/case/message",
        {"csrf_token": "stale", "message": "x", "files": (io.BytesIO(b"photo"), "f.jpg")},
    )
    try:
        if ending == "quick exit":
            assert her.client.get("/exit").status_code == 303  # another tab
        else:
            _store(app).delete(sid)
        response = app.full_dispatch_request()  # handled, and its session saved
    finally:
        ctx.pop()
    assert len(_store(app)) == 0
    # No session cookie but a deletion (a form cookie, which takes no slot, may be set).
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE_NAME)]
    assert all(c.startswith(f"{COOKIE_NAME}=;") for c in cookies)
    assert app.extensions["sesim"].service.unclaimed_uploads() == set()


def test_a_log_in_in_flight_when_her_session_ends_does_not_log_her_in(app: Flask) -> None:
    her = SourceBrowser(app.test_client())
    codename = her.report_and_get_codename("Mine.")
    token = her.token("/case")
    ctx = _in_flight(app, her.client, "/login", {"csrf_token": token, "codename": codename})
    try:
        her.client.get("/exit")
        response = app.full_dispatch_request()
    finally:
        ctx.pop()
    assert len(_store(app)) == 0
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE_NAME)]
    assert cookies and all(c.startswith(f"{COOKIE_NAME}=;") for c in cookies)


# -- M2: what a slot shows --------------------------------------------------------------------


def test_a_slot_shows_no_source_id_no_new_reporter_and_only_coarse_times(
    instance: Instance,
) -> None:
    clock = Clock()
    shared = ServerShared.create(slots=16)
    clock.now = 5123.456  # not on a bucket's edge
    app = create_app(instance.config, shared=shared, TESTING=True, SESSION_CLOCK=clock)
    try:
        fresh = SourceBrowser(app.test_client())  # just reported: a fresh codename kept
        fresh.report_and_get_codename("One.")
        clock.now += 61.5
        returning = SourceBrowser(app.test_client())
        returning.report_and_get_codename("Two.")
        returning.logout()
        clock.now += 7.25
        assert returning.login().status_code == 303
        returning.case()
        keeping = SourceBrowser(app.test_client())
        keeping.report("", files=[(b"evidence", "e.txt")])
        service = app.extensions["sesim"].service
        deriver = app.extensions["sesim"].deriver
        ids = []
        for codename in (fresh.codename, returning.codename):
            keys = deriver.derive(deriver.normalise(codename))
            source = service.find_source(keys.lookup_id)
            assert source is not None
            ids.append(source.id)
        memory = bytes(shared.segment.memory)
        for source_id in ids:
            assert source_id.encode() not in memory
            assert source_id.upper().encode() not in memory
        assert b"may_rekey" not in memory and b"source_id" not in memory
        assert b"fresh_codename" not in memory and b"private_key" not in memory
        bucket = app.extensions["sesim"].sessions.bucket
        assert bucket == 300.0  # the source's 30-minute idle limit: 5-minute buckets
        # Not even the length of a slot's data tells the new reporter from the other.
        lengths = {
            _HEADER.unpack_from(memory, _BASE + slot * SLOT_BYTES)[6]
            for slot in range(shared.segment.slots)
            if _HEADER.unpack_from(memory, _BASE + slot * SLOT_BYTES)[1] == 2
        }
        assert len(lengths) == 1
        ranks = []
        for slot in range(shared.segment.slots):
            header = _HEADER.unpack_from(memory, _BASE + slot * SLOT_BYTES)
            used, rank, _, created, seen = header[:5]
            if used:
                ranks.append(rank)
                assert created % bucket == 0 and seen % bucket == 0
        assert sorted(ranks) == [
            sessions_module.KEPT,
            sessions_module.LOGGED_IN,
            sessions_module.LOGGED_IN,
        ]
        # …and it all still works for them.
        assert fresh.client.get("/codename").status_code == 200
        fresh.case()
    finally:
        app.extensions["sesim"].service.close()
