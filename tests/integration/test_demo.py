"""`sesim demo` (what `make run` starts): the source and staff interfaces, the
offline workstation on 127.0.0.1 with the demo's reports already imported and a
first publication bundle, and the public map on base-port + 3 serving that bundle."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import requests

from journalist_interface.workstation.keys import read_verify_key_file
from securedrop_like.bundles import read_publication
from securedrop_like.db import Database
from securedrop_like.instance import open_instance
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
    while not (_free(port + 1) and _free(port + 2) and _free(port + 3)):
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
        shown_map = re.search(r"Public map:\s+http://127\.0\.0\.1:(\d+)/", text)
        signer = re.search(r"Demo lawyer:\s+(\S+) / ", text)
        assert found and phrase and shown_map and signer, text
        assert int(found[1]) == port + 2
        assert int(shown_map[1]) == port + 3
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
        ids = {entry.id for entry in published.entries}
        # Enough synthetic consented entries that the map looks like one.
        assert len(ids) >= 40

        # The map serves exactly what the workstation published: the open data and
        # every page of the no-JavaScript list.
        public_map = f"http://127.0.0.1:{port + 3}"
        data = _answers(public_map + "/data/entries.json", proc, log).json()
        assert data["count"] == len(data["entries"]) == len(ids)
        assert {entry["id"] for entry in data["entries"]} == ids
        listed: list[str] = []
        url: str | None = public_map + "/list/"
        while url:
            page = requests.get(url, timeout=10)
            assert page.status_code == 200
            count = re.search(r'id="count"[^>]*>\D*(\d+)', page.text)
            assert count and int(count[1]) == len(ids), page.text
            listed += re.findall(r'href="/entry/([0-9a-f]{32})/"', page.text)
            more = re.search(r'rel="next" href="([^"]+)"', page.text)
            url = urljoin(url, more[1].replace("&amp;", "&")) if more else None
        assert sorted(listed) == sorted(ids)

        # The demo's map folder is a map like any other: it builds as a static site.
        site = tmp_path / "site"
        built = subprocess.run(
            [sys.executable, "-m", "sesim", "map", "build", "--home", str(home / "map")]
            + ["--out", str(site)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert built.returncode == 0, built.stderr
        assert (site / "index.html").is_file()
        static_data = json.loads((site / "data" / "entries.json").read_text("utf-8"))
        assert {entry["id"] for entry in static_data["entries"]} == ids
    finally:
        stop(proc, signal.SIGINT, timeout=30)
    assert proc.returncode is not None
    deadline = time.monotonic() + 15
    while not all(_free(p) for p in (port, port + 1, port + 2, port + 3)):
        assert time.monotonic() < deadline, "a part of the demo outlived it"
        time.sleep(0.1)
    # The synthetic replies are signed by the demo's own staff account, who exists.
    conn = Database.for_config(open_instance(home)).open()
    try:
        authors = {r[0] for r in conn.execute("SELECT author FROM items WHERE kind = 'reply'")}
    finally:
        conn.close()
    assert authors == {signer[1]}
