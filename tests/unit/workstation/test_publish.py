"""Drafts, consent and redaction gating, retraction after withdrawal, and the signed chain
of publication bundles, on a real SQLCipher case store with the real redaction check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from journalist_interface.workstation import keys, publish
from journalist_interface.workstation.casestore import CaseStore
from securedrop_like import grid
from securedrop_like.bundles import BundleError, read_publication


def _case(store: CaseStore, designation: str, consent: str, *, text: str | None = None) -> int:
    document = {
        "text": text or "Məmur sənəd üçün məndən cinsi əlaqə istədi. Nömrəsi +994501234567.",
        "types": ["sextortion", "verbal", "not-a-code"],
        "when": {"precision": "day", "date": "2024-04-17", "part_of_day": "morning"},
        "where": {"location": "sabail", "landmark": "Fəvvarələr meydanı"},
        "perpetrator": "official",
        "service": "documents",
        "role": "self",
        "wants": ["share_story"],
        "consent": consent,
    }
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO cases (designation, first_day, last_day) VALUES (?, ?, ?)",
            (designation, "2024-04-18", "2024-04-18"),
        )
        case_id = int(cur.lastrowid)
        conn.execute(
            "INSERT INTO items (id, case_id, kind, day, size, lang, document)"
            " VALUES (?, ?, 'report', '2024-04-18', 100, 'az', ?)",
            (f"{case_id:032x}", case_id, json.dumps(document, ensure_ascii=False)),
        )
    return case_id


def _codes(problems: list[publish.Problem]) -> list[str]:
    return [p.code for p in problems]


def test_a_draft_is_prefilled_from_her_report(store: CaseStore) -> None:
    case_id = _case(store, "qırmızı nar", "yes")
    with store.transaction() as conn:
        draft = publish.get_draft(conn, publish.create_draft(conn, case_id))
    assert draft.types == ("sextortion", "verbal")  # unknown codes dropped
    assert draft.month == "2024-04"  # the month, never the day
    assert draft.district == "sabail"
    assert draft.point is not None and draft.point.kind == "cell"
    assert grid.district_contains("sabail", draft.point.lat_e6, draft.point.lon_e6)
    assert (draft.perpetrator, draft.service, draft.language) == ("official", "documents", "az")
    assert draft.story is not None and draft.summary == ""


def test_a_month_is_from_2000_to_the_month_it_is_published(store: CaseStore) -> None:
    """The reader refuses a month before 2000-01 or after the bundle's day (it once broke
    the map's statistics): a draft never takes one from her report, the editor refuses
    one, and a draft whose month is after the publishing day is not ready."""
    case_id = _case(store, "uzaq il", "yes")
    with store.transaction() as conn:
        assert publish.get_draft(conn, publish.create_draft(conn, case_id)).month == "2024-04"
        early = publish.get_draft(conn, publish.create_draft(conn, case_id, today="2024-03-31"))
        assert early.month is None  # April 2024 is after that day: she typed a wrong year
        for bad in ("1999-12", "0000-01", "9999-12", "2024-4", "٢٠٢٤-04"):
            with pytest.raises(publish.PublishError, match="2000-01"):
                publish.update_draft(conn, early.id, month=bad)
        assert publish.update_draft(conn, early.id, month="2000-01").month == "2000-01"
        draft_id = publish.create_draft(conn, case_id)
        publish.update_draft(conn, draft_id, summary="Sənəd üçün cinsi əlaqə tələbi.")
        assert "invalid" not in _codes(publish.draft_problems(conn, draft_id, "2024-04-01"))
        late = publish.draft_problems(conn, draft_id, "2024-03-31")
        assert [p.message for p in late if p.code == "invalid"] == [
            "entry.month must be from 2000-01 to the month the bundle is written (2024-03),"
            " not 2024-04"
        ]
    assert publish.month_allowed("2024-04", "2024-04-01")
    assert not publish.month_allowed("2024-05", "2024-04-30")


def test_publishing_is_blocked_until_each_hit_is_redacted_or_kept(store: CaseStore) -> None:
    case_id = _case(store, "mavi göl", "yes")
    with store.transaction() as conn:
        draft_id = publish.create_draft(conn, case_id)
        publish.update_draft(conn, draft_id, summary="Fəvvarələr meydanı yaxınlığında məmur.")
        problems = publish.draft_problems(conn, draft_id)
        assert sorted((p.field, p.kind) for p in problems if p.code == "redaction") == [
            ("story", "phone"),
            ("summary", "own"),
        ]
        with pytest.raises(publish.PublishError) as caught:
            publish.accept(conn, draft_id)
        assert caught.value.problems
        # Redact the phone (the text changes), keep the square with a reason.
        draft = publish.get_draft(conn, draft_id)
        assert draft.story is not None
        publish.update_draft(conn, draft_id, story=draft.story.replace("+994501234567", "[…]"))
        with pytest.raises(publish.PublishError, match="reason"):
            publish.keep_hit(conn, draft_id, "summary", "own", "Fəvvarələr meydanı", "  ")
        publish.keep_hit(
            conn, draft_id, "summary", "own", "Fəvvarələr meydanı", "a large public square"
        )
        assert publish.draft_problems(conn, draft_id) == []
        assert re.fullmatch(r"[0-9a-f]{32}", publish.accept(conn, draft_id))


def _ask(conn: object, draft_id: str) -> str:
    """A consent request as add_reply sends it (its reply id set in the same
    transaction); the request's id."""
    request = publish.consent_request(conn, draft_id)
    conn.execute(  # type: ignore[attr-defined]
        "UPDATE consent_requests SET reply_id = ? WHERE id = ?", ("f" * 32, request["draft_id"])
    )
    return request["draft_id"]


