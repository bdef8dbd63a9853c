"""`sesim workstation serve` (and `sesim serve workstation`) through the real command line.

A non-loopback --host is refused before anything listens, with a clear message
and a non-zero exit; on 127.0.0.1 the server answers, and only under a
loopback Host.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from journalist_interface.workstation import keys

TIMEOUT = 60


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    keys.init_home(home, "a passphrase for the test", name="Aysel", opslimit=1, memlimit=8 << 20)
    return home


def _sesim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sesim", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def _serve_workstation_wired() -> bool:
    return "workstation" in _sesim("serve", "--help").stdout


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])  # noqa: S104
@pytest.mark.parametrize("command", [("workstation", "serve"), ("serve", "workstation")])
def test_a_network_address_is_refused(home: Path, host: str, command: tuple[str, str]) -> None:
    if command[0] == "serve" and not _serve_workstation_wired():
        pytest.skip("`sesim serve workstation` is not wired in this build (composition root)")
    result = _sesim(*command, "--home", str(home), "--host", host, "--port", "0")
    assert result.returncode != 0
    assert "loopback" in result.stderr and "127.0.0.1" in result.stderr
    assert "Workstation on" not in result.stdout  # it never started


def test_a_folder_that_is_no_workstation_is_refused(tmp_path: Path) -> None:
    result = _sesim("workstation", "serve", "--home", str(tmp_path / "nothing"), "--port", "0")
    assert result.returncode != 0
    assert "not a workstation home" in result.stderr
    assert "Workstation on" not in result.stdout


def test_it_serves_on_loopback_only(home: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sesim", "workstation", "serve", "--home", str(home), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # bounded: the process is killed below in any case
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        port = int(match.group(1))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/unlock")
        response = conn.getresponse()
        assert response.status == 200
        assert "default-src 'none'" in response.getheader("Content-Security-Policy", "")
        response.read()
        conn.request("GET", "/unlock", headers={"Host": "attacker.example"})
        assert conn.getresponse().status == 421
        conn.close()
        listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
        ours = [row.split() for row in listening if row.split()[1].endswith(f":{port:04X}")]
        assert ours and all(row[1].startswith("0100007F:") for row in ours)  # 127.0.0.1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
