"""The consent round trip, server side: a reviewer's draft reaches her inside a sealed
reply, she answers on her case page, and the answer (never the draft) travels to the
workstation in the next export bundle (version 2)."""

from __future__ import annotations

import io
import json
from typing import Any

from flask import Flask

from crypto import EnvelopeContext, PublicKey, encrypt_bytes
from securedrop_like import bundles, models
from securedrop_like.db import today
from securedrop_like.store import new_id
from tests.conftest import Instance, SourceBrowser, csrf_of
from tests.functional import test_staff_actions
from tests.functional.test_every_page import _check
from tests.functional.test_staff_actions import _post
from tests.functional.test_staff_manage import _bundle, _conn, _new_source, _upload
from tests.integration import everywhere

staff = test_staff_actions.staff  # the logged-in lawyer "rena" (language en)

DRAFT_ID = "d7af" * 8
DRAFT = "Draft canary 4f1e: a woman was asked for sex at a service centre in Nəsimi, May 2024."


def _send_draft(
    instance: Instance,
    client: Any,
    source_id: str,
    draft_id: str = DRAFT_ID,
    text: str = DRAFT,
    request: object = None,
) -> str:
    """Seal a reply with a consent_request to her key and the reviewer's, as the
    workstation does, and upload it in a reply bundle through the staff interface."""
    conn = _conn(instance)
    source = models.source_by_id(conn, source_id)
    conn.close()
    assert source is not None
    her_key = PublicKey(source.public_key)
    reply_id = new_id()
    document = {
        "format": "sesim-reply",
        "v": 1,
        "text": "Salam! May we publish this short, anonymised version of what you told us?",
        "lang": "en",
        "consent_request": request if request is not None else {"draft_id": draft_id, "text": text},
    }
    ciphertext = encrypt_bytes(
        json.dumps(document, ensure_ascii=False).encode(),
        [her_key, instance.reviewer_key.public_key],
        context=EnvelopeContext.reply(reply_id, her_key),
    )
    reply = bundles.ReplyEntry(reply_id, source.designation, "leyla", ciphertext)
    uploaded = _upload(client, _bundle([reply]))
    assert uploaded.status_code == 200, uploaded.get_data(as_text=True)
    return reply_id


def _decide(browser: SourceBrowser, decision: str, draft_id: str = DRAFT_ID) -> Any:
    token = browser.token("/case")
    return browser.client.post(
        "/case/consent", data={"csrf_token": token, "draft_id": draft_id, "decision": decision}
    )


def _export(client: Any, which: str = "new") -> bundles.ExportManifest:
    response = _post(client, "/export", which=which)
    assert response.status_code == 200
    with bundles.read_export(io.BytesIO(response.data)) as reader:
        for _entry, stream in reader:
            stream.read()
        return reader.manifest


def _decisions(instance: Instance) -> list[tuple[Any, ...]]:
    conn = _conn(instance)
    try:
        return [tuple(r) for r in conn.execute("SELECT * FROM consent_decisions").fetchall()]
    finally:
        conn.close()


def test_she_approves_a_draft_and_the_next_export_carries_her_key_and_answer(
    app: Flask, instance: Instance, staff: Any
) -> None:
    _, client, _ = staff
    source_id, browser = _new_source(app, "At the service centre he asked me for sex.")
    browser.client.get("/lang/en")
    first = _export(client)  # her report goes; she has decided nothing yet
    designation = first.items[0].source
    conn = _conn(instance)
    her = models.source_by_id(conn, source_id)
    conn.close()
    assert her is not None
    assert first.version == 2 and list(first.sources) == [designation]
    assert first.sources[designation].public_key == PublicKey(her.public_key)
    assert (first.sources[designation].channel, first.sources[designation].consent) == ("web", ())

    _send_draft(instance, client, source_id)
    page = browser.case()
    assert DRAFT in page and "May we publish this?" in page
    assert f'name="draft_id" value="{DRAFT_ID}"' in page
    assert 'value="approve"' in page and "Publish this" in page and "Do not publish" in page
    assert "Your answer" not in page
    response = browser.client.get("/case")
    _check(browser.client, response.get_data(as_text=True), dict(response.headers))

    decided = _decide(browser, "approve")
    assert decided.status_code == 303 and decided.headers["Location"].endswith(
        "/case?done=consent_approve"
    )
    page = browser.client.get(decided.headers["Location"]).get_data(as_text=True)
    assert "they may publish it" in page
    assert f"Your answer ({today()}): publish this." in page
    assert _decisions(instance) == [(source_id, DRAFT_ID, "approve", today(), 0)]

    second = _export(client)  # the reply is new; her answer travels with her key
    entry = second.sources[designation]
    assert entry.public_key == PublicKey(her.public_key)
    assert entry.consent == (bundles.ConsentDecision(DRAFT_ID, "approve", today()),)
    assert [e.kind for e in second.items] == ["reply"]
    assert _decisions(instance)[0][-1] == 1  # exported

    # She changes her mind: the latest answer counts, and travels even in an export
    # that carries none of her items.
    assert _decide(browser, "refuse").status_code == 303
    assert f"Your answer ({today()}): do not publish." in browser.case()
    third = _export(client)
    assert third.items == ()
    assert third.sources[designation].consent == (
        bundles.ConsentDecision(DRAFT_ID, "refuse", today()),
    )
    # Nothing new of hers any more: the page says so, no empty bundle is sent.
    nothing = _post(client, "/export", which="new")
    assert nothing.status_code == 303 and "nothing_to_export" in nothing.headers["Location"]

    # The draft's text is nowhere on the server: not in the decrypted database (its dump
    # and every BLOB), not in any file of the instance, in any common encoding.
    config = instance.config
    database = everywhere.Database(config.db_path, config.read_secret(config.db_key_path))
    searched: list[str] = []
    needles = everywhere.text_needles("the draft", DRAFT)
    places = [database, everywhere.Folder(instance.home)]
    assert everywhere.find_everywhere(needles, places, searched) == []
    assert any("decrypted dump" in where for where in searched)
    # ...while what is meant to be there is found by the same search (it can fail).
    found = everywhere.find_everywhere(everywhere.text_needles("the id", DRAFT_ID), [database])
    assert found


