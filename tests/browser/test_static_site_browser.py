"""The static site (``sesim map build``) in Debian's Chromium, served from its folder by
Python's ``http.server`` on 127.0.0.1 with the headers README's nginx block sends
(``build.csp_for``): the map page draws the districts and the clusters from
``data/map.json`` alone, its count equals the static list's (whole, per type, per
district) and the clusters' total equals the entries with a point; every request goes
to the site's own origin; no console error or CSP violation; without JavaScript the
lists per type and district and the entry pages work by links. Screenshots go to
``test-artifacts/static-site/``.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from public_map.build import build_site, csp_for
from public_map.ingest import ingest
from public_map.instance import init_map
from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.mapsite import map_status, new_page
from tests.unit.public_map.chain import ONE, THREE, TWO, XSS_ID, write_verify_file
from tests.unit.public_map.test_pages import FOUR

pytestmark = pytest.mark.browser

COUNT = 27  # the entries left after ONE, TWO, THREE and FOUR


class _StaticHandler(SimpleHTTPRequestHandler):
    """Files from the built folder, with the headers nginx would add; no access log."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".geojson": "application/geo+json",
        ".js": "text/javascript",
    }

    def end_headers(self) -> None:
        path = urlsplit(self.path).path
        self.send_header("Content-Security-Policy", csp_for(path))
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("static-site")
    instance = init_map(tmp / "map", write_verify_file(tmp / "publication.verify"))
    for data in (ONE, TWO, THREE, FOUR):
        ingest(instance, data)
    out = tmp / "out"
    build_site(instance, out)
    handler = functools.partial(_StaticHandler, directory=str(out))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.timeout = 10
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", out
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()




def _list_count(out: Path, path: str) -> int:
    """The count a static list page shows (read from its file)."""
    html = (out / path.lstrip("/") / "index.html").read_text("utf-8")
    found = re.search(r'id="count"[^>]*>(\d+) entr', html)
    assert found, path
    return int(found.group(1))


