"""Replies written on the workstation reach her: sealed to her key (from the v2 export)
and to every reviewer, carried in a reply bundle the staff interface accepts; a consent
request comes back as her decision in the next export."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from crypto import EnvelopeContext, PublicKey, decrypt_bytes
from journalist_interface.workstation import keys
from journalist_interface.workstation.cli import workstation
from journalist_interface.workstation.importer import import_bundle
from journalist_interface.workstation.replies import (
    NoSourceKey,
    add_reply,
    pending_replies,
    reply_bundle,
    write_reply_bundle,
)
from securedrop_like import bundles
from tests.conftest import Instance, SourceBrowser, csrf_of
from tests.functional.test_staff_actions import staff  # noqa: F401 - the fixture
from tests.functional.test_staff_manage import _upload
from tests.functional.test_workstation_import import _export, opened, ws  # noqa: F401
from tests.unit.workstation.conftest import PASSPHRASE, make_home

REPLY = "Workstation reply 6b0d: salam, we can meet you at the centre on Monday."


def _one_case(app: Flask, staff: Any, store: Any, unlocked: Any, tmp_path: Path) -> Any:  # noqa: F811
    _, client, _ = staff
    her = SourceBrowser(app.test_client())
    her.client.get("/lang/en")
    her.report_and_get_codename("Please help me, canary 1a2b.", consent="ask_first")
    bundle = tmp_path / "export.tar"
    bundle.write_bytes(_export(client))
    import_bundle(store, unlocked, bundle)
    (case,) = store.list_cases()
    return case.id, her


def test_a_reply_reaches_her_through_the_staff_interface(
    app: Flask,
    instance: Instance,
    staff: Any,  # noqa: F811
    ws: Path,  # noqa: F811
    opened: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    colleague = make_home(tmp_path / "colleague", name="Leyla")
    keys.add_reviewer(ws, colleague.submission_key_file)
    case_id, her = _one_case(app, staff, store, unlocked, tmp_path)
    assert store.get_case(case_id).source_public_key  # from the v2 export
    reply_id = add_reply(store, unlocked, case_id, REPLY, "en", "aysel")
    assert [p.id for p in pending_replies(store)] == [reply_id]
    out = tmp_path / "replies.tar"
    assert write_reply_bundle(store, out) == 1
    assert pending_replies(store) == []
    assert write_reply_bundle(store, tmp_path / "empty.tar") == 0
    assert not (tmp_path / "empty.tar").exists()
    data = out.read_bytes()
    assert REPLY.encode() not in data
    (parsed,) = bundles.read_replies(io.BytesIO(data), len(data))
    # Sealed to her, to this workstation and to the colleague: any reviewer can read it.
    her_key = store.get_case(case_id).source_public_key
    expected = EnvelopeContext.reply(reply_id, PublicKey(her_key))
    with keys.unlock(tmp_path / "colleague", PASSPHRASE) as other:
        opened_doc = json.loads(
            decrypt_bytes(parsed.ciphertext, other.submission, expected=expected)
        )
    assert opened_doc == {"format": "sesim-reply", "v": 1, "text": REPLY, "lang": "en"}
    assert len(parsed.recipient_ids) == 3

    _, client, _ = staff
    uploaded = _upload(client, data)
    assert uploaded.status_code == 200, uploaded.get_data(as_text=True)
    assert REPLY in her.case()

    # The reply comes back in the next export: recognised, not doubled.
    back = tmp_path / "back.tar"
    back.write_bytes(_export(client, "new"))
    result = import_bundle(store, unlocked, back)
    assert result.new_items == 0 and result.skipped == 1
    assert [r.id for r in store.get_case(case_id).replies] == [reply_id]


def test_a_consent_request_comes_back_as_her_decision(
    app: Flask,
    staff: Any,  # noqa: F811
    opened: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    case_id, her = _one_case(app, staff, store, unlocked, tmp_path)
    draft_id = "ab12" * 8
    draft = "Draft canary 77c1: a woman was harassed at a service centre in Nəsimi."
    add_reply(
        store,
        unlocked,
        case_id,
        "May we publish this?",
        "en",
        "aysel",
        consent_request={"draft_id": draft_id, "text": draft},
    )
    bundle = io.BytesIO()
    write_reply_bundle(store, bundle)
    _, client, _ = staff
    assert _upload(client, bundle.getvalue()).status_code == 200
    assert draft in her.case()
    token = her.token("/case")
    decided = her.client.post(
        "/case/consent", data={"csrf_token": token, "draft_id": draft_id, "decision": "approve"}
    )
    assert decided.status_code in (200, 303), decided.get_data(as_text=True)[:500]
    back = tmp_path / "decision.tar"
    back.write_bytes(_export(client, "new"))
    import_bundle(store, unlocked, back)
    assert [d[:2] for d in store.get_case(case_id).consent_decisions] == [(draft_id, "approve")]


def test_a_case_without_her_key_gets_a_clear_error(
    app: Flask,
    staff: Any,  # noqa: F811
    opened: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    case_id, _her = _one_case(app, staff, store, unlocked, tmp_path)
    with store.connection() as conn:  # as a case known only from a version 1 export
        conn.execute("UPDATE cases SET source_public_key = NULL")
    with pytest.raises(NoSourceKey, match="version 2"):
        add_reply(store, unlocked, case_id, REPLY, "en", "aysel")
    with pytest.raises(keys.WorkstationError, match="text"):
        add_reply(store, unlocked, case_id, "  ", "en", "aysel")
    assert pending_replies(store) == []


def test_the_cli_writes_a_reply_and_the_bundle(
    app: Flask,
    staff: Any,  # noqa: F811
    ws: Path,  # noqa: F811
    opened: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    case_id, her = _one_case(app, staff, store, unlocked, tmp_path)
    env = {"SESIM_WORKSTATION_PASSPHRASE": PASSPHRASE}
    runner = CliRunner()
    wrote = runner.invoke(
        workstation,
        ["reply", "--home", str(ws), "--lang", "en", str(case_id)],
        input=REPLY,
        env=env,
    )
    assert wrote.exit_code == 0, wrote.output
    out = tmp_path / "r.tar"
    result = runner.invoke(workstation, ["replies", "--home", str(ws), "--out", str(out)], env=env)
    assert result.exit_code == 0 and "Wrote 1 reply" in result.output, result.output
    again = runner.invoke(workstation, ["replies", "--home", str(ws), "--out", str(out)], env=env)
    assert again.exit_code == 0 and "No reply is waiting" in again.output
    _, client, _ = staff
    assert _upload(client, out.read_bytes()).status_code == 200
    assert REPLY in her.case()


def test_a_reply_typed_in_the_staff_interface_opens_on_the_workstation(
    app: Flask,
    staff: Any,  # noqa: F811
    opened: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    _, client, _ = staff
    her = SourceBrowser(app.test_client())
    her.report_and_get_codename("Report canary 0c0c.")
    source_id = str(app.extensions["sesim"].sessions.live_data()[0]["source_id"])
    token = csrf_of(client.get("/").get_data(as_text=True))
    typed = "Staff reply canary 5d5d: call us on Monday."
    sent = client.post(
        f"/sources/{source_id}/reply", data={"csrf_token": token, "text": typed, "lang": "en"}
    )
    assert sent.status_code == 303
    bundle = tmp_path / "all.tar"
    bundle.write_bytes(_export(client, "new"))
    result = import_bundle(store, unlocked, bundle)
    assert result.errors == 0 and result.new_items == 2
    (case,) = store.list_cases()
    (reply,) = store.get_case(case.id).replies
    assert reply.text == typed and reply.origin == "import"
    assert [h.kind for h in store.search("5d5d")] == ["reply"]


def test_a_reply_stays_pending_until_delivered(
    app: Flask,
    staff: Any,  # noqa: F811
    opened: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A bundle written for a download is not yet delivered: the reply stays pending (it
    can be written again) until the download completed, or until an export shows it
    back from the server."""
    unlocked, store = opened
    case_id, her = _one_case(app, staff, store, unlocked, tmp_path)
    reply_id = add_reply(store, unlocked, case_id, REPLY, "en", "aysel")
    first = io.BytesIO()
    assert reply_bundle(store, first) == [reply_id]
    assert [p.id for p in pending_replies(store)] == [reply_id]  # not marked
    _, client, _ = staff
    assert _upload(client, first.getvalue()).status_code == 200
    assert REPLY in her.case()
    back = tmp_path / "back.tar"
    back.write_bytes(_export(client, "new"))
    import_bundle(store, unlocked, back)
    assert pending_replies(store) == []  # it came back from the server: delivered
