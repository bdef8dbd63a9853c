"""What the map host's deployment (ansible/roles/sesim_map) relies on: every applied
bundle asks for a new static build (``build-requested``, watched by the role's
``sesim-map-build.path``), a refused one does not; ``sesim map nginx-maps`` prints the
very header policy ``sesim serve map`` sends, for the map's own ``tile_url``."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from public_map import build
from public_map.app import create_app
from public_map.instance import BUILD_REQUEST_FILE, init_map
from sesim.cli import main

from .chain import ONE, TWO, refused_after_two, write_verify_file


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    return home


def test_an_applied_bundle_asks_for_a_build_a_refused_one_does_not(tmp_path: Path) -> None:
    home = _home(tmp_path)
    request = home / BUILD_REQUEST_FILE
    assert not request.exists()  # a new map: nothing applied yet
    runner = CliRunner()
    bundle = tmp_path / "one.json"
    bundle.write_bytes(ONE)
    assert runner.invoke(main, ["map", "ingest", "--home", str(home), str(bundle)]).exit_code == 0
    assert request.is_file() and request.stat().st_size == 0
    assert stat.S_IMODE(request.stat().st_mode) == 0o600
    request.unlink()  # what the build service does before it builds
    client = create_app(home).test_client()
    answer = client.post("/ingest", data=TWO, content_type="application/json")
    assert answer.status_code == 200, answer.get_json()
    assert request.is_file()
    request.unlink()
    for name, data in refused_after_two().items():
        bundle.write_bytes(data)
        refused = runner.invoke(main, ["map", "ingest", "--home", str(home), str(bundle)])
        assert refused.exit_code == 1, name
        assert not request.exists(), name
        posted = client.post("/ingest", data=data, content_type="application/json")
        assert posted.status_code in (400, 409), name
        assert not request.exists(), name


def test_an_unwritable_request_is_a_warning_and_the_bundle_still_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = _home(tmp_path)
    (home / BUILD_REQUEST_FILE).mkdir()  # cannot be opened as a file
    bundle = tmp_path / "one.json"
    bundle.write_bytes(ONE)
    done = CliRunner().invoke(main, ["map", "ingest", "--home", str(home), str(bundle)])
    assert done.exit_code == 0 and "Sequence 1" in done.output
    assert "could not ask for a new build of the site" in caplog.text


def test_nginx_maps_is_the_apps_policy_for_this_maps_tile_url(tmp_path: Path) -> None:
    home = _home(tmp_path)
    tiles = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    config = home / "map.toml"
    config.write_text(config.read_text().replace('tile_url = ""', f'tile_url = "{tiles}"'))
    printed = CliRunner().invoke(main, ["map", "nginx-maps", "--home", str(home)])
    assert printed.exit_code == 0, printed.output
    assert printed.output == build.nginx_maps(tiles)
    assert build.nginx_example().startswith(build.nginx_maps())  # the README's block too
    rules = re.findall(r'^\s+"~([^"]+)"\s+"([^"]+)";$', printed.output, re.M)
    default = re.search(r'^\s+default\s+"([^"]+)";$', printed.output, re.M)
    assert len(rules) == 2 and default
    for path in ("/", "/ru/", "/en/index.html", "/list/", "/ru/404.html", "/data/map.json",
                 "/static/map.css", "/data/entries.csv"):  # fmt: skip
        expected = build.csp_for(path, tiles)
        matched = next((csp for pattern, csp in rules if re.search(pattern, path)), None)
        assert (matched or default.group(1)) == expected, path
    assert "a.tile.example.org" in build.csp_for("/", tiles)
    client = create_app(home).test_client()
    for path in ("/", "/list/", "/data/map.json"):
        sent = client.get(path).headers["Content-Security-Policy"]
        assert sent == build.csp_for(path, tiles), path


def test_nginx_maps_needs_a_map_folder(tmp_path: Path) -> None:
    printed = CliRunner().invoke(main, ["map", "nginx-maps", "--home", str(tmp_path / "no")])
    assert printed.exit_code == 1 and "not a map folder" in printed.output
