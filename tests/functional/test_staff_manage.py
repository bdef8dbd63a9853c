"""Staff deletion, bulk actions, reply-bundle upload, reply templates, withdrawal notices."""

from __future__ import annotations

import hashlib
import html
import io
import json
import tarfile
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crypto import EnvelopeContext, PrivateKey, PublicKey, decrypt_bytes, encrypt_bytes
from crypto.envelope import legacy_v1_encrypt_bytes
from journalist_interface.reply_templates import defaults
from securedrop_like import bundles, models
from securedrop_like.db import Database
from securedrop_like.store import new_id
from tests.conftest import Instance, SourceBrowser, csrf_of
from tests.functional import test_staff_actions
from tests.functional.test_staff_actions import _post
from tests.functional.test_staff_interface import _code, _login

staff = test_staff_actions.staff  # the logged-in lawyer "rena" (language en)


def _conn(instance: Instance) -> Any:
    return Database.for_config(instance.config).open()


def _new_source(app: Flask, text: str, **kwargs: Any) -> tuple[str, SourceBrowser]:
    def ids() -> set[str]:
        conn = Database.for_config(app.config["SESIM"]).open()
        try:
            return {r[0] for r in conn.execute("SELECT id FROM sources")}
        finally:
            conn.close()

    before = ids()
    browser = SourceBrowser(app.test_client())
    browser.report_and_get_codename(text, **kwargs)
    (new,) = ids() - before
    return new, browser


def _store_files(instance: Instance) -> set[str]:
    """Ids of the ciphertexts stored as blobs (chunked rows)."""
    conn = _conn(instance)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM blobs").fetchall()}
    finally:
        conn.close()


def test_deleting_items_asks_first_then_wipes_rows_and_files(
    app: Flask, instance: Instance, staff: Any
) -> None:
    _, client, accounts = staff
    source_id, _browser = _new_source(app, "Keep me.", files=[(b"x" * 200_000, "big.bin")])
    conn = _conn(instance)
    items = models.items_of(conn, source_id)
    big = next(i for i in items if i.kind == "file")
    assert not big.is_inline and _store_files(instance)
    asked = _post(client, f"/sources/{source_id}/items/delete", item=big.id)
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert 'name="confirm" value="1"' in page and big.id in page
    assert models.item_of(conn, source_id, big.id) is not None  # nothing deleted yet
    done = _post(client, f"/sources/{source_id}/items/delete", item=big.id, confirm="1")
    assert done.status_code == 303 and "done=deleted" in done.headers["Location"]
    assert models.item_of(conn, source_id, big.id) is None
    assert [i.kind for i in models.items_of(conn, source_id)] == ["report"]
    assert not _store_files(instance)  # the ciphertext went with the row
    nothing = _post(client, f"/sources/{source_id}/items/delete", item="f" * 32, confirm="1")
    assert "nothing_selected" in nothing.headers["Location"]
    conn.close()
    assert "delete_item" in [e.action for e in accounts.audit_entries()]


def test_deleting_a_source_removes_her_and_her_codename_stops_working(
    app: Flask, instance: Instance, staff: Any
) -> None:
    _, client, accounts = staff
    source_id, browser = _new_source(app, "Spam?", files=[(b"y" * 150_000, "f.bin")])
    codename = browser.codename
    browser.logout()
    assert _post(client, f"/sources/{source_id}/delete").status_code == 200  # confirmation
    assert client.get(f"/sources/{source_id}").status_code == 200
    done = _post(client, f"/sources/{source_id}/delete", confirm="1")
    assert done.status_code == 303 and "source_deleted" in done.headers["Location"]
    assert client.get(f"/sources/{source_id}").status_code == 404
    conn = _conn(instance)
    assert models.source_by_id(conn, source_id) is None
    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM retractions").fetchone()[0] == 0
    conn.close()
    assert not _store_files(instance)
    assert browser.login(codename).status_code == 400
    entries = accounts.audit_entries()
    assert any(e.action == "delete_source" for e in entries)
    assert all(source_id not in (e.target or "") for e in entries)


