"""Canary: a unique string sent every way a source can send it must appear nowhere
on the server's disk or in its logs — not as UTF-8, UTF-16 or base64."""

from __future__ import annotations

import base64
import re
import secrets
import tempfile
from pathlib import Path

import requests

from tests.conftest import CODENAME_RE, Instance, csrf_of
from tests.integration.server import running_server


def _needles(canary: str) -> list[bytes]:
    raw = canary.encode()
    needles = [raw, canary.encode("utf-16-le"), canary.encode("utf-16-be")]
    for shift in range(3):  # base64 of the canary at each alignment, minus the edges
        encoded = base64.b64encode(b"\x00" * shift + raw)
        needles.append(encoded[4:-4])
    return needles


def _search(roots: list[Path], needles: list[bytes]) -> list[str]:
    hits = []
    for root in roots:
        for path in root.rglob("*"):
            try:
                if not path.is_file() or path.is_symlink():
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            hits.extend(f"{path}: {n[:12]!r}" for n in needles if n in data)
    return hits


def test_canary_never_reaches_disk_or_logs(instance: Instance, tmp_path: Path) -> None:
    canary = "CANARY" + secrets.token_hex(12) + "ŞəbnəmЖ"
    log = tmp_path / "server.log"
    with running_server(instance.home, log=log) as base:
        s = requests.Session()
        token = csrf_of(s.get(base + "/report", timeout=10).text)
        files = [
            ("files", (f"{canary}.txt", f"file body {canary}".encode(), "text/plain")),
            ("files", ("photo.jpg", canary.encode() * 50_000, "image/jpeg")),  # a multi-chunk file
        ]
        data = {
            "csrf_token": token,
            "what_happened": f"It happened. {canary}",
            "landmark": canary,
            "when_kind": "date",
            "when_date": canary,
            "district": canary,
            "types": canary,
        }
        bad = s.post(base + "/report", data=data, files=files, timeout=30)
        assert bad.status_code == 400  # the date is the canary: the form comes back…
        assert canary in bad.text  # …with what she typed
        data["when_date"] = "2026-10-01"
        data["csrf_token"] = csrf_of(bad.text)
        ok = s.post(base + "/report", data=data, timeout=30)
        # The codename page is the answer to the POST itself (issue 8: no 303 window).
        assert ok.status_code == 200 and ok.url.endswith("/report") and not ok.history
        codename = CODENAME_RE.search(ok.text).group(1)  # type: ignore[union-attr]
        case = s.get(base + "/case", timeout=10).text
        s.post(
            base + "/case/message",
            timeout=30,
            data={"csrf_token": csrf_of(case), "message": f"more {canary}"},
            files=[("files", (canary, canary.encode(), "application/octet-stream"))],
        )
        s.post(base + "/logout", data={"csrf_token": csrf_of(case)}, timeout=10)
        login = requests.Session()
        page = login.post(
            base + "/login",
            timeout=30,
            data={
                "csrf_token": csrf_of(login.get(base + "/login", timeout=10).text),
                "codename": codename,
            },
        )
        assert "/case" in page.url
        assert len(re.findall(r"<tr><td>", page.text)) == 5  # report, 2 files, message, file
    roots = [instance.home, Path(tempfile.gettempdir())]
    hits = _search(roots, _needles(canary))
    assert hits == [], hits
    assert canary not in log.read_text(errors="replace")
    assert "127.0.0.1" not in log.read_text(errors="replace")  # no access log


def test_canary_search_finds_each_encoding(tmp_path: Path) -> None:
    canary = "CANARY" + secrets.token_hex(12)
    for n, blob in enumerate(
        [canary.encode(), canary.encode("utf-16-le"), base64.b64encode(b"xy" + canary.encode())]
    ):
        (tmp_path / f"decoy{n}").write_bytes(b"prefix" + blob + b"suffix")
    assert len(_search([tmp_path], _needles(canary))) >= 3
