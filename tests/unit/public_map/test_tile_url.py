"""``site.tile_url`` in map.toml: only a template Leaflet can fill and a CSP can name is
accepted, and the map page's ``img-src`` lists its real origins, never a wildcard. A
non-ASCII host once passed and then the real server could not encode the header (every
map-page connection dropped, which the test client hid): the last test asks the real
server."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from public_map import map_page
from public_map.app import create_app
from public_map.instance import MapError, init_map, load_settings, open_map, tile_origins

from .chain import write_verify_file

ROOT = Path(__file__).resolve().parents[3]

REFUSED = [
    ("https://тайлы.example/{z}/{x}/{y}.png", "must have an ASCII host name: write xn--"),
    ("https://{s}/{z}/{x}/{y}", "{s} only as a whole label of a longer name"),
    ("https://{s}.example/{z}/{x}/{y}", "{s} only as a whole label of a longer name"),
    ("https://*/{z}/{x}/{y}", "must name one host"),
    ("https://*.example.org/{z}/{x}/{y}", "must name one host"),
    ("https://tile-{s}.example.org/{z}/{x}/{y}", "must name one host"),
    ("https://a.example:443;script-src/{z}/{x}/{y}", "scheme://host:port (a number)"),
    ("https://a.example:99999/{z}/{x}/{y}", "scheme://host:port (a number)"),
    ("https://a.example%2F/{z}/{x}/{y}", "must name one host"),
    ("https://a$b.example/{z}/{x}/{y}", "must name one host"),
    ("https://a.example/{z}/{x}/{y}?k={apikey}", "only the placeholders {s}, {z}, {x}, {y}"),
    ("https://a.example/{z}/{x}/{y}.png?k={", "only the placeholders {s}, {z}, {x}, {y}"),
    ("https://a.example/{z}/{x}/{y}}", "only the placeholders {s}, {z}, {x}, {y}"),
    ("https://a.example/{z}/{x}.png", "must hold {z}, {x} and {y}"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED, ids=[u for u, _ in REFUSED])
def test_a_tile_url_a_browser_or_leaflet_cannot_use_is_refused(
    tmp_path: Path, url: str, message: str
) -> None:
    path = tmp_path / "map.toml"
    path.write_text(f'[site]\ntile_url = "{url}"\n', "utf-8")
    with pytest.raises(MapError) as raised:
        load_settings(path)
    assert str(raised.value).startswith("map.toml: site.tile_url ")
    assert message in str(raised.value)
    assert map_page.tile_origins(url) == ()  # and the page would not use it either
    assert "img-src 'self';" in map_page.csp(url)


def test_the_origins_are_real_ones() -> None:
    assert tile_origins("https://{s}.tile.Example.org/{z}/{x}/{y}{r}.png") == (
        "https://a.tile.example.org", "https://b.tile.example.org", "https://c.tile.example.org"
    )  # fmt: skip
    assert tile_origins("http://127.0.0.1:8083/{z}/{x}/{y}") == ("http://127.0.0.1:8083",)
    assert tile_origins("https://xn--80a1acny.example/t/{s}/{z}/{x}/{y}.png?k=1") == (
        "https://xn--80a1acny.example",
    )
    csp = map_page.csp("https://t.example.org:8443/{z}/{x}/{y}.png")
    assert "img-src 'self' https://t.example.org:8443;" in csp


def _with_tile_url(tmp_path: Path, url: str) -> Path:
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    config = home / "map.toml"
    config.write_text(config.read_text().replace('tile_url = ""', f'tile_url = "{url}"'))
    return home


def test_the_real_server_sends_the_map_page_with_the_tile_origins(tmp_path: Path) -> None:
    home = _with_tile_url(tmp_path, "https://{s}.tile.example.org/{z}/{x}/{y}{r}.png")
    process = subprocess.Popen(
        [sys.executable, "-c", "from sesim.cli import main; main()",
         "serve", "map", "--home", str(home), "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", process.stdout.readline())
        assert match
        for path in ("/", "/ru/", "/en/?type=verbal"):
            url = f"http://127.0.0.1:{match.group(1)}{path}"
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
                assert response.status == 200
                csp = response.headers["Content-Security-Policy"]
                assert 'id="map-config"' in response.read().decode()
            assert (
                "img-src 'self' https://a.tile.example.org https://b.tile.example.org"
                " https://c.tile.example.org;"
            ) in csp
            assert "*" not in csp
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_real_server_refuses_to_start_with_a_non_ascii_host(tmp_path: Path) -> None:
    home = _with_tile_url(tmp_path, "https://тайлы.example/{z}/{x}/{y}.png")
    done = subprocess.run(
        [sys.executable, "-c", "from sesim.cli import main; main()",
         "serve", "map", "--home", str(home), "--port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "map.toml: site.tile_url must have an ASCII host name" in done.stderr


def test_a_settings_object_that_skipped_map_toml_still_gives_a_header_the_server_can_send(
    tmp_path: Path,
) -> None:
    """Second line of defence: settings made in code (no map.toml check) with a non-ASCII
    host: the page goes without the tiles, the real server still answers."""
    home = _with_tile_url(tmp_path, "")
    instance = open_map(home)
    instance = dataclasses.replace(
        instance,
        settings=dataclasses.replace(
            instance.settings, tile_url="https://тайлы.example/{z}/{x}/{y}.png"
        ),
    )
    server = make_server("127.0.0.1", 0, create_app(instance), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/en/"
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
            assert response.status == 200
            assert "img-src 'self';" in response.headers["Content-Security-Policy"]
            assert '"tile_url": ""' in response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
