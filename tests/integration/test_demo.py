"""`sesim demo` (what `make run` starts): the source and staff interfaces, and the
offline workstation on 127.0.0.1 with the demo's reports already imported and a
first publication bundle the public map can verify."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from journalist_interface.workstation.keys import read_verify_key_file
from securedrop_like.bundles import read_publication
from tests.conftest import csrf_of
from tests.integration.server import free_port, stop
from tests.integration.test_demo_tor import _free, _wait_for


def _answers(url: str, proc: subprocess.Popen[bytes], log: Path) -> requests.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)


def test_the_demo_serves_every_part_and_its_workstation_holds_the_reports(
    tmp_path: Path,
) -> None:
    home = tmp_path / "demo"
    port = free_port()
    while not (_free(port + 1) and _free(port + 2)):
        port = free_port()
    log = tmp_path / "demo.log"
    cmd = [sys.executable, "-m", "sesim", "demo", "--home", str(home), "--host", "127.0.0.1"]
    cmd += ["--base-port", str(port), "--reports", "12"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    try:
        text = _wait_for(log, r"Press Ctrl-C", proc, 120)
        found = re.search(r"Workstation:\s+http://127\.0\.0\.1:(\d+)/", text)
        phrase = re.search(r"Its passphrase:\s+(.+?)  \(DEMO ONLY\)", text)
        assert found and phrase, text
        assert int(found[1]) == port + 2
        assert _answers(f"http://127.0.0.1:{port}/", proc, log).status_code == 200
        assert _answers(f"http://127.0.0.1:{port + 1}/login", proc, log).status_code == 200

        desk = f"http://127.0.0.1:{port + 2}"
        browser = requests.Session()
        page = _answers(desk + "/unlock", proc, log)
        assert page.status_code == 200
        browser.cookies.update(page.cookies)
        unlocked = browser.post(
            desk + "/unlock",
            data={"csrf_token": csrf_of(page.text), "passphrase": phrase[1]},
            timeout=30,
        )
        assert unlocked.status_code == 200, unlocked.text
        cases = browser.get(desk + "/cases", timeout=10)
        assert cases.status_code == 200
        # Every demo source is a case here (the one who withdrew is marked so).
        assert len(set(re.findall(r'href="/cases/(\d+)"', cases.text))) >= 12

        bundle = home / "workstation" / "publications" / "sesim-publication-1.json"
        verify_key = read_verify_key_file(home / "workstation" / "publication.verify")
        published = read_publication(bundle, verify_key, expect_sequence=1)
        assert published.entries
    finally:
        stop(proc, signal.SIGINT, timeout=30)
    assert proc.returncode is not None
    deadline = time.monotonic() + 15
    while not all(_free(p) for p in (port, port + 1, port + 2)):
        assert time.monotonic() < deadline, "a part of the demo outlived it"
        time.sleep(0.1)
