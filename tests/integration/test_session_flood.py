"""A flood of anonymous requests through a real server ends no session that matters.

Two gunicorn workers sharing a 50-slot session table; 500 cookieless GETs of
every page and 500 language switches; then the woman who has just reported
still sees her codename, the one whose file was kept still sends it, and the
one reading her case is still logged in.
"""

from __future__ import annotations

from pathlib import Path

import requests

from securedrop_like.demo import install_demo_reviewer
from securedrop_like.instance import init_instance
from tests.conftest import CODENAME_RE, FAST_ARGON2, csrf_of
from tests.integration.server import running_server

TABLE = 50
FLOOD = 500
PAGES = ("/", "/report", "/login", "/codename", "/case", "/static/style.css")


def _report(s: requests.Session, base: str, text: str, **kwargs: object) -> requests.Response:
    token = csrf_of(s.get(base + "/report", timeout=10).text)
    data = {"csrf_token": token, "what_happened": text}
    return s.post(base + "/report", data=data, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_a_flood_through_a_real_server_ends_no_session_that_matters(tmp_path: Path) -> None:
    config = init_instance(
        tmp_path / "instance", {**FAST_ARGON2, "max_sessions": TABLE, "server_workers": 2}
    )
    install_demo_reviewer(config)
    with running_server(config.home, log=tmp_path / "server.log") as base:
        fresh = requests.Session()
        page = _report(fresh, base, "Just reported.")
        assert page.status_code == 200
        match = CODENAME_RE.search(page.text)
        assert match
        codename = match.group(1)

        keeping = requests.Session()
        kept = _report(
            keeping, base, "", files=[("files", ("kept.txt", b"evidence", "text/plain"))]
        )
        assert kept.status_code == 400 and "kept.txt" in kept.text

        reading = requests.Session()
        assert _report(reading, base, "An older report.").status_code == 200
        assert reading.get(base + "/case", timeout=10, allow_redirects=False).status_code == 200

        anonymous = requests.Session()
        for _ in range(FLOOD):
            for path in PAGES:
                response = anonymous.get(base + path, timeout=10, allow_redirects=False)
                # At most the form cookie, which is no session and takes no slot.
                cookie = response.headers.get("Set-Cookie", "")
                assert not cookie or cookie.startswith("sesim_form="), path
                assert "sesim_session" not in cookie, path
        for n in range(FLOOD):
            response = anonymous.get(
                f"{base}/lang/{('ru', 'en', 'az')[n % 3]}?next=/", timeout=10, allow_redirects=False
            )
            assert response.status_code == 303
            anonymous.cookies.clear()  # every switch a new visitor

        again = fresh.get(base + "/codename", timeout=10, allow_redirects=False)
        assert again.status_code == 200 and codename in again.text
        sent = _report(keeping, base, "Now with the words.")
        assert sent.status_code == 200 and CODENAME_RE.search(sent.text)
        keeping.get(base + "/lang/en?next=/case", timeout=10)
        case = keeping.get(base + "/case", timeout=10).text
        assert "<td>Report</td>" in case and "<td>File</td>" in case  # her kept file went too
        assert reading.get(base + "/case", timeout=10, allow_redirects=False).status_code == 200