def test_nobody_can_decide_for_her_and_bad_answers_get_a_clear_error(
    app: Flask, instance: Instance, staff: Any
) -> None:
    _, client, _ = staff
    her_id, her = _new_source(app, "Report one.")
    _other_id, other = _new_source(app, "Report two.")
    other.client.get("/lang/az")
    _send_draft(instance, client, her_id)
    assert DRAFT in her.case() and DRAFT not in other.case()

    # Another woman (her own session, her own key) cannot decide about this draft.
    refused = _decide(other, "approve")
    assert refused.status_code == 400
    assert "Cavabınızı saxlaya bilmədik" in refused.get_data(as_text=True)
    _check(other.client, refused.get_data(as_text=True), dict(refused.headers))
    assert _decisions(instance) == []

    her.client.get("/lang/ru")
    for draft_id, decision in [
        ("e" * 32, "approve"),  # no reply of hers asks about it
        ("../etc/passwd", "approve"),
        ("", "refuse"),
        (DRAFT_ID.upper(), "approve"),
        (DRAFT_ID, "maybe"),
        (DRAFT_ID, ""),
    ]:
        response = _decide(her, decision, draft_id)
        assert response.status_code == 400, (draft_id, decision)
        assert "Не удалось сохранить ваш ответ" in response.get_data(as_text=True)
    assert _decisions(instance) == []

    # The form needs its CSRF token, like every form here.
    forged = her.client.post("/case/consent", data={"draft_id": DRAFT_ID, "decision": "approve"})
    assert forged.status_code == 400
    assert _decisions(instance) == []
    # Logged out, nobody decides anything.
    anonymous = app.test_client().post(
        "/case/consent", data={"draft_id": DRAFT_ID, "decision": "approve"}
    )
    assert anonymous.status_code in (303, 400) and _decisions(instance) == []

    assert _decide(her, "refuse").status_code == 303
    assert [(r[0], r[2]) for r in _decisions(instance)] == [(her_id, "refuse")]


def test_a_malformed_consent_request_is_shown_as_a_plain_reply(
    app: Flask, instance: Instance, staff: Any
) -> None:
    _, client, _ = staff
    source_id, browser = _new_source(app, "Report.")
    _send_draft(instance, client, source_id, request={"draft_id": "not hex", "text": DRAFT})
    page = browser.case()
    assert "May we publish this?" not in page and 'name="draft_id"' not in page
    assert _decide(browser, "approve", "not hex").status_code == 400


def test_withdrawal_deletes_her_decisions(app: Flask, instance: Instance, staff: Any) -> None:
    _, client, _ = staff
    source_id, browser = _new_source(app, "Report.")
    _send_draft(instance, client, source_id)
    assert _decide(browser, "approve").status_code == 303
    assert len(_decisions(instance)) == 1
    token = browser.token("/case/withdraw")
    withdrawn = browser.client.post("/case/withdraw", data={"csrf_token": token, "confirm": "yes"})
    assert withdrawn.status_code == 200
    assert _decisions(instance) == []
    manifest = _export(client)
    assert manifest.sources == {} and len(manifest.retractions) == 1


