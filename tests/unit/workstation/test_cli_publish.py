"""`sesim workstation draft… / publish` from the shell: a draft is checked, fixed, kept,
accepted and published into a bundle the map's reader accepts."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from journalist_interface.workstation import keys
from journalist_interface.workstation.casestore import CaseStore
from securedrop_like import grid
from securedrop_like.bundles import read_publication
from sesim.cli import main as sesim
from tests.unit.workstation.conftest import PASSPHRASE
from tests.unit.workstation.test_publish import _case


def test_a_draft_from_the_shell_to_a_bundle(ws_home: Path, tmp_path: Path) -> None:
    with keys.unlock(ws_home, PASSPHRASE) as unlocked, CaseStore.open(ws_home, unlocked) as store:
        _case(store, "qırmızı nar", "yes")
    secret = tmp_path / "pass"
    secret.write_text(PASSPHRASE + "\n")
    common = ["--home", str(ws_home), "--passphrase-file", str(secret)]
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(sesim, ["workstation", args[0], *common, *args[1:]])
        return result.exit_code, result.output

    code, out = run("draft", "qırmızı nar")
    assert code == 0, out
    draft_id = out.split()[0]
    assert "district sabail" in out and "month 2024-04" in out

    code, out = run("draft-check", draft_id)
    assert code == 1
    problems = [json.loads(line) for line in out.splitlines()]
    assert {(p["code"], p.get("kind")) for p in problems} >= {("redaction", "phone")}
    assert any(p["code"] == "invalid" and "summary" in p["message"] for p in problems)

    code, out = run("draft-accept", draft_id)
    assert code == 1 and "cannot be published yet" in out

    summary = tmp_path / "summary.txt"
    summary.write_text("Fəvvarələr meydanı yaxınlığında məmur sənəd üçün təklif etdi.\n")
    code, out = run(
        "draft-edit", draft_id, "--summary-file", str(summary), "--no-story",
        "--district", "sabail", "--lat", "40.3667", "--lon", "49.8352",
    )  # fmt: skip
    assert code == 0, out
    assert "40.366700" not in out and "cell:40.36471:49.834567" in out

    code, out = run("draft-check", draft_id)
    assert code == 1 and '"kind": "own"' in out
    code, out = run(
        "draft-keep", draft_id, "--field", "summary", "--kind", "own",
        "--text", "Fəvvarələr meydanı", "--reason", "a large public square",
    )  # fmt: skip
    assert code == 0, out
    code, out = run("draft-check", draft_id)
    assert code == 0 and out == ""

    code, out = run("draft-accept", draft_id)
    assert code == 0, out
    public_id = out.split()[-1].rstrip(".")

    bundle = tmp_path / "pub-1.json"
    code, out = run("publish", "--out", str(bundle))
    assert code == 0, out
    verify = keys.read_verify_key_file(keys.key_info(ws_home).verify_key_file)
    pub = read_publication(bundle, verify, expect_sequence=1)
    (entry,) = pub.entries
    assert entry.id == public_id and entry.story is None
    assert entry.point is not None and grid.is_cell_centre(entry.point.lat_e6, entry.point.lon_e6)

    code, out = run("publish", "--out", str(bundle))
    assert code == 1 and "never overwritten" in out
    code, out = run("publish", "--out", str(tmp_path / "pub-2.json"))
    assert code == 1 and "Nothing to publish" in out
    assert not (tmp_path / "pub-2.json").exists()

    code, out = run("drafts")
    assert code == 0 and "published" in out and public_id in out
    assert "Fəvvarələr" not in out  # no text in listings

    # One entry taken off the map: queued, then carried by the next bundle.
    code, out = run("retract", "0" * 32)
    assert code == 1 and "No published entry" in out
    code, out = run("retract", public_id)
    assert code == 0 and "queued for retraction" in out, out
    code, out = run("retract", public_id)
    assert code == 1 and "already" in out
    code, out = run("publish", "--out", str(tmp_path / "pub-3.json"))
    assert code == 0 and "1 retractions" in out, out
    pub = read_publication(tmp_path / "pub-3.json", verify, expect_sequence=2)
    assert pub.retractions == (public_id,) and pub.entries == ()
