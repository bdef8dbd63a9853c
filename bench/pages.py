"""The byte size of every source page (HTML plus its CSS), in each language."""

from __future__ import annotations

import re

from bench.common import Results, Workspace

LIMIT = 20 * 1024


def pages(ws: Workspace, results: Results) -> None:
    from source_interface import create_app
    from tests.conftest import SourceBrowser

    config, _ = ws.instance("pages", argon2_opslimit=1, argon2_memlimit=8 * 2**20)
    app = create_app(config)
    sizes: dict[str, list[int]] = {}
    try:
        for lang in ("az", "ru", "en"):
            source = SourceBrowser(app.test_client())
            c = source.client
            c.get(f"/lang/{lang}")
            css = len(c.get("/static/style.css").data)
            got = {
                "start": c.get("/"),
                "report": c.get("/report"),
                "report with errors": c.post("/report", data={"csrf_token": source.token()}),
                "login": c.get("/login"),
                "login error": source.login("x" * 30),
            }
            source.report_and_get_codename("Page sizes.")
            got["codename check"] = c.get("/codename/check")
            got["case"] = c.get("/case")
            got["withdraw"] = c.get("/case/withdraw")
            got["logged out"] = source.logout()
            for name, response in got.items():
                html = response.get_data()
                assert re.search(rb"<script", html) is None
                sizes.setdefault(name, []).append(len(html) + css)
    finally:
        app.extensions["sesim"].service.close()
    for name, values in sizes.items():
        biggest = max(values)
        results.add(
            f"page bytes (HTML+CSS), {name}",
            f"{' / '.join(str(v) for v in values)} (az/ru/en)",
            "< 20 KB",
            biggest < LIMIT,
        )
