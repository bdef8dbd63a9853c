"""`sesim demo --tor`: both interfaces also as onions of a tor the demo starts and stops."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from crypto import is_onion_address
from tests.integration.server import free_port, stop


def _wait_for(log: Path, pattern: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text("utf-8", "replace")
        if re.search(pattern, text):
            return text
        if proc.poll() is not None:
            raise AssertionError(f"the demo stopped:\n{text}")
        time.sleep(0.1)
    raise AssertionError(f"no {pattern!r} in time:\n{log.read_text('utf-8', 'replace')}")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _tor_pids(home: Path) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-f", f"{home}/demo-tor/torrc"], capture_output=True, text=True, check=False
    )
    return [int(p) for p in out.stdout.split()]


def test_demo_with_tor_prints_onions_that_the_host_check_accepts(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    port = free_port()
    # staff, workstation, the map and intake take the next four
    while not all(_free(port + n) for n in (1, 2, 3, 4)):
        port = free_port()
    log = tmp_path / "demo.log"
    cmd = [sys.executable, "-m", "sesim", "demo", "--tor", "--home", str(home)]
    cmd += ["--base-port", str(port), "--reports", "2"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    try:
        text = _wait_for(log, r"Press Ctrl-C", proc, 60)
        source = re.search(r"Source onion:\s+http://(\S+)/", text)
        staff = re.search(r"Staff onion:\s+http://(\S+)/", text)
        key = re.search(r"Staff onion key for Tor Browser: (\S+)", text)
        assert source and staff and key, text
        assert is_onion_address(source[1]) and is_onion_address(staff[1])
        # Tor Browser's prompt takes the bare key only; the full line is for a tor
        # client's ClientOnionAuthDir, each on a line of its own.
        assert re.fullmatch(r"[A-Z2-7]{52}", key[1])
        assert len(base64.b32decode(key[1] + "====")) == 32
        line = re.search(r"ClientOnionAuthDir, as demo\.auth_private:\n\s+(\S+)\n", text)
        assert line, text
        assert line[1] == f"{staff[1].removesuffix('.onion')}:descriptor:x25519:{key[1]}"
        assert len(_tor_pids(home)) == 1
        # The public map's "how to report safely" names the demo's source onion.
        assert f'onion = "{source[1]}"' in (home / "map" / "map.toml").read_text("utf-8")
        base, staff_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(staff_base + "/login", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)

        def status(url: str, host: str | None = None) -> int:
            headers = {"Host": host} if host else {}
            return requests.get(url, headers=headers, timeout=10).status_code

        assert status(base + "/", source[1]) == 200
        assert status(base + "/") == 200  # 127.0.0.1 too, for the demo only
        assert status(base + "/", staff[1]) == 421
        assert status(base + "/", "evil.example") == 421
        assert status(staff_base + "/login", staff[1]) == 200
        assert status(staff_base + "/login", source[1]) == 421
        # The map's "how to report safely" page gives her the source onion.
        deadline = time.monotonic() + 30
        while True:
            try:
                report = requests.get(f"http://127.0.0.1:{port + 3}/en/report/", timeout=10)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert report.status_code == 200
        assert 'id="channel-onion"' in report.text and source[1] in report.text
    finally:
        stop(proc, signal.SIGINT, timeout=30)
    deadline = time.monotonic() + 15
    while _tor_pids(home) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = _tor_pids(home)
    for pid in leftover:  # only the tor this test's demo started
        os.kill(pid, signal.SIGKILL)
    assert leftover == [], "the demo's tor outlived it"
