"""The map page in Chromium, as QA sees it (issue 10): its count agrees with the open data
under every filter and a cluster's total equals the points on the map (one entry is a
cluster of 1, never 2); hostile text in the bundles never runs (no dialog, no console
error, no CSP violation, nothing of it in the DOM: the map document holds no text); and
the DOM after the script ran is valid HTML (vnu.jar, one run for every state)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from playwright.sync_api import Error as PlaywrightError

from public_map.app import create_app
from public_map.instance import init_map
from securedrop_like.bundles import bundle_sha256
from tests.browser.conftest import _context, _QuietHandler
from tests.browser.mapsite import map_status
from tests.unit.public_map.chain import (
    ONE,
    THREE,
    TWO,
    VARIED,
    bundle,
    payload_entries,
    varied_entries,
    write_verify_file,
)
from tests.unit.public_map.test_counts_agree import FILTERS
from tests.unit.public_map.vnu import validate

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

PAYLOADS_AFTER_VARIED = bundle(5, bundle_sha256(VARIED), payload_entries())
LONE = dataclasses.replace(varied_entries(1, 0x7000)[0], month="2022-03", summary="Alone.")
LONE_BUNDLE = bundle(6, bundle_sha256(PAYLOADS_AFTER_VARIED), (LONE,))


class LiveMap(str):
    """The live map's base URL, and its home (for the static build)."""

    home: Path


