"""From the workstation to the public map with the real code on both sides: the demo's
workstation (server export → import → drafts → redaction check → accept → signed bundle)
publishes, the map ingests with `sesim map ingest`, a reviewer retracts one entry, the
next bundle goes in through POST /ingest, and the entry is gone from every data file.
Replays and a tampered copy are refused by both doors, with the database unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from journalist_interface.workstation import publish
from journalist_interface.workstation.casestore import CaseStore
from journalist_interface.workstation.keys import unlock
from public_map import store
from public_map.app import create_app
from securedrop_like.demo import populate
from sesim.cli import main
from sesim.demo_workstation import create_workstation, fill_workstation
from tests.conftest import Instance

DATA_FILES = ("/data/entries.json", "/data/entries.csv", "/data/entries.geojson")


def _dump(home: Path) -> list[str]:
    conn = store.connect(home / store.DB_FILE)
    try:
        return store.dump(conn)
    finally:
        conn.close()


def test_workstation_bundles_feed_the_map_and_a_retraction_takes_an_entry_off(
    instance: Instance, tmp_path: Path
) -> None:
    made = create_workstation(instance.config)
    populate(instance.config, 18, seed=7)
    filled = fill_workstation(instance.config, made)
    assert filled.publication is not None and filled.publication.entries >= 1
    first = filled.publication.path

    runner = CliRunner()
    home = tmp_path / "map"
    made_map = runner.invoke(
        main, ["map", "init", "--home", str(home), "--verify-key", str(made.keys.verify_key_file)]
    )
    assert made_map.exit_code == 0, made_map.output
    done = runner.invoke(main, ["map", "ingest", "--home", str(home), str(first)])
    assert done.exit_code == 0, done.output
    assert f"Entries added: {filled.publication.entries}" in done.output

    client = create_app(home).test_client()
    entries = json.loads(client.get("/data/entries.json").get_data())["entries"]
    assert len(entries) == filled.publication.entries
    victim = entries[0]

    with unlock(made.home, made.passphrase) as unlocked:
        cases = CaseStore.open(made.home, unlocked)
        try:
            with cases.transaction() as conn:
                publish.retract(conn, victim["id"])
            second = publish.write_publication(cases, unlocked, tmp_path / "pub-2.json")
        finally:
            cases.close()
    assert (second.sequence, second.retractions) == (2, 1)

    before = _dump(home)
    tampered = bytearray(second.path.read_bytes())
    tampered[tampered.index(victim["id"].encode())] ^= 1
    for data, status in ((first.read_bytes(), 409), (bytes(tampered), 400)):
        response = client.post("/ingest", data=data, content_type="application/json")
        assert response.status_code == status and response.get_json()["error"]
        assert "Set-Cookie" not in response.headers
    (tmp_path / "tampered.json").write_bytes(bytes(tampered))
    for refused_file in (first, tmp_path / "tampered.json"):
        refused = runner.invoke(main, ["map", "ingest", "--home", str(home), str(refused_file)])
        assert refused.exit_code == 1 and refused.output.startswith("Error: ")
    assert _dump(home) == before

    response = client.post(
        "/ingest", data=second.path.read_bytes(), content_type="application/json"
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "sequence": 2,
        "sha256": second.sha256,
        "added": second.entries,
        "retracted": 1,
        "retracted_unknown": 0,
    }
    for path in DATA_FILES:
        text = client.get(path).get_data(as_text=True)
        assert victim["id"] not in text
    left = json.loads(client.get("/data/entries.json").get_data())
    assert left["count"] == len(entries) - 1 + second.entries
