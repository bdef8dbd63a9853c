"""The whole flow across apps: she reports through the source interface, staff export a
bundle, the workstation imports and decrypts it; tampering, re-import, withdrawal."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from journalist_interface.workstation import keys
from journalist_interface.workstation.casestore import CaseStore
from journalist_interface.workstation.cli import workstation
from journalist_interface.workstation.importer import BundleRefused, import_bundle
from securedrop_like import bundles
from securedrop_like.db import Database
from sesim.cli import main as sesim
from tests.conftest import Instance, SourceBrowser, csrf_of
from tests.functional.test_staff_actions import staff  # noqa: F401 - the fixture
from tests.unit.workstation.conftest import PASSPHRASE, make_home
from tests.unit.workstation.test_keys import _encodings

REPORT = "Canary-b7d1 report: the official at the ASAN xidmət centre demanded a favour."
MESSAGE = "Canary-c3a9 message: I remember the room was 214."
OTHER = "Canary-e55f another woman, another district."
PHOTO = b"\x89PNG canary-photo bytes" * 5000  # over 64 KiB: several chunks


def _export(client: FlaskClient, which: str = "unread", **extra: Any) -> bytes:
    token = csrf_of(client.get("/").get_data(as_text=True))
    response = client.post("/export", data={"csrf_token": token, "which": which, **extra})
    assert response.status_code == 200
    return bytes(response.data)


def _install_workstation_key(instance: Instance, ws: Path) -> None:
    result = CliRunner().invoke(
        sesim,
        ["keys", "add-reviewer", "--home", str(instance.home), str(ws / "reviewer.pub")],
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def ws(tmp_path: Path, instance: Instance) -> Path:
    home = tmp_path / "ws"
    make_home(home)
    _install_workstation_key(instance, home)
    return home


@pytest.fixture
def opened(ws: Path) -> Any:
    unlocked = keys.unlock(ws, PASSPHRASE)
    store = CaseStore.open(ws, unlocked)
    yield unlocked, store
    store.close()
    unlocked.wipe()


def _reports(app: Flask, staff: Any, tmp_path: Path) -> tuple[Path, SourceBrowser]:  # noqa: F811
    _, client, _ = staff
    her = SourceBrowser(app.test_client())
    her.client.get("/lang/en")
    her.report_and_get_codename(
        REPORT,
        files=[(PHOTO, "photo.png")],
        types=["verbal"],
        district="nasimi",
        consent="ask_first",
    )
    assert her.send_message(MESSAGE, [(b"note canary-9d2e", "note.txt")]).status_code == 303
    other = SourceBrowser(app.test_client())
    other.report_and_get_codename(OTHER)
    bundle = tmp_path / "export.tar"
    bundle.write_bytes(_export(client))
    return bundle, her


def _dump(store: CaseStore) -> str:
    """Every value in every table of the decrypted case store, FTS shadow tables too."""
    out = []
    with store.connection() as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - own names
                for value in row:
                    if isinstance(value, bytes):
                        out.append(value.decode("utf-8", "replace"))
                    else:
                        out.append(str(value))
    return "\n".join(out)


def test_a_real_export_is_imported_and_decrypted(
    app: Flask,
    instance: Instance,
    staff: Any,  # noqa: F811
    ws: Path,
    opened: Any,
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    bundle, _her = _reports(app, staff, tmp_path)
    seen: list[tuple[int, int]] = []
    result = import_bundle(store, unlocked, bundle, lambda done, total: seen.append((done, total)))
    assert result.items == 5 and result.new_items == 5 and result.errors == 0
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    cases = store.list_cases()
    assert len(cases) == 2
    mine = next(c for c in cases if c.files == 2)
    assert mine.types == ("verbal",) and mine.district == "nasimi"
    case = store.get_case(mine.id)
    assert case.report is not None
    assert case.report.text == REPORT
    assert case.report.types == ("verbal",)
    assert case.report.district == "nasimi"
    assert case.report.consent == "ask_first"
    assert case.report.lang == "en"
    assert [m.text for m in case.messages] == [MESSAGE]
    names = {f.name: f for f in case.files}
    assert set(names) == {"photo.png", "note.txt"}
    assert b"".join(store.file_plaintext(names["photo.png"].item_id)) == PHOTO
    assert names["photo.png"].plain_size == len(PHOTO)
    assert b"".join(store.file_plaintext(names["note.txt"].item_id)) == b"note canary-9d2e"
    # Search across cases.
    assert [h.case_id for h in store.search("ASAN favour")] == [case.id]
    assert [h.kind for h in store.search("214")] == ["message"]
    assert {h.designation for h in store.search("canary")} == {c.designation for c in cases}
    # The case store on disk holds none of it in the clear.
    store.checkpoint()
    raw = b"".join(p.read_bytes() for p in ws.rglob("*") if p.is_file())
    needles = ("Canary-b7d1", "Canary-c3a9", "canary-photo", "canary-9d2e", "xidmət")
    needles += ("room was 214",)
    for needle in needles:
        assert needle.encode() not in raw, needle
    assert b"SQLite format" not in raw
    # Nor any private key or the database key, in any common encoding.
    for secret in (unlocked.submission.unsafe_raw(), bytes(unlocked.signing), unlocked.db_key):
        for form in _encodings(secret):
            assert form not in raw


def test_reimport_changes_nothing(
    app: Flask,
    instance: Instance,
    staff: Any,  # noqa: F811
    opened: Any,
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    bundle, _her = _reports(app, staff, tmp_path)
    first = import_bundle(store, unlocked, bundle)
    before = _dump(store)
    again = import_bundle(store, unlocked, bundle)
    assert again.already_imported and again.new_items == 0
    assert _dump(store) == before
    # The same items in another bundle (a re-export of everything) are skipped too.
    _, client, _ = staff
    conn = Database.for_config(instance.config).open()
    some = [r[0] for r in conn.execute("SELECT id FROM items ORDER BY id LIMIT 3")]
    conn.close()
    overlapping = tmp_path / "some.tar"
    overlapping.write_bytes(_export(client, "selected", item=some))
    assert overlapping.read_bytes() != bundle.read_bytes()
    third = import_bundle(store, unlocked, overlapping)
    assert not third.already_imported and first.items == 5
    assert third.new_items == 0 and third.skipped == 3
    with store.connection() as conn:
        conn.execute("DELETE FROM imports")  # compare all but the import log
    after = _dump(store)
    with store.connection() as conn:
        conn.execute("DELETE FROM imports")
    assert after == _dump(store)
    assert after.count("Canary-b7d1") == before.count("Canary-b7d1")


def test_a_tampered_bundle_is_refused_and_changes_nothing(
    app: Flask,
    staff: Any,  # noqa: F811
    opened: Any,
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    bundle, _her = _reports(app, staff, tmp_path)
    data = bytearray(bundle.read_bytes())
    before = _dump(store)
    # Flip a byte near the end: the items before it are decrypted and then rolled back.
    tampered = tmp_path / "tampered.tar"
    with bundles.read_export(io.BytesIO(bytes(data))) as reader:
        last = reader.manifest.items[-1]
    header = data.index(f"items/{last.id}".encode())
    data[header + 512 + last.size - 5] ^= 1  # inside the last item's ciphertext
    tampered.write_bytes(bytes(data))
    seen: list[int] = []
    with pytest.raises(BundleRefused, match="nothing was imported"):
        import_bundle(store, unlocked, tampered, lambda done, _total: seen.append(done))
    assert max(seen) == 4  # four items were stored, then rolled back with the fifth
    assert _dump(store) == before
    cut = tmp_path / "cut.tar"
    cut.write_bytes(bundle.read_bytes()[: len(data) // 2])
    with pytest.raises(BundleRefused):
        import_bundle(store, unlocked, cut)
    assert _dump(store) == before
    assert store.list_cases() == []
    # The untouched bundle still imports afterwards.
    assert import_bundle(store, unlocked, bundle).new_items == 5


def test_an_item_that_does_not_open_is_kept_with_its_error(
    app: Flask,
    instance: Instance,
    staff: Any,  # noqa: F811
    ws: Path,
    opened: Any,
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    bundle, _her = _reports(app, staff, tmp_path)
    # Another workstation (whose key the server does not know) opens nothing, but imports.
    make_home(tmp_path / "stranger")
    with keys.unlock(tmp_path / "stranger", PASSPHRASE) as stranger:
        with CaseStore.open(tmp_path / "stranger", stranger) as other:
            result = import_bundle(other, stranger, bundle)
            assert result.new_items == 5 and result.errors == 5
            assert all("not addressed" in reason for _, reason in result.error_items)
            case = other.get_case(other.list_cases()[0].id)
            assert case.errors and case.report is None
    assert import_bundle(store, unlocked, bundle).errors == 0


def test_withdrawal_deletes_her_material_everywhere(
    app: Flask,
    staff: Any,  # noqa: F811
    ws: Path,
    opened: Any,
    tmp_path: Path,
) -> None:
    unlocked, store = opened
    bundle, her = _reports(app, staff, tmp_path)
    import_bundle(store, unlocked, bundle)
    assert "Canary-b7d1" in _dump(store)
    done = her.client.post(
        "/case/withdraw", data={"csrf_token": her.token("/case"), "confirm": "yes"}
    )
    assert done.status_code == 200
    _, client, _ = staff
    notice = tmp_path / "withdrawal.tar"
    notice.write_bytes(_export(client, "new"))
    result = import_bundle(store, unlocked, notice)
    assert result.withdrawals == 1
    dump = _dump(store)
    for needle in ("Canary-b7d1", "Canary-c3a9", "canary-photo", "canary-9d2e", "favour"):
        assert needle not in dump, needle
    assert "Canary-e55f" in dump  # the other woman's case stays
    assert store.search("favour") == [] and store.search("214") == []
    (gone,) = [c for c in store.list_cases() if c.withdrawn_day]
    assert gone.items == 0
    # The WAL was checkpointed: no copy of a deleted page waits there.
    wal = ws / "cases.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    # An older bundle that still holds her items does not bring them back.
    with store.connection() as conn:
        conn.execute("DELETE FROM imports")
    again = import_bundle(store, unlocked, bundle)
    assert again.new_items == 0
    assert "Canary-b7d1" not in _dump(store)


def test_the_cli_imports_with_a_progress_bar_and_lists_and_searches(
    app: Flask,
    staff: Any,  # noqa: F811
    ws: Path,
    tmp_path: Path,
) -> None:
    bundle, _her = _reports(app, staff, tmp_path)
    runner = CliRunner()
    env = {"SESIM_WORKSTATION_PASSPHRASE": PASSPHRASE}
    result = runner.invoke(workstation, ["import", "--home", str(ws), str(bundle)], env=env)
    assert result.exit_code == 0, result.output
    assert "Imported 5 new item(s) of 5 into 2 case(s)" in result.output
    assert "Importing" in result.output  # the bar (on stderr, mixed in by the runner)
    again = runner.invoke(workstation, ["import", "--home", str(ws), str(bundle)], env=env)
    assert "imported before" in again.output
    cases = runner.invoke(workstation, ["cases", "--home", str(ws)], env=env)
    assert cases.exit_code == 0 and "verbal" in cases.output
    assert "Canary" not in cases.output  # no report text printed
    found = runner.invoke(workstation, ["search", "--home", str(ws), "favour"], env=env)
    assert found.exit_code == 0 and re.search(r"report\s+\d{4}-\d{2}-\d{2}", found.output)
    assert "Canary" not in found.output
    wrong = runner.invoke(
        workstation,
        ["cases", "--home", str(ws)],
        env={"SESIM_WORKSTATION_PASSPHRASE": "not the passphrase"},
    )
    assert wrong.exit_code == 1 and "Wrong passphrase" in wrong.output
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a bundle" * 100)
    refused = runner.invoke(workstation, ["import", "--home", str(ws), str(bad)], env=env)
    assert refused.exit_code == 1 and "refused" in refused.output


def test_the_case_store_is_sqlcipher_not_sqlite(ws: Path, opened: Any) -> None:
    _unlocked, store = opened
    store.checkpoint()
    with pytest.raises(sqlcipher3.DatabaseError):
        conn = sqlcipher3.connect(str(ws / "cases.db"))
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    assert os.stat(ws / "cases.db").st_mode & 0o077 == 0
    assert json.loads((ws / "workstation.json").read_text())["format"] == "sesim-workstation"