def _decide(conn: object, case_id: int, request_id: str, decision: str, day: str) -> None:
    publish.record_decision(conn, case_id, request_id, decision, day)


def test_consent_no_publishes_nothing_from_her_case(store: CaseStore) -> None:
    case_id = _case(store, "sarı çay", "no", text="Heç nə.")
    with store.transaction() as conn:
        with pytest.raises(publish.PublishError, match="nothing from her case"):
            publish.create_draft(conn, case_id)
        # A draft made before (or by hand): summary and facts only, still nothing.
        conn.execute(
            "INSERT INTO drafts (id, case_id, created_day, types, summary) VALUES"
            " (?, ?, '2024-05-01', '[\"verbal\"]', 'Küçədə söz atma.')",
            ("a" * 32, case_id),
        )
        assert _codes(publish.draft_problems(conn, "a" * 32)) == ["consent_no"]
        with pytest.raises(publish.PublishError):
            publish.accept(conn, "a" * 32)


def test_ask_first_needs_her_approval_of_the_whole_entry(store: CaseStore) -> None:
    case_id = _case(store, "yaşıl bağ", "ask_first", text="Mənə kömək edin.")
    with store.transaction() as conn:
        draft_id = publish.create_draft(conn, case_id)
        # No story at all: the summary and the facts still need her approval.
        publish.update_draft(conn, draft_id, summary="Sənəd üçün cinsi əlaqə tələbi.", story=None)
        assert _codes(publish.draft_problems(conn, draft_id)) == ["awaiting_approval"]
        request = publish.consent_request(conn, draft_id)
        assert request["draft_id"] != draft_id  # a fresh id per request
        text = request["text"]
        assert text.startswith("Sənəd üçün cinsi əlaqə tələbi.\n\n")
        assert "2024-04" in text and "Səbail" in text  # the facts, as they would appear
        assert "Məmur" in text or "məmur" in text  # the perpetrator type, in her language
        # Not sent yet (add_reply did not run): nothing counts.
        _decide(conn, case_id, request["draft_id"], "approve", "2024-05-01")
        assert _codes(publish.draft_problems(conn, draft_id)) == ["awaiting_approval"]
        request_id = _ask(conn, draft_id)
        _decide(conn, case_id, request_id, "approve", "2024-05-01")
        assert publish.draft_problems(conn, draft_id) == []
        # A change of a public fact after her approval needs a new one.
        publish.update_draft(conn, draft_id, month="2024-03")
        assert _codes(publish.draft_problems(conn, draft_id)) == ["changed_since_approval"]
        publish.update_draft(conn, draft_id, month="2024-04")
        assert publish.draft_problems(conn, draft_id) == []


