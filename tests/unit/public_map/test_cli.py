"""``sesim map init`` and ``sesim map ingest``, through the real command."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from public_map import store
from sesim.cli import main

from .chain import ONE, THREE, TWO, refused_after_two, write_verify_file


def _dump(home: Path) -> list[str]:
    conn = store.connect(home / store.DB_FILE)
    try:
        return store.dump(conn)
    finally:
        conn.close()


def test_init_then_ingest_a_chain_and_refuse_the_rest(tmp_path: Path) -> None:
    runner = CliRunner()
    home = tmp_path / "map"
    key = write_verify_file(tmp_path / "publication.verify")
    made = runner.invoke(main, ["map", "init", "--home", str(home), "--verify-key", str(key)])
    assert made.exit_code == 0, made.output
    assert "sesim-ed25519-verify:" in made.output and (home / "map.toml").exists()
    for number, data in enumerate((ONE, TWO), 1):
        path = tmp_path / f"sesim-publication-{number}.json"
        path.write_bytes(data)
        done = runner.invoke(main, ["map", "ingest", "--home", str(home), str(path)])
        assert done.exit_code == 0, done.output
        assert f"Sequence {number}" in done.output
    assert "Entries added: 1" in done.output and "Entries retracted: 1" in done.output
    before = _dump(home)
    for name, data in refused_after_two().items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(data)
        refused = runner.invoke(main, ["map", "ingest", "--home", str(home), str(path)])
        assert refused.exit_code == 1, name
        assert refused.output.startswith("Error: ") and "Traceback" not in refused.output, name
        assert _dump(home) == before, name
    (tmp_path / "three.json").write_bytes(THREE)
    done = runner.invoke(main, ["map", "ingest", "--home", str(home), str(tmp_path / "three.json")])
    assert done.exit_code == 0 and "Sequence 3" in done.output


def test_clear_errors_for_a_missing_folder_file_or_key(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["map", "ingest", "--home", str(tmp_path / "no"), "x.json"])
    assert missing.exit_code == 1 and "not a map folder" in missing.output
    no_key = runner.invoke(
        main, ["map", "init", "--home", str(tmp_path / "m"), "--verify-key", str(tmp_path / "k")]
    )
    assert no_key.exit_code == 1 and "cannot read the verify key file" in no_key.output
    key = write_verify_file(tmp_path / "publication.verify")
    runner.invoke(main, ["map", "init", "--home", str(tmp_path / "m"), "--verify-key", str(key)])
    no_file = runner.invoke(
        main, ["map", "ingest", "--home", str(tmp_path / "m"), str(tmp_path / "none.json")]
    )
    assert no_file.exit_code == 1 and "cannot read" in no_file.output


def test_serve_map_needs_its_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "map"])
    assert result.exit_code == 1 and "--home" in result.output
    result = CliRunner().invoke(main, ["serve", "map", "--home", str(tmp_path)])
    assert result.exit_code == 1 and "not a map folder" in result.output