@pytest.fixture(scope="module")
def live_map(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[LiveMap]:
    from werkzeug.serving import make_server

    home = tmp_path_factory.mktemp("qa-map")
    init_map(home / "map", write_verify_file(home / "publication.verify"))
    app = create_app(home / "map")
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    client = app.test_client()
    for data in (ONE, TWO, THREE, VARIED, PAYLOADS_AFTER_VARIED, LONE_BUNDLE):
        response = client.post("/ingest", data=data, content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="qa-map", daemon=True)
    thread.start()
    try:
        url = LiveMap(f"http://127.0.0.1:{server.server_port}")
        url.home = home / "map"
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def watch(tab: Any) -> list[str]:
    """What went wrong in ``tab``: a dialog (a script from data ran), a page error, a
    console error or warning (a CSP violation is one), a failed subresource."""
    problems: list[str] = []

    def on_dialog(dialog: Any) -> None:
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def on_console(message: Any) -> None:
        if message.type in ("error", "warning") and "Failed to load resource" not in message.text:
            problems.append(f"console {message.type}: {message.text}")

    def on_response(response: Any) -> None:
        document = response.request.resource_type == "document"
        if response.status >= 400 and not document:
            problems.append(f"{response.status} {response.url}")

    tab.on("dialog", on_dialog)
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on("console", on_console)
    tab.on("response", on_response)
    return problems


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A phone with JavaScript on (the page's own CSP applies), failing on any problem
    :func:`watch` sees."""
    contexts = _context(chromium, java_script_enabled=True)
    context = next(contexts)
    try:
        tab = context.new_page()
        tab.problems = watch(tab)
        yield tab
        assert tab.problems == [], tab.problems
    finally:
        contexts.close()


def _rows(live_map: str) -> list[dict[str, Any]]:
    with urlopen(live_map + "/data/entries.json", timeout=30) as response:  # noqa: S310
        return json.load(response)["entries"]  # type: ignore[no-any-return]



def test_the_map_status_agrees_with_the_open_data_under_every_filter(
    live_map: str, page: Any
) -> None:
    rows = _rows(live_map)
    assert len(rows) == 63 + len(payload_entries()) + 1
    for query, wanted in FILTERS:
        page.goto(f"{live_map}/en/?{query}")
        found = map_status(page)
        chosen = [e for e in rows if wanted(e)]
        expected = {
            "total": len(chosen),
            "on_map": sum(1 for e in chosen if e["lat"] is not None),
        }
        expected["clustered"] = expected["on_map"]
        assert found == expected, query


def test_one_entry_alone_is_a_cluster_of_one(live_map: str, page: Any) -> None:
    """A filter that leaves exactly one entry with a point: 1 on the map, 1 clustered."""
    assert LONE.point is not None
    rows = _rows(live_map)
    assert [e["id"] for e in rows if e["month"] == "2022-03"] == [LONE.id]
    query = "from=2022-03&to=2022-03"
    page.goto(f"{live_map}/?{query}")
    assert map_status(page) == {"total": 1, "on_map": 1, "clustered": 1}


def test_hostile_text_never_runs_and_never_reaches_the_map_page(live_map: str, page: Any) -> None:
    page.goto(f"{live_map}/ru/")
    map_status(page)
    # Open a popup of every single point in view, and zoom into clusters.
    for _ in range(3):
        clusters = page.locator(".map-cluster")
        if clusters.count() == 0:
            break
        clusters.first.click()
        page.wait_for_timeout(400)  # the zoom animation; bounded
    points = page.locator("path.entry")
    opened = 0
    for n in range(min(points.count(), 10)):
        try:
            points.nth(n).click(timeout=2000)
        except PlaywrightError:  # a point under another one is not clickable
            continue  # noqa: S112
        popup = page.locator(".leaflet-popup-content").last
        popup.wait_for(state="visible")
        assert popup.locator("script, img, iframe, svg").count() == 0
        assert "qx" not in popup.inner_text()
        popup.locator("a[href*='/entry/']").wait_for()  # once map-ids.json is here
        assert popup.locator("a[href*='/entry/']").count() == 1
        opened += 1
    assert opened >= 1, "no popup could be opened"
    assert "qx" not in page.content()
    # Her words on the entry pages and the stories: shown as text, exactly, running nothing.
    for entry in payload_entries():
        page.goto(f"{live_map}/en/entry/{entry.id}/")
        assert page.locator("article h1").inner_text() == entry.summary
        if entry.story:
            shown = page.locator(".story p").all_inner_texts()
            assert shown == [line for line in entry.story.split("\n") if line.strip()]
    page.goto(f"{live_map}/ru/stories/")
    # Hostile filters in the URL: refused by the server, never run by the script.
    for query in (
        "district=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "type=%22%3E%3Csvg%20onload%3Dalert(1)%3E",
    ):
        response = page.goto(f"{live_map}/?{query}")
        assert response.status == 400
        page.wait_for_timeout(500)
    assert page.problems == []


def test_the_pages_dom_after_the_script_ran_is_valid_html(
    live_map: str, page: Any, tmp_path: Path
) -> None:
    files = []
    for n, path in enumerate(["/", "/en/?type=verbal&district=nasimi", "/ru/?from=2024-01"]):
        page.goto(live_map + path)
        map_status(page)
        files.append(tmp_path / f"dom{n}.html")
        files[-1].write_text(page.content(), "utf-8")
    # With a popup open.
    point = page.locator("path.entry")
    if point.count():
        point.first.click()
        page.locator(".leaflet-popup-content").last.wait_for(state="visible")
        page.locator(".leaflet-popup-content a[href]").last.wait_for()
        files.append(tmp_path / "dom-popup.html")
        files[-1].write_text(page.content(), "utf-8")
    # The other pages, with JavaScript on (they have none: their DOM is the HTML).
    for path in ("/list/", "/stats/", "/stories/", "/data/"):
        page.goto(live_map + path)
        files.append(tmp_path / f"dom{path.strip('/')}.html")
        files[-1].write_text(page.content(), "utf-8")
    errors = validate(files)
    assert errors == [], "\n".join(errors)


@pytest.fixture(scope="module")
def static_site(live_map: LiveMap, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The static build of the same map (``sesim map build``), served by a plain file
    server on 127.0.0.1 (as nginx would: ``index.html`` for a folder)."""
    import functools
    import http.server

    from public_map.build import build_site

    out = tmp_path_factory.mktemp("qa-static") / "site"
    build_site(live_map.home, out)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    handler = functools.partial(Quiet, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="qa-static", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_the_static_sites_map_counts_agree_under_a_filter_in_the_url(
    live_map: str, static_site: str, page: Any
) -> None:
    rows = _rows(live_map)
    for query, wanted in FILTERS[:: max(1, len(FILTERS) // 8)]:
        page.goto(f"{static_site}/en/?{query}")
        chosen = [e for e in rows if wanted(e)]
        on_map = sum(1 for e in chosen if e["lat"] is not None)
        assert map_status(page) == {"total": len(chosen), "on_map": on_map, "clustered": on_map}


def test_after_a_retraction_the_map_in_the_same_tab_counts_without_it(
    tmp_path: Path, compiled_translations: Path, page: Any
) -> None:
    """The browser holds map.json from before (ETag, no-cache): after the retraction
    bundle a reload shows the new count, and the retracted entries are not on the map."""
    from urllib.request import Request

    from werkzeug.serving import make_server

    from tests.unit.public_map.test_retraction_everywhere import GONE, RETRACT

    init_map(tmp_path / "map", write_verify_file(tmp_path / "publication.verify"))
    app = create_app(tmp_path / "map")
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    client = app.test_client()
    for data in (ONE, TWO, THREE, VARIED):
        assert client.post("/ingest", data=data, content_type="application/json").status_code == 200
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="qa-retract", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        rows = _rows(base)
        on_map = sum(1 for e in rows if e["lat"] is not None)
        page.goto(base + "/en/")
        assert map_status(page) == {"total": len(rows), "on_map": on_map, "clustered": on_map}
        upload = Request(  # noqa: S310 - loopback
            base + "/ingest", data=RETRACT, headers={"Content-Type": "application/json"}
        )
        with urlopen(upload, timeout=30) as response:  # noqa: S310 - loopback
            assert json.load(response)["retracted"] == len(GONE)
        gone_on_map = sum(1 for e in GONE if e.point is not None)
        page.reload()
        page.wait_for_function(
            "n => document.getElementById('map-status').dataset.total === String(n)",
            arg=len(rows) - len(GONE),
        )
        left = on_map - gone_on_map
        total = len(rows) - len(GONE)
        assert map_status(page) == {"total": total, "on_map": left, "clustered": left}
        page.goto(base + f"/en/entry/{GONE[0].id}/")
        assert "There is no such page" in page.content()
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