def test_an_approval_never_carries_over_to_text_she_did_not_see(store: CaseStore) -> None:
    case_id = _case(store, "yaşıl bağ", "ask_first", text="Mənə kömək edin.")
    with store.transaction() as conn:
        draft_id = publish.create_draft(conn, case_id)
        publish.update_draft(conn, draft_id, summary="Sənəd üçün cinsi əlaqə tələbi.")
        first = _ask(conn, draft_id)
        _decide(conn, case_id, first, "approve", "2024-05-01")
        assert publish.draft_problems(conn, draft_id) == []
        publish.update_draft(conn, draft_id, story="Mənə kömək edin. Məktəbin direktoru.")
        assert _codes(publish.draft_problems(conn, draft_id)) == ["changed_since_approval"]
        second = _ask(conn, draft_id)
        assert second != first
        # Asked again: the old approval does not count for the new text.
        assert _codes(publish.draft_problems(conn, draft_id)) == ["awaiting_approval"]
        with pytest.raises(publish.PublishError):
            publish.accept(conn, draft_id)
        # Even undoing the edit: the newest request is the one that counts.
        publish.update_draft(conn, draft_id, story="Mənə kömək edin.")
        assert _codes(publish.draft_problems(conn, draft_id)) == ["awaiting_approval"]
        _decide(conn, case_id, second, "approve", "2024-05-02")
        assert _codes(publish.draft_problems(conn, draft_id)) == ["changed_since_approval"]
        publish.update_draft(conn, draft_id, story="Mənə kömək edin. Məktəbin direktoru.")
        assert publish.draft_problems(conn, draft_id) == []


def test_a_re_ask_that_was_not_sent_changes_nothing(
    store: CaseStore, unlocked: keys.Unlocked
) -> None:
    from journalist_interface.workstation.replies import NoSourceKey, add_reply

    case_id = _case(store, "yaşıl bağ", "ask_first", text="Mənə kömək edin.")
    with store.transaction() as conn:
        draft_id = publish.create_draft(conn, case_id)
        publish.update_draft(conn, draft_id, summary="Sənəd üçün cinsi əlaqə tələbi.")
        _decide(conn, case_id, _ask(conn, draft_id), "approve", "2024-05-01")
        publish.update_draft(conn, draft_id, story="Başqa mətn.")
    with store.transaction() as conn:
        request = publish.consent_request(conn, draft_id)
    with pytest.raises(NoSourceKey):  # no key for her: the reply is not sealed
        add_reply(store, unlocked, case_id, "Oxuyun.", "az", "Aysel", consent_request=request)
    with store.connection() as conn:
        assert _codes(publish.draft_problems(conn, draft_id)) == ["changed_since_approval"]
        with pytest.raises(publish.PublishError):
            publish.accept(conn, draft_id)


def test_a_refusal_cancels_the_entry(store: CaseStore) -> None:
    case_id = _case(store, "ağ dəniz", "ask_first", text="Mənə kömək edin.")
    with store.transaction() as conn:
        draft_id = publish.create_draft(conn, case_id)
        publish.update_draft(conn, draft_id, summary="Sənəd üçün cinsi əlaqə tələbi.", story=None)
        first = _ask(conn, draft_id)
        _decide(conn, case_id, first, "refuse", "2024-05-01")
        assert _codes(publish.draft_problems(conn, draft_id)) == ["refused"]
        # The reviewer saw the refusal, changed the entry and asked again: she may agree.
        publish.update_draft(conn, draft_id, summary="Sənəd üçün təzyiq.")
        second = _ask(conn, draft_id)
        assert _codes(publish.draft_problems(conn, draft_id)) == ["awaiting_approval"]
        _decide(conn, case_id, second, "approve", "2024-05-03")
        assert publish.draft_problems(conn, draft_id) == []
        # A refusal of the older request that arrives after the new request was made
        # still counts: her latest answer.
        third = _ask(conn, draft_id)
        _decide(conn, case_id, third, "approve", "2024-05-04")
        assert publish.draft_problems(conn, draft_id) == []
        _decide(conn, case_id, second, "refuse", "2024-05-05")
        assert _codes(publish.draft_problems(conn, draft_id)) == ["refused"]


def test_her_newest_decision_wins_and_a_refusal_wins_the_same_day(store: CaseStore) -> None:
    case_id = _case(store, "boz dağ", "ask_first")
    with store.transaction() as conn:
        assert publish.record_decision(conn, case_id, "b" * 32, "refuse", "2024-06-05")
        assert not publish.record_decision(conn, case_id, "b" * 32, "approve", "2024-06-01")
        assert not publish.record_decision(conn, case_id, "b" * 32, "approve", "2024-06-05")
        row = conn.execute("SELECT decision, day FROM consent_decisions").fetchone()
        assert (row["decision"], row["day"]) == ("refuse", "2024-06-05")
        assert publish.record_decision(conn, case_id, "b" * 32, "approve", "2024-06-06")


