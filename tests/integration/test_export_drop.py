"""An export download cut off half-way, through a real gunicorn staff server: nothing
counts as exported, so "everything not yet downloaded" takes it all again."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests

from journalist_interface.accounts import StaffAccounts
from journalist_interface.totp import PERIOD, code_at
from securedrop_like import bundles
from securedrop_like.db import Database
from securedrop_like.demo import install_demo_reviewer
from securedrop_like.instance import init_instance
from source_interface import create_app
from tests.conftest import FAST_ARGON2, SourceBrowser, csrf_of
from tests.integration.server import running_server

BIG = 16 * 1024 * 1024  # far more than the socket buffers between the two ends


def _exported(home: Path) -> list[int]:
    from securedrop_like.instance import open_instance

    database = Database.for_config(open_instance(home))
    try:
        return [int(r[0]) for r in database.reader().execute("SELECT exported FROM items")]
    finally:
        database.close()


def test_a_download_cut_off_half_way_leaves_everything_to_download(tmp_path: Path) -> None:
    home = tmp_path / "instance"
    config = init_instance(home, dict(FAST_ARGON2))
    install_demo_reviewer(config)
    accounts_db = Database.for_config(config)
    lawyer = StaffAccounts(accounts_db, opslimit=1, memlimit=8 * 1024 * 1024).add("leyla")
    accounts_db.close()
    source_app = create_app(config, TESTING=True)
    SourceBrowser(source_app.test_client()).report_and_get_codename(
        "A report with a large photo.", files=[(os.urandom(BIG), "photo.jpg")]
    )
    source_app.extensions["sesim"].service.close()
    items = len(_exported(home))
    assert _exported(home) == [0] * items and items >= 2

    with running_server(home, "staff", tmp_path / "staff.log") as base:
        s = requests.Session()
        token = csrf_of(s.get(base + "/login", timeout=10).text)
        code = code_at(lawyer.totp_secret, int(time.time()) // PERIOD)
        form = {"csrf_token": token, "username": "leyla", "password": lawyer.password}
        inbox = s.post(base + "/login", data={**form, "code": code}, timeout=60)
        assert inbox.status_code == 200 and "/login" not in inbox.url, inbox.text[:2000]
        token = csrf_of(inbox.text)

        # A raw connection that reads a little of the bundle and then drops, as a
        # Tor circuit that breaks half-way does.
        parts = urlsplit(base)
        body = urlencode({"csrf_token": token, "which": "new"}).encode()
        cookies = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
        request = (
            f"POST /export HTTP/1.1\r\nHost: {parts.netloc}\r\nCookie: {cookies}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        with socket.socket() as raw:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            raw.settimeout(30)
            raw.connect((parts.hostname or "127.0.0.1", parts.port or 80))
            raw.sendall(request)
            got = b""
            while len(got) < 256 * 1024:
                chunk = raw.recv(65536)
                assert chunk, got[:500]
                got += chunk
            assert got.startswith(b"HTTP/1.1 200"), got[:500]
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        # The connection is reset: nothing was marked exported.
        assert _exported(home) == [0] * items

        # "Everything not yet downloaded" takes both items again, whole; then they count.
        again = s.post(base + "/export", data={"csrf_token": token, "which": "new"}, timeout=120)
        assert again.status_code == 200
        bundle = tmp_path / "export.tar"
        bundle.write_bytes(again.content)
        with bundle.open("rb") as src, bundles.read_export(src) as reader:
            sizes = [len(stream.read()) for _entry, stream in reader]
        assert len(sizes) == items and max(sizes) > BIG
        # The server marks them once it has handed on the last chunk, which may be a
        # moment after the client has read it: wait for that (bounded).
        deadline = time.monotonic() + 30
        while _exported(home) != [1] * items and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _exported(home) == [1] * items
        nothing = s.post(base + "/export", data={"csrf_token": token, "which": "new"}, timeout=30)
        assert "done=nothing_to_export" in nothing.url
