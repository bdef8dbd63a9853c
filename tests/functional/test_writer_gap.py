"""While the writer process is gone (killed, being restarted by the master), a
write gets the translated "busy, try again" page — never a 500 — and a form
comes back with her text and her files kept; once the writer is back, the
same form sends."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request

from journalist_interface import create_app as create_staff_app
from journalist_interface.accounts import StaffAccounts
from securedrop_like.db import Database
from securedrop_like.sessions import COOKIE_NAME
from securedrop_like.shared_sessions import ServerShared
from securedrop_like.writer_process import WriterProcess
from source_interface import create_app
from tests.conftest import Instance, SourceBrowser, csrf_of
from tests.functional.test_staff_interface import _code, _login

TEXT = "Writer gap canary: the clerk kept my papers."
BUSY_AZ = "Hazırda saytda çox adam var"


@pytest.fixture
def writer(instance: Instance) -> Iterator[WriterProcess]:
    process = WriterProcess(instance.config)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def served(instance: Instance, writer: WriterProcess) -> Iterator[tuple[Flask, ServerShared]]:
    """The source app as a server worker builds it: every write goes to the writer process."""
    shared = ServerShared.create(64, writer.address, writer.authkey)
    application = create_app(instance.config, shared=shared, TESTING=True)
    yield application, shared
    application.extensions["sesim"].service.close()


def _source_id(app: Flask, source: SourceBrowser) -> str:
    """Her source id, from her session opened with her cookie (the shared table
    holds it only sealed under her cookie's key)."""
    cookie = source.client.get_cookie(COOKIE_NAME)
    assert cookie
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE_NAME}={cookie.value}"}):
        return str(app.session_interface.open_session(app, request)["source_id"])  # type: ignore[index]


def _kill(writer: WriterProcess) -> None:
    """The writer dies as a SIGKILL leaves it: its socket file stays behind."""
    import os
    import signal

    assert writer.pid is not None
    os.kill(writer.pid, signal.SIGKILL)
    os.waitpid(writer.pid, 0)


def test_a_report_in_the_gap_is_busy_and_keeps_her_text_and_file(
    instance: Instance, served: tuple[Flask, ServerShared], writer: WriterProcess
) -> None:
    app, _ = served
    source = SourceBrowser(app.test_client())
    _kill(writer)
    data: dict[str, Any] = {
        "csrf_token": source.token(),
        "what_happened": TEXT,
        "files": [(io.BytesIO(b"evidence bytes"), "photo.jpg")],
    }
    response = source.client.post("/report", data=data, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    # Her text comes back; her file reached no storage (the upload goes through the
    # writer too), so she is told, by name, to attach it again.
    assert TEXT in page and "“photo.jpg”" in page
    assert "Bunu yadda saxlaya bilmədik" in page
    writer.restart()  # what the master does
    again = source.client.post(
        "/report",
        data={
            "csrf_token": csrf_of(page),
            "what_happened": TEXT,
            "files": [(io.BytesIO(b"evidence bytes"), "photo.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert again.status_code == 200  # the codename page
    service = app.extensions["sesim"].service
    source_id = _source_id(app, source)
    kinds = sorted(item.kind for item in service.items(source_id))
    assert kinds == ["file", "report"]


def test_a_message_in_the_gap_is_busy_and_keeps_her_text(
    served: tuple[Flask, ServerShared], writer: WriterProcess
) -> None:
    app, _ = served
    source = SourceBrowser(app.test_client())
    source.report_and_get_codename("First report.")
    _kill(writer)
    response = source.send_message(TEXT, files=[(b"more evidence", "scan.pdf")])
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert TEXT in page and "“scan.pdf”" in page  # named: she attaches it again
    assert "Bunu yadda saxlaya bilmədik" in page  # in her language (az by default)
    writer.restart()
    assert source.send_message(TEXT, files=[(b"more evidence", "scan.pdf")]).status_code == 303
    service = app.extensions["sesim"].service
    source_id = _source_id(app, source)
    assert sorted(i.kind for i in service.items(source_id)) == ["file", "message", "report"]


def test_a_login_page_and_a_case_page_need_no_writer(
    served: tuple[Flask, ServerShared], writer: WriterProcess
) -> None:
    app, _ = served
    source = SourceBrowser(app.test_client())
    codename = source.report_and_get_codename("Report.")
    source.logout()
    _kill(writer)
    assert source.client.get("/").status_code == 200
    assert source.login(codename).status_code == 303
    assert source.client.get("/case").status_code == 200


def test_a_staff_write_in_the_gap_gets_the_busy_page(
    instance: Instance, served: tuple[Flask, ServerShared], writer: WriterProcess
) -> None:
    app, shared = served
    source = SourceBrowser(app.test_client())
    source.report_and_get_codename("Report.")
    source_id = _source_id(app, source)
    accounts = StaffAccounts(
        Database.for_config(instance.config), opslimit=1, memlimit=8 * 1024 * 1024
    )
    staff = create_staff_app(instance.config, shared=shared, accounts=accounts, TESTING=True)
    try:
        account = accounts.add("rena", language="az")
        client = staff.test_client()
        assert (
            _login(client, "rena", account.password, _code(account.totp_secret)).status_code == 303
        )
        _kill(writer)
        token = csrf_of(client.get("/").get_data(as_text=True))
        response = client.post(
            f"/sources/{source_id}/star", data={"csrf_token": token, "starred": "1"}
        )
        assert response.status_code == 503
        assert BUSY_AZ in response.get_data(as_text=True)
        assert response.headers["Retry-After"]
        writer.restart()
        token = csrf_of(client.get("/").get_data(as_text=True))
        again = client.post(
            f"/sources/{source_id}/star", data={"csrf_token": token, "starred": "1"}
        )
        assert again.status_code == 303
    finally:
        staff.extensions["sesim_staff"].reports.close()