def test_every_export_button_writes_v2_with_her_key_and_pending_decisions(
    app: Flask, instance: Instance, staff: Any
) -> None:
    """Single (ticked items of one source) and bulk (ticked sources, unread, new) exports
    all list each source of their items with her stored key and channel, and any other
    source whose decision has not travelled yet."""
    _, client, _ = staff
    a_id, a = _new_source(app, "Report A.")
    b_id, _b = _new_source(app, "Report B.")
    conn = _conn(instance)
    source_a, source_b = models.source_by_id(conn, a_id), models.source_by_id(conn, b_id)
    (b_report,) = models.items_of(conn, b_id)
    conn.close()
    assert source_a is not None and source_b is not None
    _send_draft(instance, client, a_id)
    assert _decide(a, "approve").status_code == 303
    decision = (bundles.ConsentDecision(DRAFT_ID, "approve", today()),)

    # One item of B, ticked on B's page: B with her key, and A, whose decision is pending.
    single = _post(client, "/export", which="selected", item=[b_report.id])
    with bundles.read_export(io.BytesIO(single.data)) as reader:
        manifest = reader.manifest
    assert [e.id for e in manifest.items] == [b_report.id]
    assert manifest.sources[source_b.designation] == bundles.ExportSource(
        source_b.designation, PublicKey(source_b.public_key), "web", ()
    )
    assert manifest.sources[source_a.designation].consent == decision
    # That export carried A's decision: the next one lists only the sources of its items,
    # with every decision they have (not only new ones).
    for which, chosen in (("sources", {"source": [a_id]}), ("unread", {})):
        response = _post(client, "/export", which=which, **chosen)
        with bundles.read_export(io.BytesIO(response.data)) as reader:
            manifest = reader.manifest
        designations = {e.source for e in manifest.items}
        assert set(manifest.sources) == designations, which
        assert source_a.designation in designations
        her = manifest.sources[source_a.designation]
        assert (her.public_key, her.channel, her.consent) == (
            PublicKey(source_a.public_key),
            "web",
            decision,
        )


def _exported(instance: Instance) -> list[int]:
    conn = _conn(instance)
    try:
        return [int(r[0]) for r in conn.execute("SELECT exported FROM items ORDER BY seq")]
    finally:
        conn.close()


def test_a_download_dropped_half_way_marks_nothing_exported(
    app: Flask, instance: Instance, staff: Any
) -> None:
    """Her refusal must not be lost when the stick's download breaks off: items and
    decisions are marked exported only after the last chunk of the bundle was sent."""
    _, client, _ = staff
    source_id, browser = _new_source(app, "At the service centre he asked me for sex.")
    browser.client.get("/lang/en")
    _export(client)
    _send_draft(instance, client, source_id)
    assert _decide(browser, "refuse").status_code == 303
    assert _decisions(instance)[0][-1] == 0 and 0 in _exported(instance)

    token = csrf_of(client.get("/").get_data(as_text=True))
    response = client.post("/export", data={"csrf_token": token, "which": "new"}, buffered=False)
    assert response.status_code == 200
    chunks = iter(response.response)
    assert next(chunks)  # the first chunk went out ...
    response.close()  # ... then the connection dropped
    assert _decisions(instance)[0][-1] == 0  # her refusal is still to be exported
    assert 0 in _exported(instance)

    manifest = _export(client)  # a complete download
    designation = next(iter(manifest.sources))
    assert manifest.sources[designation].consent[0].decision == "refuse"
    assert _decisions(instance)[0][-1] == 1 and 0 not in _exported(instance)

    # One item's download, dropped half-way, marks nothing either.
    _send_draft(instance, client, source_id, draft_id="e" * 32)
    conn = _conn(instance)
    item_id = conn.execute("SELECT id FROM items WHERE exported = 0").fetchone()[0]
    conn.close()
    one = client.get(f"/sources/{source_id}/items/{item_id}", buffered=False)
    assert one.status_code == 200
    next(iter(one.response))
    one.close()
    assert 0 in _exported(instance)
    whole = client.get(f"/sources/{source_id}/items/{item_id}")
    assert whole.status_code == 200 and len(whole.data) > 0  # read to the end
    conn = _conn(instance)
    assert conn.execute("SELECT exported FROM items WHERE id = ?", (item_id,)).fetchone()[0] == 1
    conn.close()


def test_her_answer_shows_only_beside_the_request_it_answered(
    app: Flask, instance: Instance, staff: Any
) -> None:
    """Asked again (a new request id, new text): her earlier answer stays beside the
    earlier text; the new request waits for its own answer."""
    _, client, _ = staff
    source_id, browser = _new_source(app, "At the service centre he asked me for sex.")
    browser.client.get("/lang/en")
    _export(client)
    first, second = "a1" * 16, "b2" * 16
    _send_draft(instance, client, source_id, draft_id=first, text="First version 9d1c.")
    assert _decide(browser, "approve", first).status_code == 303
    _send_draft(instance, client, source_id, draft_id=second, text="Second version 3e7a.")
    page = browser.case()
    assert page.count("Your answer") == 1
    sections = page.split('<section class="consent"')[1:]
    (with_answer,) = [s for s in sections if "Your answer" in s]
    assert "First version 9d1c." in with_answer and "Second version 3e7a." not in with_answer
    manifest = _export(client)
    (source,) = manifest.sources.values()
    assert [(d.draft_id, d.decision) for d in source.consent] == [(first, "approve")]