def test_the_static_map_draws_and_its_counts_equal_the_static_lists(
    chromium: Any, site: tuple[str, Path], artifacts: Path
) -> None:
    url, out = site
    folder = artifacts / "static-site"
    folder.mkdir(exist_ok=True)
    context, page = new_page(chromium, PHONE, is_mobile=True, has_touch=True)
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        response = page.goto(url + "/en/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        status = map_status(page)
        assert status["total"] == _list_count(out, "/en/list/") == COUNT
        assert status["clustered"] == status["on_map"] > 0
        assert status["total"] > status["on_map"]  # online and "not said" have no point
        assert page.locator("path.district").count() == 12
        assert page.locator(".map-cluster").count() + page.locator("path.entry").count() > 0
        page.screenshot(path=str(folder / "map-phone-360.png"))
        for query, listed in (
            ("type=verbal", "/en/list/type/verbal/"),
            ("type=stalking", "/en/list/type/stalking/"),
            ("district=nasimi", "/en/list/district/nasimi/"),
            ("district=online", "/en/list/district/online/"),
        ):
            page.goto(f"{url}/en/?{query}")
            status = map_status(page)
            assert status["total"] == _list_count(out, listed), query
            assert status["clustered"] == status["on_map"], query
            assert page.get_attribute("#map-list-link", "href") == listed, query
        page.click("#map-list-link")  # the pre-built list for the filter
        page.wait_for_url(url + "/en/list/district/online/")
        assert page.locator("ol.entries > li").count() == _list_count(
            out, "/en/list/district/online/"
        )
        assert {urlsplit(u).netloc for u in requests} == {urlsplit(url).netloc}, requests
        assert any(u.endswith("/data/map.json") for u in requests)
        assert not any(u.endswith("/data/map-ids.json") for u in requests)  # no popup yet
        assert errors == []
    finally:
        context.close()
    context, page = new_page(chromium, LAPTOP)
    try:
        page.goto(url + "/")
        assert map_status(page)["total"] == COUNT
        page.screenshot(path=str(folder / "map-laptop-1280.png"))
    finally:
        context.close()


def test_without_javascript_the_lists_and_entries_work_by_links(
    chromium: Any, site: tuple[str, Path]
) -> None:
    url, out = site
    context, page = new_page(chromium, PHONE, java_script_enabled=False)
    try:
        page.goto(url + "/en/")
        page.click("#map-list-link")
        page.wait_for_url(url + "/en/list/")
        page.click("nav.static-filters a[href='/en/list/type/verbal/']")
        page.wait_for_url(url + "/en/list/type/verbal/")
        shown = _list_count(out, "/en/list/type/verbal/")
        assert 0 < shown == page.locator("ol.entries > li").count()
        assert page.get_attribute("a[href='/en/list/type/verbal/']", "aria-current") == "page"
        page.click("a[hreflang=ru]")  # the same list in Russian
        page.wait_for_url(url + "/ru/list/type/verbal/")
        page.locator("ol.entries > li a").first.click()
        assert re.fullmatch(r"/ru/entry/[0-9a-f]{32}/", urlsplit(page.url).path)
        assert page.locator("article.entry h1").count() == 1
    finally:
        context.close()


def test_filtering_in_the_static_map_matches_the_pre_built_lists(
    chromium: Any, site: tuple[str, Path]
) -> None:
    url, out = site
    context, page = new_page(chromium, LAPTOP)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url + "/en/")
        assert map_status(page)["total"] == COUNT
        if not page.is_visible("input[name=type][value=stalking]"):
            page.click("details.filter-group:has(input[name=type]) > summary")
        page.check("input[name=type][value=stalking]")
        expected = _list_count(out, "/en/list/type/stalking/")
        assert 0 < expected < COUNT
        page.wait_for_selector(f"#map-status[data-ready='1'][data-total='{expected}']",
                               state="attached")  # fmt: skip
        assert urlsplit(page.url).query == "type=stalking"
        assert page.get_attribute("#map-list-link", "href") == "/en/list/type/stalking/"
        status = map_status(page)
        assert status["clustered"] == status["on_map"]
        assert errors == []
    finally:
        context.close()


def test_a_popup_in_the_static_map_links_its_entry_page(
    chromium: Any, site: tuple[str, Path]
) -> None:
    """The ids come from the built data/map-ids.json when the popup opens; its link is
    a built entry page."""
    url, out = site
    context, page = new_page(chromium, LAPTOP)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(url + "/en/?from=2024-04&to=2024-04")  # the XSS entry alone
        assert map_status(page)["total"] == 1
        assert not any(u.endswith("/data/map-ids.json") for u in requests)
        page.locator("path.entry").click()
        page.locator(".leaflet-popup-content a[href]").wait_for()
        href = page.get_attribute(".leaflet-popup-content a", "href")
        assert href == f"/en/entry/{XSS_ID}/"
        assert (out / "en" / "entry" / XSS_ID / "index.html").is_file()
        assert sum(u.endswith("/data/map-ids.json") for u in requests) == 1
    finally:
        context.close()


@pytest.mark.parametrize(
    ("query", "name"),
    [("type=nonsense", "Type"), ("from=2024-05&to=2024-01", "To (month)")],
)
def test_the_static_map_refuses_a_bad_filter_and_draws_nothing(
    chromium: Any, site: tuple[str, Path], query: str, name: str
) -> None:
    url, _ = site
    context, page = new_page(chromium, PHONE, is_mobile=True, has_touch=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{url}/en/?{query}")
        page.wait_for_selector("#map-status[data-ready='refused']", state="attached")
        assert page.inner_text("#map-error") == (
            f"This filter cannot be used: {name}. Check the value or clear the filters."
        )
        assert not page.is_visible("#map")
        assert page.locator("path.entry, .map-cluster, path.district").count() == 0
        page.click("#map-clear")
        assert map_status(page)["total"] == COUNT
        assert urlsplit(page.url).query == "" and not page.is_visible("#map-error")
        assert errors == []
    finally:
        context.close()
