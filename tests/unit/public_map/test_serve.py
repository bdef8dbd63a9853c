"""`sesim serve map` as a real process on 127.0.0.1: it takes a bundle over HTTP and
serves the data files, with no cookie and nothing else but the headers the app sets."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from public_map.instance import init_map

from .chain import ONE, write_verify_file

ROOT = Path(__file__).resolve().parents[3]


def test_the_map_server_ingests_over_http_and_serves_the_data(tmp_path: Path) -> None:
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    process = subprocess.Popen(
        [sys.executable, "-c", "from sesim.cli import main; main()",
         "serve", "map", "--home", str(home), "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        base = f"http://127.0.0.1:{match.group(1)}"
        request = urllib.request.Request(  # noqa: S310 - loopback
            base + "/ingest", data=ONE, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            assert json.load(response)["added"] == 3
            assert response.headers.get("Set-Cookie") is None
        replay = urllib.request.Request(base + "/ingest", data=ONE)  # noqa: S310
        try:
            urllib.request.urlopen(replay, timeout=30)  # noqa: S310
            raise AssertionError("a replay was accepted")
        except urllib.error.HTTPError as exc:
            assert exc.code == 409 and "replayed" in json.load(exc)["error"]
        with urllib.request.urlopen(base + "/data/entries.json", timeout=30) as response:  # noqa: S310
            assert json.load(response)["count"] == 3
            assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
            assert response.headers.get("Set-Cookie") is None
        for path in ("/", "/list/?type=online", "/ru/list/", "/static/map.css"):
            with urllib.request.urlopen(base + path, timeout=30) as response:  # noqa: S310
                assert response.headers.get("Set-Cookie") is None
                if path != "/static/map.css":
                    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
                    assert "<html lang=" in response.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.stderr is not None
    assert "ingest" not in process.stderr.read()  # no access log with paths


def test_a_chunked_upload_over_the_cap_is_413_and_under_it_is_read_whole(tmp_path: Path) -> None:
    """A chunked body has no length to check first: werkzeug would cut it at the limit
    without a word; the map reads one byte over and says 413."""
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    process = subprocess.Popen(
        [sys.executable, "-c", "from sesim.cli import main; main()",
         "serve", "map", "--home", str(home), "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        match = re.search(r":(\d+)/", process.stdout.readline())
        assert match
        port = int(match.group(1))

        def post_chunked(pieces: Iterator[bytes]) -> tuple[int, dict[str, object]]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("POST", "/ingest", body=pieces, encode_chunked=True)
                response = conn.getresponse()
                return response.status, json.loads(response.read())
            finally:
                conn.close()

        big = (b" " * (1 << 20) for _ in range(17))
        status, body = post_chunked(big)
        assert status == 413 and "at most" in str(body["error"])
        status, body = post_chunked(ONE[i : i + 100] for i in range(0, len(ONE), 100))
        assert status == 200 and body["added"] == 3
    finally:
        process.terminate()
        process.wait(timeout=30)
