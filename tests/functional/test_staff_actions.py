"""Staff actions: star, assign, read marks, a reply she can read, an export bundle."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crypto import EnvelopeContext, PublicKey, decrypt_bytes
from journalist_interface import create_app, reply_templates
from journalist_interface.accounts import StaffAccounts
from securedrop_like import bundles, models
from securedrop_like.db import Database
from tests.conftest import Instance, SourceBrowser, csrf_of
from tests.functional.test_staff_interface import _code, _login


@pytest.fixture
def staff(instance: Instance) -> Any:
    accounts = StaffAccounts(
        Database.for_config(instance.config), opslimit=1, memlimit=8 * 1024 * 1024
    )
    app = create_app(instance.config, accounts=accounts, TESTING=True)
    account = accounts.add("rena", language="en")
    client = app.test_client()
    assert _login(client, "rena", account.password, _code(account.totp_secret)).status_code == 303
    yield app, client, accounts
    app.extensions["sesim_staff"].reports.close()


def _source_id(app: Flask) -> str:
    return str(app.extensions["sesim"].sessions.live_data()[0]["source_id"])


def _post(client: FlaskClient, path: str, **data: Any) -> Any:
    token = csrf_of(client.get("/").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def test_star_assign_and_read_marks(app: Flask, staff: Any, source: SourceBrowser) -> None:
    staff_app, client, accounts = staff
    source.report_and_get_codename("Report.")
    source_id = _source_id(app)
    assert _post(client, f"/sources/{source_id}/star", starred="1").status_code == 303
    assert _post(client, f"/sources/{source_id}/assign", to="me").status_code == 303
    conn = Database.for_config(staff_app.config["SESIM"]).open()
    row = conn.execute("SELECT starred, assigned_to FROM sources").fetchone()
    assert tuple(row) == (1, "rena")
    mine = client.get("/", query_string={"mine": "1"}).get_data(as_text=True)
    assert f"/sources/{source_id}" in mine and "★" in mine
    item = models.items_of(conn, source_id)[0]
    assert not item.staff_read
    _post(client, f"/sources/{source_id}/read", read="1", item=item.id)
    assert models.items_of(conn, source_id)[0].staff_read
    conn.close()
    actions = [e.action for e in accounts.audit_entries()]
    assert {"star", "assign", "mark_read"} <= set(actions)
    assert _post(client, "/sources/" + "0" * 32 + "/star", starred="1").status_code == 404


def test_a_reply_typed_here_is_read_by_her_and_by_the_reviewer_only(
    app: Flask, instance: Instance, staff: Any, source: SourceBrowser
) -> None:
    _staff_app, client, _ = staff
    source.client.get("/lang/en")
    source.report_and_get_codename("Please help me.")
    source_id = _source_id(app)
    canary = "Reply canary 7e3c: we can meet you at the centre."
    response = _post(client, f"/sources/{source_id}/reply", text=canary, lang="en")
    assert response.status_code == 303 and "reply_sent" in response.headers["Location"]
    assert canary in source.case()
    conn = Database.for_config(instance.config).open()
    (reply,) = [i for i in models.items_of(conn, source_id) if i.kind == "reply"]
    assert reply.author == "rena"
    blob = models.inline_ciphertext(conn, reply.id)
    her_key = models.source_by_id(conn, source_id).public_key  # type: ignore[union-attr]
    conn.close()
    assert blob is not None
    expected = EnvelopeContext.reply(reply.id, PublicKey(her_key))
    assert (
        json.loads(decrypt_bytes(blob, instance.reviewer_key, expected=expected))["text"] == canary
    )
    on_disk = b"".join(p.read_bytes() for p in instance.home.rglob("*") if p.is_file())
    assert canary.encode() not in on_disk
    assert canary not in client.get(f"/sources/{source_id}").get_data(as_text=True)
    bad = _post(client, f"/sources/{source_id}/reply", text=" ", lang="en")
    assert "reply_invalid" in bad.headers["Location"]


def test_export_bundle_round_trips_and_decrypts_with_the_reviewer_key(
    app: Flask, instance: Instance, staff: Any, source: SourceBrowser
) -> None:
    _staff_app, client, _ = staff
    source.report_and_get_codename("Exported report.", files=[(b"photo" * 30000, "p.jpg")])
    source_id = _source_id(app)
    response = _post(client, "/export", which="unread")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-tar"
    assert int(response.headers["Content-Length"]) == len(response.data)
    with bundles.read_export(io.BytesIO(response.data)) as reader:
        # Opened as the workstation must: with the context each manifest entry names.
        got = {
            entry.kind: decrypt_bytes(
                stream.read(),
                instance.reviewer_key,
                expected=EnvelopeContext.for_item(entry.kind, entry.id),
            )
            for entry, stream in reader
        }
    assert set(got) == {"report", "file"}
    assert json.loads(got["report"])["text"] == "Exported report."
    assert got["file"] == b"photo" * 30000
    again = _post(client, "/export", which="new")  # everything was downloaded once already
    assert again.status_code == 303 and "done=nothing_to_export" in again.headers["Location"]
    tampered = bytearray(response.data)
    tampered[len(tampered) // 2] ^= 1
    with pytest.raises(bundles.BundleError):
        with bundles.read_export(io.BytesIO(bytes(tampered))) as reader:
            for _entry, stream in reader:
                stream.read()
    assert re.search(
        r"sesim-export-\d{4}-\d{2}-\d{2}\.tar", response.headers["Content-Disposition"]
    )
    assert source_id


def _audit(accounts: StaffAccounts, action: str) -> list[str | None]:
    return [e.target for e in accounts.audit_entries() if e.action == action]


def test_an_export_with_nothing_chosen_says_so_and_sends_no_bundle(
    app: Flask, staff: Any, source: SourceBrowser
) -> None:
    _staff_app, client, accounts = staff
    source.report_and_get_codename("Report.")
    source_id = _source_id(app)
    # Nothing ticked on her page: back to her page, saying so.
    token = csrf_of(client.get(f"/sources/{source_id}").get_data(as_text=True))
    page = client.get(f"/sources/{source_id}").get_data(as_text=True)
    assert f"/export?back={source_id}" in page
    empty = client.post(
        f"/export?back={source_id}", data={"csrf_token": token, "which": "selected"}
    )
    assert empty.status_code == 303 and empty.headers["Content-Type"].startswith("text/html")
    assert f"/sources/{source_id}?done=nothing_selected" in empty.headers["Location"]
    shown = client.get(empty.headers["Location"]).get_data(as_text=True)
    assert "Tick at least one item first." in shown
    # Nothing ticked in the inbox, and an unknown id: the inbox says so.
    for chosen in ({}, {"source": ["0" * 32]}):
        none = _post(client, "/export", which="sources", **chosen)
        assert none.status_code == 303 and "done=nothing_selected" in none.headers["Location"]
    assert _post(client, "/export", which="new").data  # downloads her report, to the end
    nothing = _post(client, "/export", which="new")
    assert nothing.status_code == 303
    inbox = client.get(nothing.headers["Location"]).get_data(as_text=True)
    assert "There was nothing to download, so no file was made." in inbox
    assert _post(client, "/export", which="everything").status_code == 400
    assert len(_audit(accounts, "export")) == 1  # only the one bundle sent


def test_the_export_audit_row_names_the_designations(
    app: Flask, instance: Instance, staff: Any, source: SourceBrowser
) -> None:
    _staff_app, client, accounts = staff
    source.report_and_get_codename("First.")
    conn = Database.for_config(instance.config).open()
    (designation,) = [r[0] for r in conn.execute("SELECT designation FROM sources")]
    conn.close()
    response = _post(client, "/export", which="unread")
    assert response.status_code == 200
    assert _audit(accounts, "export") == [f"1 items: {designation}"]
    assert "First." not in str(_audit(accounts, "export"))


def test_a_head_request_changes_nothing(
    app: Flask, instance: Instance, staff: Any, source: SourceBrowser
) -> None:
    _staff_app, client, accounts = staff
    source.report_and_get_codename("Report.")
    source_id = _source_id(app)
    conn = Database.for_config(instance.config).open()
    try:
        item = models.items_of(conn, source_id)[0]
        head = client.head(f"/sources/{source_id}/items/{item.id}")
        assert head.status_code == 200 and head.data == b""
        assert int(head.headers["Content-Length"]) == item.size
        assert not conn.execute("SELECT exported FROM items WHERE id = ?", (item.id,)).fetchone()[0]
        assert _audit(accounts, "download") == []
        assert client.head("/export").status_code == 405  # the export is a POST only
        got = client.get(f"/sources/{source_id}/items/{item.id}")  # a GET does both
        assert len(got.data) == item.size
        assert conn.execute("SELECT exported FROM items WHERE id = ?", (item.id,)).fetchone()[0]
        assert len(_audit(accounts, "download")) == 1
    finally:
        conn.close()


def _replies(instance: Instance) -> list[tuple[str, str]]:
    conn = Database.for_config(instance.config).open()
    try:
        rows = conn.execute("SELECT author, kind FROM items WHERE kind = 'reply'").fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]
    finally:
        conn.close()


def _textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea id="{name}" name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, page
    return html.unescape(found[1])


def test_a_template_is_added_to_what_she_typed(
    app: Flask, instance: Instance, staff: Any, source: SourceBrowser
) -> None:
    _staff_app, client, _ = staff
    source.report_and_get_codename("Report.")
    source_id = _source_id(app)
    page = client.get(f"/sources/{source_id}").get_data(as_text=True)
    token = csrf_of(page)
    typed = "Dear friend, <thank you> for writing.\r\nA second line."
    body = reply_templates.defaults()[("acknowledgement", "ru")]
    added = client.post(
        f"/sources/{source_id}/reply",
        data={"csrf_token": token, "text": typed, "lang": "en", "action": "template",
              "template": "acknowledgement", "tlang": "ru"},
    )  # fmt: skip
    assert added.status_code == 200
    shown = added.get_data(as_text=True)
    assert (
        _textarea(shown, "text")
        == "Dear friend, <thank you> for writing.\nA second line.\n\n" + body
    )
    assert re.search(r'<option value="ru" selected>', shown)  # the template's language
    assert _replies(instance) == []  # nothing sent, nothing stored
    # With nothing typed, the template alone; an unknown template keeps what she typed.
    alone = client.post(
        f"/sources/{source_id}/reply",
        data={"csrf_token": token, "text": "", "lang": "en", "action": "template",
              "template": "acknowledgement", "tlang": "ru"},
    )  # fmt: skip
    assert _textarea(alone.get_data(as_text=True), "text") == body
    kept = client.post(
        f"/sources/{source_id}/reply",
        data={"csrf_token": token, "text": "Mine.", "lang": "en", "action": "template",
              "template": "nonsense", "tlang": "xx"},
    )  # fmt: skip
    assert kept.status_code == 200 and _textarea(kept.get_data(as_text=True), "text") == "Mine."
    # The template choice is inside the reply form: one form, no JavaScript.
    assert page.count(f'action="/sources/{source_id}/reply#reply"') == 1
    assert 'name="action" value="template"' in page and "formnovalidate" in page


def test_a_reply_posted_after_the_session_ended_is_sent_after_log_in(
    app: Flask, instance: Instance, source: SourceBrowser
) -> None:
    clock = [1000.0]
    accounts = StaffAccounts(
        Database.for_config(instance.config), opslimit=1, memlimit=8 * 1024 * 1024
    )
    staff_app = create_app(
        instance.config, accounts=accounts, TESTING=True, SESSION_CLOCK=lambda: clock[0]
    )
    account = accounts.add("rena", language="en")
    client = staff_app.test_client()
    assert _login(client, "rena", account.password, _code(account.totp_secret)).status_code == 303
    source.report_and_get_codename("Report.")
    source_id = _source_id(app)
    token = csrf_of(client.get(f"/sources/{source_id}").get_data(as_text=True))
    clock[0] += instance.config.staff_session_idle_minutes * 60 + 60  # she went for lunch
    typed = "Salam! We can help: <b>a lawyer</b> will call."
    posted = client.post(
        f"/sources/{source_id}/reply", data={"csrf_token": token, "text": typed, "lang": "az"}
    )
    assert posted.status_code == 200
    page = posted.get_data(as_text=True)
    assert 'action="/login"' in page and _textarea(page, "reply_text") == typed
    assert f'name="reply_source" value="{source_id}"' in page
    assert _replies(instance) == []
    # A wrong code: still there, not lost.
    form = {"csrf_token": csrf_of(page), "username": "rena", "password": account.password,
            "reply_source": source_id, "reply_text": typed, "reply_lang": "az"}  # fmt: skip
    wrong = client.post("/login", data={**form, "code": "000000"})
    assert (
        wrong.status_code == 400 and _textarea(wrong.get_data(as_text=True), "reply_text") == typed
    )
    # The right one: logged in, and the reply is sent in her name.
    done = client.post("/login", data={**form, "code": _code(account.totp_secret, 1)})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/sources/{source_id}?done=reply_sent")
    assert _replies(instance) == [("rena", "reply")]
    assert [e.target for e in accounts.audit_entries() if e.action == "reply"]
    # Nothing of it was kept on the server: not in the sessions, not in the database.
    assert "a lawyer" not in json.dumps(staff_app.extensions["sesim_staff"].sessions.live_data())
    staff_app.extensions["sesim_staff"].reports.close()


def test_a_forged_reply_is_not_carried_to_the_log_in_page(
    app: Flask, staff: Any, source: SourceBrowser
) -> None:
    staff_app, _client, _ = staff
    source.report_and_get_codename("Report.")
    source_id = _source_id(app)
    stranger = staff_app.test_client()
    forged = stranger.post(
        f"/sources/{source_id}/reply",
        data={"csrf_token": "x" * 20, "text": "Forged.", "lang": "en"},
    )
    assert forged.status_code == 400 and "Forged." not in forged.get_data(as_text=True)
    cross = stranger.post(
        f"/sources/{source_id}/reply",
        data={"text": "Forged.", "lang": "en"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 400 and "Forged." not in cross.get_data(as_text=True)