def test_bulk_actions_on_selected_sources(app: Flask, instance: Instance, staff: Any) -> None:
    _, client, _ = staff
    ids = [_new_source(app, f"Report {n}.")[0] for n in range(3)]
    chosen, other = ids[:2], ids[2]
    inbox = client.get("/").get_data(as_text=True)
    assert all(f'name="source" value="{i}"' in inbox for i in ids)
    for action in ("star", "assign", "read"):
        response = _post(client, "/sources/bulk", action=action, source=chosen)
        assert response.status_code == 303 and "bulk_done" in response.headers["Location"]
    conn = _conn(instance)
    rows = dict(
        (r[0], (r[1], r[2])) for r in conn.execute("SELECT id, starred, assigned_to FROM sources")
    )
    assert all(rows[i] == (1, "rena") for i in chosen) and rows[other] == (0, None)
    unread = dict(
        conn.execute(
            "SELECT source_id, SUM(staff_read = 0) FROM items GROUP BY source_id"
        ).fetchall()
    )
    assert unread[chosen[0]] == 0 and unread[other] == 1
    designations = dict(conn.execute("SELECT id, designation FROM sources").fetchall())
    exported = _post(client, "/export", which="sources", source=chosen)
    with bundles.read_export(io.BytesIO(exported.data)) as reader:
        assert {e.source for e in reader.manifest.items} == {designations[i] for i in chosen}
    asked = _post(client, "/sources/bulk", action="delete", source=chosen)
    assert asked.status_code == 200 and "Delete 2 sources?" in asked.get_data(as_text=True)
    _post(client, "/sources/bulk", action="delete", source=chosen, confirm="1")
    assert [r[0] for r in conn.execute("SELECT id FROM sources")] == [other]
    conn.close()
    nothing = _post(client, "/sources/bulk", action="star")
    assert "nothing_selected" in nothing.headers["Location"]
    assert _post(client, "/sources/bulk", action="explode", source=[other]).status_code == 400


def test_bulk_and_delete_need_the_csrf_token(app: Flask, staff: Any) -> None:
    _, client, _ = staff
    source_id, _b = _new_source(app, "Report.")
    assert (
        client.post("/sources/bulk", data={"action": "star", "source": source_id}).status_code
        == 400
    )
    assert client.post(f"/sources/{source_id}/delete", data={"confirm": "1"}).status_code == 400
    assert client.get(f"/sources/{source_id}").status_code == 200


def _bundle(replies: list[bundles.ReplyEntry]) -> bytes:
    out = io.BytesIO()
    bundles.write_replies(out, replies)
    return out.getvalue()


