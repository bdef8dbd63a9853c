"""Publication across apps: she reports ("ask me first"), the workstation drafts an entry,
sends it to her as a reply, she approves it on her case page, her decision comes back in
the next export and unblocks the story; the signed bundle carries it. Then she withdraws,
and the next bundle retracts it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Flask

from journalist_interface.workstation import keys, publish
from journalist_interface.workstation.importer import import_bundle
from journalist_interface.workstation.replies import add_reply, write_reply_bundle
from securedrop_like import grid
from securedrop_like.bundles import read_publication
from tests.conftest import SourceBrowser
from tests.functional.test_staff_actions import staff  # noqa: F401 - the fixture
from tests.functional.test_staff_manage import _upload
from tests.functional.test_workstation_import import _export, opened, ws  # noqa: F401

STORY = "A man at the service centre asked me for a favour before he would sign my papers."
SUMMARY = "An official at a service centre demanded a sexual favour for a document."


def test_ask_first_approval_publish_withdraw_retract(
    app: Flask,
    staff: Any,  # noqa: F811
    ws: Path,  # noqa: F811
    opened: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    _, client, _ = staff
    verify = keys.read_verify_key_file(keys.key_info(ws).verify_key_file)
    her = SourceBrowser(app.test_client())
    her.client.get("/lang/en")
    her.report_and_get_codename(
        STORY, types=["sextortion"], district="nasimi", consent="ask_first",
        perpetrator="official", service="documents",
    )  # fmt: skip
    first = tmp_path / "export-1.tar"
    first.write_bytes(_export(client))
    import_bundle(store, unlocked, first)
    (case,) = store.list_cases()

    with store.transaction() as conn:
        draft_id = publish.create_draft(conn, case.id)
        draft = publish.update_draft(conn, draft_id, summary=SUMMARY)
        assert draft.story == STORY and draft.district == "nasimi" and draft.language == "en"
        assert [p.code for p in publish.draft_problems(conn, draft_id)] == ["awaiting_approval"]
        request = publish.consent_request(conn, draft_id)
    add_reply(store, unlocked, case.id, "May we publish this?", "en", "aysel",
              consent_request=request)  # fmt: skip
    replies = io.BytesIO()
    write_reply_bundle(store, replies)
    assert _upload(client, replies.getvalue()).status_code == 200
    page = her.case()
    assert SUMMARY in page
    assert "Who did it:" in page and "District:" in page  # the public facts, for her to see
    request_id = request["draft_id"]  # her answer names this request, not the draft
    decided = her.client.post(
        "/case/consent",
        data={"csrf_token": her.token("/case"), "draft_id": request_id, "decision": "approve"},
    )
    assert decided.status_code in (200, 303)
    second = tmp_path / "export-2.tar"
    second.write_bytes(_export(client, "new"))
    import_bundle(store, unlocked, second)

    with store.transaction() as conn:
        assert publish.draft_problems(conn, draft_id) == []
        public_id = publish.accept(conn, draft_id)
    publish.write_publication(store, unlocked, tmp_path / "pub-1.json")
    one = read_publication(tmp_path / "pub-1.json", verify, expect_sequence=1)
    (entry,) = one.entries
    assert entry.id == public_id and entry.story == STORY and entry.summary == SUMMARY
    assert entry.month is None  # she gave no date
    assert entry.point is not None
    assert grid.district_contains("nasimi", entry.point.lat_e6, entry.point.lon_e6)
    raw = (tmp_path / "pub-1.json").read_text(encoding="utf-8")
    assert case.designation not in raw and draft_id not in raw and request_id not in raw

    # She withdraws: the importer queues the retraction and deletes the drafts.
    done = her.client.post(
        "/case/withdraw", data={"csrf_token": her.token("/case"), "confirm": "yes"}
    )
    assert done.status_code == 200
    third = tmp_path / "export-3.tar"
    third.write_bytes(_export(client, "new"))
    assert import_bundle(store, unlocked, third).withdrawals == 1
    with store.connection() as conn:
        assert publish.list_drafts(conn, case.id) == []
    publish.write_publication(store, unlocked, tmp_path / "pub-2.json")
    two = read_publication(
        tmp_path / "pub-2.json", verify, expect_sequence=2, expect_previous=one.sha256
    )
    assert two.retractions == (public_id,) and two.entries == ()