def _accepted(store: CaseStore, designation: str, summary: str) -> tuple[int, str]:
    case_id = _case(store, designation, "yes", text="Bir kişi mənə söz atdı.")
    with store.transaction() as conn:
        draft_id = publish.create_draft(conn, case_id)
        publish.update_draft(conn, draft_id, summary=summary)
        return case_id, publish.accept(conn, draft_id)


def test_chain_of_three(store: CaseStore, unlocked: keys.Unlocked, tmp_path: Path) -> None:
    verify = bytes(unlocked.signing.verify_key)
    with pytest.raises(publish.PublishError, match="Nothing to publish"):
        publish.write_publication(store, unlocked, tmp_path / "empty.json")
    assert not (tmp_path / "empty.json").exists()

    case_a, public_a = _accepted(store, "bir", "Küçədə söz atma.")
    _case_b, public_b = _accepted(store, "iki", "İşdə təcavüz.")
    first = publish.write_publication(store, unlocked, tmp_path / "1.json", today="2024-06-01")
    one = read_publication(tmp_path / "1.json", verify, expect_sequence=1)
    assert first.sequence == 1 and one.previous is None and first.sha256 == one.sha256
    assert sorted(e.id for e in one.entries) == sorted([public_a, public_b])
    raw = (tmp_path / "1.json").read_text(encoding="utf-8")
    assert "bir" not in raw and "iki" not in raw  # no designation
    with store.connection() as conn:
        item_ids = [r["id"] for r in conn.execute("SELECT id FROM items")]
    assert not any(item_id in raw for item_id in item_ids)  # no item id

    # Nothing new: no bundle.
    with pytest.raises(publish.PublishError):
        publish.write_publication(store, unlocked, tmp_path / "x.json")

    # She withdraws from case A: its entry is retracted, its drafts deleted.
    other = _case(store, "üç", "yes")
    with store.transaction() as conn:
        conn.execute("UPDATE cases SET withdrawn_day = '2024-06-10' WHERE id = ?", (case_a,))
        unpublished = publish.create_draft(conn, other)
    with store.transaction() as conn:
        publish.queue_retractions(conn, case_a)
        assert publish.queue_retractions(conn, case_a) == 0  # idempotent
        assert publish.list_drafts(conn, case_a) == []
        with pytest.raises(publish.PublishError, match="withdrew"):
            publish.create_draft(conn, case_a)
    second = publish.write_publication(store, unlocked, tmp_path / "2.json", today="2024-06-11")
    two = read_publication(
        tmp_path / "2.json", verify, expect_sequence=2, expect_previous=one.sha256
    )
    assert two.retractions == (public_a,) and two.entries == ()
    assert second.previous == first.sha256

    _case_c, public_c = _accepted(store, "dörd", "Avtobusda toxunma.")
    publish.write_publication(store, unlocked, tmp_path / "3.json", today="2024-07-01")
    three = read_publication(
        tmp_path / "3.json", verify, expect_sequence=3, expect_previous=two.sha256
    )
    assert [e.id for e in three.entries] == [public_c] and three.retractions == ()
    # The unpublished draft of the other case stays a draft.
    with store.connection() as conn:
        assert publish.get_draft(conn, unpublished).status == "draft"
        assert publish.publication_file(conn, 2) == (tmp_path / "2.json").read_bytes()
    # Rolled back to bundle 2 after 3: the map refuses.
    with pytest.raises(BundleError, match="replayed or rolled-back"):
        read_publication(tmp_path / "2.json", verify, expect_sequence=4)


def test_an_accepted_draft_whose_consent_changed_is_held_back(
    store: CaseStore, unlocked: keys.Unlocked, tmp_path: Path
) -> None:
    case_id, _public = _accepted(store, "beş", "Küçədə söz atma.")
    _other, public_other = _accepted(store, "altı", "Metroda toxunma.")
    with store.transaction() as conn:  # a refusal stored while the draft is accepted
        conn.execute(
            "INSERT INTO consent_decisions (case_id, draft_id, decision, day)"
            " SELECT case_id, id, 'refuse', '2024-06-01' FROM drafts WHERE case_id = ?",
            (case_id,),
        )
    summary = publish.write_publication(store, unlocked, tmp_path / "1.json")
    assert summary.entries == 1 and len(summary.held_back) == 1
    pub = read_publication(tmp_path / "1.json", bytes(unlocked.signing.verify_key))
    assert [e.id for e in pub.entries] == [public_other]


