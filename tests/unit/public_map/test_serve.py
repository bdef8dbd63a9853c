"""`sesim serve map` as a real process on 127.0.0.1: it takes a bundle over HTTP and
serves the data files, with no cookie and nothing else but the headers the app sets."""

from __future__ import annotations

import datetime
import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from public_map import store
from public_map.app import MAX_READING_AT_ONCE, MAX_UPLOADS_AT_ONCE, create_app
from public_map.instance import init_map
from securedrop_like.serve import QuietRequestHandler, make_quiet_server

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


def test_the_map_server_prints_and_sends_nothing_identifying(tmp_path: Path) -> None:
    """Garbage, a bad HTTP version, a 70 kB path and a request that fails inside the app
    (its database made unreadable): stdout, stderr and the headers name no address, no
    time and no software (DESIGN.md: logs carry no IP; README: no access log)."""
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    process = subprocess.Popen(
        [sys.executable, "-c", "from sesim.cli import main; main()",
         "serve", "map", "--home", str(home), "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    answers: list[bytes] = []
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r":(\d+)/", first)
        assert match, first
        port = int(match.group(1))

        def send(raw: bytes) -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(raw)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
                return data

        answers.append(send(b"GET /about/ HTTP/1.1\r\nHost: a\r\n\r\n"))
        answers.append(send(b"GARBAGE\r\n\r\n"))
        answers.append(send(b"GET / HTTP/9.9\r\n\r\n"))
        answers.append(send(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n"))
        (home / store.DB_FILE).write_bytes(b"not a database " * 1000)
        for name in (store.DB_FILE + "-wal", store.DB_FILE + "-shm"):
            (home / name).unlink(missing_ok=True)
        answers.append(send(b"GET /data/entries.json HTTP/1.1\r\nHost: a\r\n\r\n"))
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert answers[0].startswith(b"HTTP/1.1 200")
    assert answers[-1].startswith(b"HTTP/1.1 500")  # the request did fail inside the app
    printed = first + out + err
    assert "unexpected" in printed  # the failure is logged, by its type only
    today = datetime.datetime.now()
    for secret in (
        "127.0.0.1 -", "127.0.0.1:" + str(port) + " ", today.strftime("%d/%b/%Y"),
        today.strftime("%Y-%m-%d"), "GARBAGE", "aaaaaaaa", "Traceback", "Werkzeug", "Python",
        "entries.json",
    ):  # fmt: skip
        assert secret not in printed, (secret, printed)
    for answer in answers:
        head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        assert "werkzeug" not in head.lower() and "python" not in head.lower(), head


class _ShortHandler(QuietRequestHandler):
    timeout = 1.0
    request_deadline = 3.0


def test_idle_uploads_do_not_hold_the_upload_slots(tmp_path: Path) -> None:
    """Two connections that send a large Content-Length and one byte: before, they held
    both upload slots forever and every other upload got 503. Now the slot is taken once
    the body is whole, and the server cuts the idle senders off."""
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    app = create_app(home)
    server = make_quiet_server("127.0.0.1", 0, app, handler=_ShortHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    idle = []
    try:
        port = server.server_port
        for _ in range(MAX_UPLOADS_AT_ONCE):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(
                b"POST /ingest HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                b"Content-Length: 16000000\r\n\r\n{"
            )
            idle.append(sock)
        reading = app.extensions["sesim_map_reading"]
        for _ in range(200):  # until both are inside /ingest, reading (bounded wait)
            if reading._value == MAX_READING_AT_ONCE - MAX_UPLOADS_AT_ONCE:  # noqa: SLF001
                break
            threading.Event().wait(0.01)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/ingest", body=ONE, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200, response.read()
        assert json.loads(response.read())["added"] == 3
        conn.close()
        for sock in idle:  # cut off (an answer or not), well before the client's 30 s
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]
    finally:
        for sock in idle:
            sock.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