def _upload(client: FlaskClient, data: bytes, name: str = "replies.tar") -> Any:
    token = csrf_of(client.get("/replies/upload").get_data(as_text=True))
    return client.post(
        "/replies/upload",
        data={"csrf_token": token, "bundle": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _sealed(
    reply_id: str, text: str, *keys: bytes | PublicKey, bound_to: bytes | PublicKey | None = None
) -> bytes:
    """A reply sealed as the workstation does: to ``keys`` (the source's first), bound to
    ``reply_id`` and to the source (the first key, unless ``bound_to`` names another)."""
    document = {"format": "sesim-reply", "v": 1, "text": text, "lang": "az"}
    recipients = [k if isinstance(k, PublicKey) else PublicKey(k) for k in keys]
    if bound_to is None:
        source = recipients[0]
    else:
        source = bound_to if isinstance(bound_to, PublicKey) else PublicKey(bound_to)
    context = EnvelopeContext.reply(reply_id, source)
    return encrypt_bytes(json.dumps(document).encode(), recipients, context=context)


def test_a_reply_bundle_is_checked_then_stored_as_is_and_she_reads_it(
    app: Flask, instance: Instance, staff: Any
) -> None:
    _, client, accounts = staff
    source_id, browser = _new_source(app, "Please answer offline.")
    conn = _conn(instance)
    source = models.source_by_id(conn, source_id)
    assert source is not None
    reviewer = instance.reviewer_key.public_key
    text = "Workstation reply 51c2: salam, sizə kömək edəcəyik."
    reply_id = new_id()
    ciphertext = _sealed(reply_id, text, source.public_key, reviewer)
    reply = bundles.ReplyEntry(reply_id, source.designation, "leyla", ciphertext)
    data = _bundle([reply])

    ok = _upload(client, data)
    assert ok.status_code == 200, ok.get_data(as_text=True)
    stored = [i for i in models.items_of(conn, source_id) if i.kind == "reply"]
    assert [(i.id, i.author) for i in stored] == [(reply.id, "workstation:leyla")]
    assert models.inline_ciphertext(conn, reply.id) == ciphertext  # as is, byte for byte
    assert text in browser.case()
    assert "reply_bundle" in [e.action for e in accounts.audit_entries()]

    again = _upload(client, data)
    assert again.status_code == 400 and "already uploaded" in again.get_data(as_text=True)
    assert len([i for i in models.items_of(conn, source_id) if i.kind == "reply"]) == 1
    conn.close()


def test_a_bad_reply_bundle_stores_nothing(app: Flask, instance: Instance, staff: Any) -> None:
    _, client, _ = staff
    source_id, _b = _new_source(app, "Report.")
    conn = _conn(instance)
    source = models.source_by_id(conn, source_id)
    assert source is not None
    ids = [new_id() for _ in range(3)]
    good = bundles.ReplyEntry(
        ids[0], source.designation, "leyla", _sealed(ids[0], "a", source.public_key)
    )
    stranger = PrivateKey.generate().public_key
    not_hers = bundles.ReplyEntry(
        ids[1], source.designation, "leyla", _sealed(ids[1], "b", stranger)
    )
    unknown = bundles.ReplyEntry(ids[2], "0123456789ab", "leyla", _sealed(ids[2], "c", stranger))
    cases = {
        "not sealed to her key": _bundle([good, not_hers]),
        "0123456789ab": _bundle([good, unknown]),
        "not a reply bundle": b"this is not a tar file" * 100,
    }
    for expected, data in cases.items():
        response = _upload(client, data)
        assert response.status_code == 400
        assert expected in response.get_data(as_text=True)
    tampered = bytearray(_bundle([good]))
    tampered[tampered.index(good.ciphertext) + len(good.ciphertext) - 5] ^= 1
    response = _upload(client, bytes(tampered))
    assert response.status_code == 400 and "SHA-256" in response.get_data(as_text=True)
    assert _upload(client, b"", name="").status_code == 400
    assert [i.kind for i in models.items_of(conn, source_id)] == ["report"]
    conn.close()


def test_a_reply_not_bound_to_its_id_and_source_is_refused_by_name(
    app: Flask, instance: Instance, staff: Any
) -> None:
    """Sealed to her key, but bound to another source, to another reply id, or to
    nothing (envelope version 1): moved, so refused, naming the reply; nothing stored."""
    _, client, _ = staff
    source_id, _b = _new_source(app, "Report.")
    other_id, _o = _new_source(app, "Another report.")
    conn = _conn(instance)
    source, other = models.source_by_id(conn, source_id), models.source_by_id(conn, other_id)
    assert source is not None and other is not None
    reviewer = instance.reviewer_key.public_key
    good_id, bad_id = new_id(), new_id()
    good = bundles.ReplyEntry(
        good_id, source.designation, "leyla", _sealed(good_id, "a", source.public_key, reviewer)
    )
    moved = {
        "another source": _sealed(bad_id, "b", source.public_key, bound_to=other.public_key),
        "another reply": _sealed(new_id(), "b", source.public_key, reviewer),
        "version 1": legacy_v1_encrypt_bytes(b"b", [PublicKey(source.public_key), reviewer]),
    }
    for how, ciphertext in moved.items():
        bad = bundles.ReplyEntry(bad_id, source.designation, "leyla", ciphertext)
        if how == "another source":
            data = _bundle([good, bad])
        else:  # the workstation's own writer refuses these: write the tar by hand
            members = [(f"replies/{e.id}", e.ciphertext) for e in (good, bad)]
            manifest = {
                "format": bundles.REPLIES_FORMAT,
                "version": bundles.REPLIES_VERSION,
                "replies": [
                    {"id": e.id, "source": e.source, "size": len(e.ciphertext),
                     "sha256": hashlib.sha256(e.ciphertext).hexdigest(), "author": e.author}
                    for e in (good, bad)
                ],
            }  # fmt: skip
            data = _tar([("manifest.json", json.dumps(manifest).encode()), *members])
        response = _upload(client, data)
        page = response.get_data(as_text=True)
        assert response.status_code == 400, how
        assert (
            f"The reply {bad_id} for {html.escape(source.designation)} was not sealed for this"
            " reply and this source" in page
        ), how
        assert "Nothing from this bundle was stored." in page
    assert [i.kind for i in models.items_of(conn, source_id)] == ["report"]
    assert [i.kind for i in models.items_of(conn, other_id)] == ["report"]
    conn.close()


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_templates_fill_the_reply_box_and_admins_edit_them(
    app: Flask, instance: Instance, staff: Any
) -> None:
    staff_app, client, accounts = staff
    source_id, _b = _new_source(app, "Report.")
    page = client.get(
        f"/sources/{source_id}", query_string={"template": "request_consent", "tlang": "ru"}
    ).get_data(as_text=True)
    body = defaults()[("request_consent", "ru")]
    assert body in page and '<option value="ru" selected>' in page
    assert client.get("/admin/templates").status_code == 403  # rena is not an admin

    admin = accounts.add("aysel", is_admin=True, language="az")
    other = staff_app.test_client()
    _login(other, "aysel", admin.password, _code(admin.totp_secret))
    assert "Salam. Məktubunuzu aldıq" in other.get("/admin/templates").get_data(as_text=True)
    token = csrf_of(other.get("/admin/templates").get_data(as_text=True))
    new = "Salam! Məktubunuzu aldıq. Yeni mətn."
    saved = other.post(
        "/admin/templates",
        data={"csrf_token": token, "code": "acknowledgement", "lang": "az", "body": new},
    )
    assert saved.status_code == 303
    mine = client.get(
        f"/sources/{source_id}", query_string={"template": "acknowledgement", "tlang": "az"}
    )
    assert new in mine.get_data(as_text=True)
    empty = other.post(
        "/admin/templates",
        data={"csrf_token": token, "code": "acknowledgement", "lang": "az", "body": "  "},
    )
    assert empty.status_code == 400 and 'role="alert"' in empty.get_data(as_text=True)
    bad = other.post(
        "/admin/templates", data={"csrf_token": token, "code": "nope", "lang": "az", "body": "x"}
    )
    assert bad.status_code == 400
    other.post(
        "/admin/templates",
        data={"csrf_token": token, "code": "acknowledgement", "lang": "az", "action": "reset"},
    )
    back = client.get(
        f"/sources/{source_id}", query_string={"template": "acknowledgement", "tlang": "az"}
    )
    assert defaults()[("acknowledgement", "az")] in back.get_data(as_text=True)
    assert "template_edit" in [e.action for e in accounts.audit_entries()]


def test_every_template_exists_in_every_language() -> None:
    texts = defaults()
    assert len(texts) == 4 * 3
    for (code, lang), body in texts.items():
        assert 80 < len(body) < 600, (code, lang)
    assert "ə" in texts[("legal_help", "az")] and "ю" in texts[("legal_help", "ru")]


def test_withdrawals_are_shown_clearly(app: Flask, staff: Any) -> None:
    _, client, _ = staff
    _source_id_, browser = _new_source(app, "I will withdraw.")
    assert "withdrawals" not in client.get("/").get_data(as_text=True)
    browser.client.post(
        "/case/withdraw", data={"csrf_token": browser.token("/case"), "confirm": "yes"}
    )
    inbox = client.get("/").get_data(as_text=True)
    assert "/withdrawals" in inbox and "1 source withdrew" in inbox
    page = client.get("/withdrawals").get_data(as_text=True)
    assert "Reviewers must delete every copy" in page and "<td>1</td>" in page


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_new_pages_render_in_every_language(app: Flask, staff: Any, lang: str) -> None:
    _, client, _ = staff
    source_id, _b = _new_source(app, "Report.")
    client.get(f"/lang/{lang}")
    for path in ("/", "/withdrawals", "/replies/upload", f"/sources/{source_id}"):
        response = client.get(path)
        assert response.status_code == 200 and f'lang="{lang}"' in response.get_data(as_text=True)


def test_one_item_downloads_as_its_stored_ciphertext(
    app: Flask, instance: Instance, staff: Any
) -> None:
    _, client, accounts = staff
    body = b"scan" * 60_000
    source_id, _b = _new_source(app, "With a file.", files=[(body, "scan.pdf")])
    conn = _conn(instance)
    report, attachment = models.items_of(conn, source_id)
    page = client.get(f"/sources/{source_id}").get_data(as_text=True)
    assert f"/sources/{source_id}/items/{attachment.id}" in page
    for item in (report, attachment):
        response = client.get(f"/sources/{source_id}/items/{item.id}")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert len(response.data) == item.size == int(response.headers["Content-Length"])
        assert response.data.startswith(b"SESIMENV")
    expected = EnvelopeContext.file(attachment.id)
    assert decrypt_bytes(response.data, instance.reviewer_key, expected=expected) == body
    exported = conn.execute("SELECT count(*) FROM items WHERE exported = 1").fetchone()[0]
    assert exported == 2
    assert client.get(f"/sources/{source_id}/items/{'0' * 32}").status_code == 404
    assert client.get(f"/sources/{'0' * 32}/items/{report.id}").status_code == 404
    conn.close()
    assert "download" in [e.action for e in accounts.audit_entries()]