def test_a_published_entry_cannot_be_edited(
    store: CaseStore, unlocked: keys.Unlocked, tmp_path: Path
) -> None:
    _accepted(store, "yeddi", "Küçədə söz atma.")
    publish.write_publication(store, unlocked, tmp_path / "1.json")
    with store.transaction() as conn:
        (draft,) = publish.list_drafts(conn)
        assert draft.status == "published"
        with pytest.raises(publish.PublishError, match="published"):
            publish.update_draft(conn, draft.id, summary="changed")


def test_places_and_stations_on_a_draft(store: CaseStore) -> None:
    case_id = _case(store, "səkkiz", "yes")
    with store.transaction() as conn:
        draft_id = publish.create_draft(conn, case_id)
        draft = publish.set_place(conn, draft_id, "sabail", 40.3667, 49.8352)
        assert draft.point is not None
        assert (draft.point.lat_e6, draft.point.lon_e6) != (40366700, 49835200)
        assert grid.is_cell_centre(draft.point.lat_e6, draft.point.lon_e6)
        stored = [str(v) for row in conn.execute("SELECT * FROM drafts") for v in row]
        assert not any("403667" in v or "498352" in v for v in stored)  # her place: nowhere
        station = grid.metro_stations()[0]
        draft = publish.set_station(conn, draft_id, station.code)
        assert draft.district == station.district and draft.point is not None
        assert draft.point.kind == "station"
        draft = publish.set_place(conn, draft_id, "online", None, None)
        assert draft.point is None and draft.district == "online"


def test_without_the_redaction_check_nothing_is_accepted(
    store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = _case(store, "doqquz", "yes", text="Heç nə.")
    monkeypatch.setattr(publish, "_redact_module", lambda: None)
    with store.transaction() as conn:
        draft_id = publish.create_draft(conn, case_id)
        publish.update_draft(conn, draft_id, summary="Küçədə söz atma.", story=None)
        assert _codes(publish.draft_problems(conn, draft_id)) == ["redaction_unavailable"]
        with pytest.raises(publish.PublishError):
            publish.accept(conn, draft_id)


def _export_with(
    tmp_path: Path, name: str, designation: str, decisions: list[tuple[str, str, str]]
) -> Path:
    from crypto import PrivateKey
    from securedrop_like import bundles

    her = PrivateKey.generate()
    consent = tuple(bundles.ConsentDecision(d, decision, day) for d, decision, day in decisions)
    path = tmp_path / name
    with path.open("wb") as handle:
        bundles.write_export(
            handle, [], [], decisions[-1][2],
            sources=[bundles.ExportSource(designation, her.public_key, "web", consent)],
        )  # fmt: skip
    return path


def test_a_refusal_after_publication_retracts_the_entry(
    store: CaseStore, unlocked: keys.Unlocked, tmp_path: Path
) -> None:
    from journalist_interface.workstation.importer import import_bundle

    case_id = _case(store, "yaşıl bağ", "ask_first", text="Mənə kömək edin.")
    with store.transaction() as conn:
        draft_id = publish.create_draft(conn, case_id)
        publish.update_draft(conn, draft_id, summary="Sənəd üçün cinsi əlaqə tələbi.")
        request_id = _ask(conn, draft_id)
    decision = (request_id, "approve", "2024-06-01")
    import_bundle(store, unlocked, _export_with(tmp_path, "1.tar", "yaşıl bağ", [decision]))
    with store.transaction() as conn:
        public_id = publish.accept(conn, draft_id)
    publish.write_publication(store, unlocked, tmp_path / "1.json", today="2024-06-01")
    # She changes her mind ("your latest answer counts").
    decision = (request_id, "refuse", "2024-06-02")
    import_bundle(store, unlocked, _export_with(tmp_path, "2.tar", "yaşıl bağ", [decision]))
    with store.connection() as conn:
        draft = publish.get_draft(conn, draft_id)
        assert draft.status == "draft" and draft.public_id is None
        assert _codes(publish.draft_problems(conn, draft_id)) == ["refused"]
        with pytest.raises(publish.PublishError, match="deleted"):
            publish.publication_file(conn, 1)  # its copy carried her text
    second = publish.write_publication(store, unlocked, tmp_path / "2.json", today="2024-06-03")
    two = read_publication(tmp_path / "2.json", bytes(unlocked.signing.verify_key))
    assert two.retractions == (public_id,) and two.entries == () and second.retractions == 1
    # The same export imported again retracts nothing more, and an older approval
    # imported late does not bring the entry back.
    decision = (request_id, "approve", "2024-06-01")
    import_bundle(store, unlocked, _export_with(tmp_path, "3.tar", "yaşıl bağ", [decision]))
    with store.connection() as conn:
        assert _codes(publish.draft_problems(conn, draft_id)) == ["refused"]
        assert conn.execute("SELECT count(*) FROM retraction_queue").fetchone()[0] == 0


def test_out_of_order_imports_keep_her_latest_decision(
    store: CaseStore, unlocked: keys.Unlocked, tmp_path: Path
) -> None:
    from journalist_interface.workstation.importer import import_bundle

    request_id = "ab" * 16
    new = _export_with(tmp_path, "new.tar", "A", [(request_id, "refuse", "2024-06-05")])
    old = _export_with(tmp_path, "old.tar", "A", [(request_id, "approve", "2024-06-01")])
    import_bundle(store, unlocked, new)
    import_bundle(store, unlocked, old)  # sticks carried in the wrong order
    with store.connection() as conn:
        row = conn.execute("SELECT decision, day FROM consent_decisions").fetchone()
    assert (row["decision"], row["day"]) == ("refuse", "2024-06-05")


def test_a_reviewer_retracts_one_entry(
    store: CaseStore, unlocked: keys.Unlocked, tmp_path: Path
) -> None:
    _case_a, public_a = _accepted(store, "on", "Küçədə söz atma.")
    _case_b, public_b = _accepted(store, "on bir", "Metroda toxunma.")
    publish.write_publication(store, unlocked, tmp_path / "1.json", today="2024-06-01")
    with store.transaction() as conn:
        with pytest.raises(publish.PublishError, match="No published entry"):
            publish.retract(conn, "c" * 32)
        publish.retract(conn, public_a)
        with pytest.raises(publish.PublishError, match="already"):
            publish.retract(conn, public_a)
        (draft,) = [d for d in publish.list_drafts(conn) if d.summary == "Küçədə söz atma."]
        assert draft.status == "draft" and draft.public_id is None
    publish.write_publication(store, unlocked, tmp_path / "2.json", today="2024-06-02")
    two = read_publication(tmp_path / "2.json", bytes(unlocked.signing.verify_key))
    assert two.retractions == (public_a,) and two.entries == ()
    with store.transaction() as conn:  # accepted again: a new public id, never the old one
        assert publish.accept(conn, draft.id) not in (public_a, public_b)


def test_a_withdrawal_leaves_no_published_text_behind(
    store: CaseStore, unlocked: keys.Unlocked, tmp_path: Path
) -> None:
    case_a, public_a = _accepted(store, "on iki", "Küçədə söz atma, Sabunçu.")
    _case_b, _public_b = _accepted(store, "on üç", "Metroda toxunma.")
    publish.write_publication(store, unlocked, tmp_path / "1.json", today="2024-06-01")
    with store.transaction() as conn:
        conn.execute("UPDATE cases SET withdrawn_day = '2024-06-10' WHERE id = ?", (case_a,))
        assert publish.queue_retractions(conn, case_a) == 1
    with store.connection() as conn:
        # Look everywhere in the store: her summary is nowhere, her case is not linked.
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts%'"
        )]  # fmt: skip
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - names from the schema
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    assert "Küçədə söz atma".encode() not in raw, table
        assert (
            conn.execute(
                "SELECT case_id FROM published_entries WHERE public_id = ?", (public_a,)
            ).fetchone()[0]
            is None
        )
        with pytest.raises(publish.PublishError, match="deleted"):
            publish.publication_file(conn, 1)
    summary = publish.write_publication(store, unlocked, tmp_path / "2.json", today="2024-06-11")
    assert summary.retractions == 1
