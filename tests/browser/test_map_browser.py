"""The map page in Debian's Chromium, served by the real map app on 127.0.0.1.

A map built from real signed bundles (the known-answer chain, the XSS bundle, and a
fourth with 90 entries in every district, online and with no place): the page draws the
district layer and the clusters; the clusters' total at the widest zoom equals the
entries on the map, and the page's count equals the list's for several filters; a
filter changes what is drawn and the URL, and that URL restores the filters; every
request goes to the page's own origin; no console error and no CSP violation (the
page's own CSP, not bypassed); axe-core finds nothing serious; a popup shows no
summary and links to the entry page; without JavaScript the form and the list link
work. Screenshots at 360×740 and 1280×800 go to ``test-artifacts/map/``.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from public_map import charts
from public_map.app import create_app
from public_map.ingest import ingest
from public_map.instance import MapInstance, init_map
from securedrop_like import geo, grid
from securedrop_like.bundles import bundle_sha256
from securedrop_like.bundles.publication import PublicEntry, PublicPoint
from tests.browser.conftest import (
    AXE_JS,
    LAPTOP,
    PHONE,
    _QuietHandler,
)
from tests.browser.mapsite import map_status, new_page
from tests.unit.public_map.chain import (
    ONE,
    THREE,
    TWO,
    XSS_ID,
    _template,
    bundle,
    write_verify_file,
)

pytestmark = pytest.mark.browser

TYPES = ("verbal", "touching", "stalking", "nonverbal", "online", "sextortion")
SERVICES = ("health", "police", "documents", None)
WHO = ("police", "stranger", "official", None)
#: Never 2024-04: that month holds only the XSS entry (a filter finds it alone).
MONTHS = ("2023-11", "2023-12", "2024-01", "2024-02", "2024-03", None, "2024-06")
COUNT = 90
AT_ONE_PLACE = 12
ONE_PLACE_MONTH = "2022-05"
BLOCKING_IMPACTS = {"serious", "critical"}
AXE_RUN_JS = """async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5),
  }));
}"""


def _cells() -> dict[str, list[PublicPoint]]:
    """A few grid cell centres inside each district (a fixed random sample)."""
    chance = random.Random(10)  # noqa: S311 - test data
    found: dict[str, list[PublicPoint]] = {}
    for _ in range(4000):
        row, col = grid.cell_of(
            chance.randint(40_300_000, 40_560_000), chance.randint(49_700_000, 50_300_000)
        )
        lat, lon = grid.cell_centre(row, col)
        district = grid.district_at(lat, lon)
        if district and len(found.setdefault(district, [])) < 3:
            found[district].append(PublicPoint("cell", lat, lon))
    return found


def _many() -> tuple[PublicEntry, ...]:
    cells = _cells()
    places: list[tuple[str | None, PublicPoint | None]] = [
        (d, p) for d in sorted(cells) for p in cells[d]
    ]
    places += [("online", None), (None, None)]
    out = []
    for n in range(COUNT):
        district, point = places[n % len(places)]
        types = (TYPES[n % len(TYPES)],) if n % 5 else (TYPES[n % len(TYPES)], "threats")
        out.append(
            dataclasses.replace(
                _template(),
                id=f"{n:04x}" + "b" * 28,
                types=types,
                district=district,
                point=point,
                month=MONTHS[n % len(MONTHS)],
                service=SERVICES[n % len(SERVICES)],
                perpetrator=WHO[(n // 2) % len(WHO)],
                summary=f"Entry {n}.",
                story=None,
            )
        )
    # Twelve at one place in one month: a cluster that never splits (POPUP_LEAVES is 10).
    district = sorted(cells)[0]
    for n in range(AT_ONE_PLACE):
        out.append(
            dataclasses.replace(
                _template(),
                id=f"{n:04x}" + "c" * 28,
                district=district,
                point=cells[district][0],
                month=ONE_PLACE_MONTH,
                summary=f"At one place {n}.",
                story=None,
            )
        )
    return tuple(out)


@dataclasses.dataclass
class LiveMap:
    url: str
    instance: MapInstance
    app: Any

    def __call__(self, path: str = "/") -> str:
        return self.url + path

    def list_count(self, query: str) -> int:
        """The count the no-JavaScript list shows for this query."""
        with urllib.request.urlopen(self.url + "/en/list/?" + query, timeout=30) as r:  # noqa: S310
            html = r.read().decode()
        found = re.search(r'id="count"[^>]*>(\d+) entr', html)
        assert found, html[:2000]
        return int(found.group(1))


@pytest.fixture(scope="module")
def live_map(
    tmp_path_factory: pytest.TempPathFactory, compiled_translations: Path
) -> Iterator[LiveMap]:
    from werkzeug.serving import make_server

    tmp = tmp_path_factory.mktemp("map")
    instance = init_map(tmp / "map", write_verify_file(tmp / "publication.verify"))
    four = bundle(4, bundle_sha256(THREE), _many())
    for data in (ONE, TWO, THREE, four):
        ingest(instance, data)
    app = create_app(instance)
    app.extensions["babel"].translation_directories = [str(compiled_translations)]
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-map", daemon=True)
    thread.start()
    try:
        yield LiveMap(f"http://127.0.0.1:{server.server_port}", instance, app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()



@pytest.fixture
def watched(chromium: Any, live_map: LiveMap) -> Iterator[tuple[Any, dict[str, list[str]]]]:
    """A phone-sized page under the page's own CSP, recording every request, console
    error and page error."""
    context, page = new_page(chromium, PHONE, is_mobile=True, has_touch=True)
    seen: dict[str, list[str]] = {"requests": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on(
        "console",
        lambda m: seen["errors"].append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    # Every CSP violation, as the page itself sees it (the test's own script, added
    # through the DevTools protocol, is not subject to the page's CSP).
    page.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', e =>"
        " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    try:
        yield page, seen
    finally:
        context.close()



def _wait_total(page: Any, total: int) -> None:
    page.wait_for_selector(f"#map-status[data-ready='1'][data-total='{total}']", state="attached")


def test_the_map_draws_districts_and_clusters_and_its_counts_match_the_list(
    chromium: Any, live_map: LiveMap, artifacts: Path
) -> None:
    folder = artifacts / "map"
    folder.mkdir(exist_ok=True)
    for name, viewport in (("phone", PHONE), ("laptop", LAPTOP)):
        context, page = new_page(chromium, viewport)
        try:
            page.goto(live_map("/en/"))
            status = map_status(page)
            assert page.locator("path.district").count() == 12
            drawn = page.locator(".map-cluster").count() + page.locator("path.entry").count()
            assert drawn > 0
            assert status["clustered"] == status["on_map"] > 0
            assert status["total"] == live_map.list_count("") == COUNT + AT_ONE_PLACE + 3
            assert status["total"] > status["on_map"]  # online and "not said" have no point
            assert page.locator(".leaflet-control-attribution").inner_text().count("ODbL") == 2
            page.screenshot(path=str(folder / f"map-{name}-{viewport['width']}.png"))
        finally:
            context.close()


@pytest.mark.parametrize(
    "query",
    [
        "type=verbal",
        "type=online&type=touching",
        "district=nasimi&from=2024-01",
        "service=health&perpetrator=police",
        "from=2023-12&to=2024-02",
        "district=online",
        "from=2024-04&to=2024-04",
    ],
)
def test_the_counts_equal_the_lists_under_a_filter(
    watched: tuple[Any, dict[str, list[str]]], live_map: LiveMap, query: str
) -> None:
    page, _ = watched
    page.goto(live_map("/en/?" + query))
    status = map_status(page)
    assert status["total"] == live_map.list_count(query)
    assert status["clustered"] == status["on_map"]
    assert page.get_attribute("#map-list-link", "href") == "/en/list/?" + query


def test_a_filter_changes_the_map_and_the_url_and_the_url_restores_it(
    watched: tuple[Any, dict[str, list[str]]], live_map: LiveMap
) -> None:
    page, seen = watched
    page.goto(live_map("/en/"))
    before = map_status(page)
    page.click("#map-panel > summary")
    page.click("details.filter-group:has(input[name=type]) > summary")
    page.check("input[name=type][value=stalking]")
    expected = live_map.list_count("type=stalking")
    assert expected < before["total"]
    _wait_total(page, expected)
    assert urlsplit(page.url).query == "type=stalking"
    assert page.get_attribute("#map-list-link", "href") == "/en/list/?type=stalking"
    assert page.get_attribute(".langs a[hreflang=ru]", "href") == "/ru/?type=stalking"
    after = map_status(page)
    assert after["clustered"] == after["on_map"] < before["on_map"]
    page.fill("#f-from", "2024-01")
    page.dispatch_event("#f-from", "change")
    expected = live_map.list_count("type=stalking&from=2024-01")
    _wait_total(page, expected)
    assert urlsplit(page.url).query == "type=stalking&from=2024-01"

    shared = page.url
    page.goto(live_map("/en/"))  # somewhere else first
    _wait_total(page, before["total"])
    page.goto(shared)
    _wait_total(page, expected)
    assert page.is_checked("input[name=type][value=stalking]")
    assert not page.is_checked("input[name=type][value=verbal]")
    assert page.input_value("#f-from") == "2024-01"

    assert page.inner_text("#map-panel > summary") == "Filters (2)"  # closed on a phone
    page.click("#map-panel > summary")
    page.click("#map-clear")
    _wait_total(page, before["total"])
    assert urlsplit(page.url).query == ""
    assert seen["errors"] == []


def test_every_request_is_to_its_own_origin_and_nothing_breaks_the_csp(
    watched: tuple[Any, dict[str, list[str]]], live_map: LiveMap
) -> None:
    page, seen = watched
    response = page.goto(live_map("/en/"))
    assert "script-src 'self'" in response.headers["content-security-policy"]
    map_status(page)
    # Zoom in through the clusters until an entry shows (or, at the closest zoom, a
    # cluster of entries at one place lists them), and open its popup.
    popup = page.locator(".leaflet-popup-content")
    for _ in range(14):
        if popup.count():
            break
        if page.locator("path.entry").count():
            page.locator("path.entry").first.click()
            break
        page.locator(".map-cluster").first.click()
        page.wait_for_timeout(400)  # the zoom animation; the next draw replaces the markers
    popup.wait_for()
    popup.locator("a[href]").first.wait_for()  # once map-ids.json is here
    href = popup.locator("a").first.get_attribute("href") or ""
    assert re.fullmatch(r"/en/entry/[0-9a-f]{32}/", href), href
    origins = {urlsplit(u).netloc for u in seen["requests"]}
    assert origins == {urlsplit(live_map.url).netloc}, seen["requests"]
    assert any(u.endswith("/data/map.json") for u in seen["requests"])
    assert any(u.endswith("/data/map-ids.json") for u in seen["requests"])
    assert any(u.endswith("/basemap/districts.geojson") for u in seen["requests"])
    assert seen["errors"] == []
    assert page.evaluate("window.__cspViolations") == []
    # The probe can fail: an inline style attribute is a violation it reports.
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__cspViolations")[0].startswith("style-src")


def test_a_popup_shows_no_summary_and_links_to_the_entry_page(
    watched: tuple[Any, dict[str, list[str]]], live_map: LiveMap
) -> None:
    """The ids (most of the data's bytes) are fetched only when the first popup needs
    a link, once; the link is then the entry's."""
    page, seen = watched
    page.goto(live_map("/en/?from=2024-04&to=2024-04"))  # the XSS entry alone
    assert map_status(page) == {"total": 1, "on_map": 1, "clustered": 1}
    assert any(u.endswith("/data/map.json") for u in seen["requests"])
    assert not any(u.endswith("/data/map-ids.json") for u in seen["requests"])
    page.locator("path.entry").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "Sex demanded for a service" in text and "2024-04" in text and "Sabail" in text
    assert "alert" not in text and "<" not in text
    assert popup.locator("script, img, b").count() == 0
    popup.locator("a[href]").wait_for()
    assert popup.locator("a").get_attribute("href") == f"/en/entry/{XSS_ID}/"
    assert sum(u.endswith("/data/map-ids.json") for u in seen["requests"]) == 1
    page.click(".leaflet-popup-close-button")  # closed, opened again: no second fetch
    page.wait_for_selector(".leaflet-popup-content", state="detached")
    page.locator("path.entry").click()
    assert popup.locator("a").get_attribute("href") == f"/en/entry/{XSS_ID}/"
    assert sum(u.endswith("/data/map-ids.json") for u in seen["requests"]) == 1
    popup.locator("a").click()
    page.wait_for_url(live_map(f"/en/entry/{XSS_ID}/"))
    assert seen["errors"] == []


def test_the_map_page_passes_axe(chromium: Any, live_map: LiveMap) -> None:
    assert AXE_JS.exists(), f"{AXE_JS} is missing: run npm ci in tests/browser"
    blocking: dict[str, list[dict[str, Any]]] = {}
    for viewport in (PHONE, LAPTOP):
        # bypass_csp only so that axe itself can be injected.
        context, page = new_page(chromium, viewport, bypass_csp=True)
        try:
            page.goto(live_map("/en/?type=verbal"))
            map_status(page)
            page.add_script_tag(path=str(AXE_JS))
            violations = page.evaluate(AXE_RUN_JS)
            for v in violations:
                print(f"axe {viewport['width']}: {v['impact']} {v['id']} {v['targets']}")
            bad = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
            if bad:
                blocking[str(viewport["width"])] = bad
        finally:
            context.close()
    assert blocking == {}, json.dumps(blocking, indent=1, ensure_ascii=False)


def test_without_javascript_the_form_and_the_list_link_work(
    chromium: Any, live_map: LiveMap
) -> None:
    context, page = new_page(chromium, PHONE, java_script_enabled=False)
    try:
        page.goto(live_map("/en/"))
        assert not page.is_visible("#map")
        assert page.is_visible("#map-list-link")
        page.click("#map-panel > summary")
        page.click("details.filter-group:has(input[name=district]) > summary")
        page.check("input[name=district][value=nasimi]")
        page.click("#map-panel form button[type=submit]")
        page.wait_for_url(re.compile(r".*/en/\?district=nasimi.*"))
        expected = live_map.list_count("district=nasimi")
        assert page.inner_text("#map-count").startswith(f"{expected} ")
        page.click("#map-list-link")
        page.wait_for_url(re.compile(r".*/en/list/\?district=nasimi.*"))
        assert int(page.inner_text("#count").split()[0]) == expected
    finally:
        context.close()


def test_in_the_static_site_the_script_filters_and_links_the_pre_built_lists(
    watched: tuple[Any, dict[str, list[str]]], live_map: LiveMap
) -> None:
    """The page as ``sesim map build`` renders it (no form, no server-side filter): the
    script reads the query, filters, and links the list per type that the build
    writes."""
    page, seen = watched
    live_map.app.config["SESIM_MAP_STATIC"] = True
    try:
        page.goto(live_map("/en/?type=verbal"))
        _wait_total(page, live_map.list_count("type=verbal"))
        assert page.get_attribute("#map-list-link", "href") == "/en/list/type/verbal/"
        assert not page.is_visible("#map-controls")  # the panel is closed on a phone
        page.click("#map-panel > summary")
        assert page.is_visible("#map-controls")
        page.click("details.filter-group:has(input[name=district]) > summary")
        page.check("input[name=district][value=nasimi]")
        _wait_total(page, live_map.list_count("type=verbal&district=nasimi"))
        assert urlsplit(page.url).query == "type=verbal&district=nasimi"
        assert page.get_attribute("#map-list-link", "href") == "/en/list/"  # none pre-built
        page.uncheck("input[name=type][value=verbal]")
        _wait_total(page, live_map.list_count("district=nasimi"))
        assert page.get_attribute("#map-list-link", "href") == "/en/list/district/nasimi/"
        page.fill("#f-from", "2024-01")
        page.click("#map-show")
        _wait_total(page, live_map.list_count("district=nasimi&from=2024-01"))
        assert seen["errors"] == []
    finally:
        live_map.app.config["SESIM_MAP_STATIC"] = False


def test_entries_at_one_place_are_listed_at_the_closest_zoom(
    watched: tuple[Any, dict[str, list[str]]], live_map: LiveMap
) -> None:
    page, seen = watched
    query = f"from={ONE_PLACE_MONTH}&to={ONE_PLACE_MONTH}"
    page.goto(live_map("/en/?" + query))
    status = map_status(page)
    assert status == {"total": AT_ONE_PLACE, "on_map": AT_ONE_PLACE, "clustered": AT_ONE_PLACE}
    cluster = page.locator(".map-cluster")
    assert cluster.count() == 1 and cluster.inner_text() == str(AT_ONE_PLACE)
    assert cluster.get_attribute("role") == "button"  # Leaflet: focusable, Enter clicks
    assert cluster.get_attribute("title") == f"Entries here: {AT_ONE_PLACE}. Zoom in to see them."
    popup = page.locator(".leaflet-popup-content")
    for _ in range(12):  # each click zooms in; at the closest zoom it lists them
        page.locator(".map-cluster").first.click()
        page.wait_for_timeout(400)
        if popup.count():
            break
    popup.wait_for()
    assert (
        popup.locator(".map-popup-title").inner_text() == f"Entries at this place: {AT_ONE_PLACE}"
    )
    links = popup.locator("li a")
    assert links.count() == 10
    popup.locator("li a[href]").first.wait_for()  # once map-ids.json is here
    assert all(
        re.fullmatch(r"/en/entry/[0-9a-f]{4}c{28}/", links.nth(k).get_attribute("href") or "")
        for k in range(10)
    )
    more = popup.locator("a:not(li a)")
    assert more.inner_text() == "More entries here: 2. See the list for this district."
    district = urlsplit(more.get_attribute("href") or "").query.split("&")[0]
    assert district.startswith("district=")
    assert more.get_attribute("href") == f"/en/list/?{district}&{query}"
    assert live_map.list_count(f"{district}&{query}") == AT_ONE_PLACE
    assert seen["errors"] == []


def test_the_district_classes_are_the_statistics_pages(
    watched: tuple[Any, dict[str, list[str]]], live_map: LiveMap
) -> None:
    """The choropleth's classes and colours are charts.bins (the statistics page's), over
    the largest district count under the filter, which the list gives."""
    page, _ = watched
    for query in ("", "type=verbal"):
        page.goto(live_map("/en/?" + query))
        map_status(page)
        counts = {
            d.code: live_map.list_count("&".join(q for q in (query, f"district={d.code}") if q))
            for d in geo.load_districts()
        }
        classes = charts.bins(max(counts.values()))
        legend = page.locator("#map-classes li")
        assert [legend.nth(k).inner_text().strip() for k in range(legend.count())] == [
            str(b.low) if b.low == b.high else f"{b.low}–{b.high}" for b in classes
        ]
        fills = page.eval_on_selector_all(
            "path.district", "ps => ps.map(p => getComputedStyle(p).fill)"
        )
        wanted = {classes[charts.bin_of(n, classes)].colour for n in counts.values()}
        assert {_rgb_hex(f) for f in fills} == wanted


def _rgb_hex(css: str) -> str:
    found = re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", css)
    assert found, css
    return "#" + "".join(f"{int(v):02x}" for v in found.groups())


def test_ids_of_another_version_make_the_page_fetch_both_files_again_once(
    watched: tuple[Any, dict[str, list[str]]], live_map: LiveMap
) -> None:
    """A bundle applied between the fetch of map.json and the first popup: map-ids.json
    (here: its first answer, made to carry another sequence) does not match, so the
    page fetches both again, redraws, closes the popup whose entry numbers were the
    old ones, and links the next popup right."""
    page, seen = watched
    answered: list[int] = []

    def older_first(route: Any) -> None:
        response = route.fetch()
        doc = json.loads(response.body())
        if not answered:
            doc["sequence"] -= 1
        answered.append(doc["sequence"])
        route.fulfill(response=response, body=json.dumps(doc))

    page.route("**/data/map-ids.json", older_first)
    page.goto(live_map("/en/?from=2024-04&to=2024-04"))
    assert map_status(page) == {"total": 1, "on_map": 1, "clustered": 1}
    page.locator("path.entry").click()
    page.wait_for_selector(".leaflet-popup-content", state="detached")  # closed by the script
    assert answered == [3, 4]
    assert sum(u.endswith("/data/map.json") for u in seen["requests"]) == 2
    _wait_total(page, 1)
    page.locator("path.entry").click()
    link = page.locator(".leaflet-popup-content a")
    assert link.get_attribute("href") == f"/en/entry/{XSS_ID}/"  # no wait: ids are here
    assert len(answered) == 2 and seen["errors"] == []


@pytest.mark.parametrize(
    ("query", "name"),
    [("type=nonsense", "Type"), ("from=2024-05&to=2024-01", "To (month)"),
     ("from=May", "From (month)"), ("district=nasimi&district=x", "District"),
     # As the server's listing.parse: ASCII digits, nothing after, at most 20 values.
     ("from=2024-04%0A", "From (month)"), ("to=%D9%A2%D9%A0%D9%A2%D9%A4-04", "To (month)"),
     ("type=verbal&" + "&".join(["type=touching"] * 20), "Type")],
)  # fmt: skip
def test_a_bad_filter_is_refused_and_nothing_is_drawn(
    watched: tuple[Any, dict[str, list[str]]], live_map: LiveMap, query: str, name: str
) -> None:
    """The server answers 400 with the message and a link that clears the filters (no
    map, no data); the static site's script says the same and draws nothing."""
    page, seen = watched
    message = f"This filter cannot be used: {name}. Check the value or clear the filters."
    response = page.goto(live_map("/en/?" + query))
    assert response.status == 400
    assert page.inner_text("p.error[role=alert]") == message
    assert page.locator("#map, path.entry, .map-cluster").count() == 0
    assert not any("/data/" in u for u in seen["requests"])
    # Chromium logs the 400 itself; nothing else may be logged.
    assert [e for e in seen["errors"] if "status of 400" not in e] == []
    seen["errors"].clear()
    page.click("#map-clear")
    _wait_total(page, live_map.list_count(""))
    live_map.app.config["SESIM_MAP_STATIC"] = True
    try:
        page.goto(live_map("/en/?" + query))
        page.wait_for_selector("#map-status[data-ready='refused']", state="attached")
        assert page.is_visible("#map-error")
        assert page.inner_text("#map-error") == message
        assert not page.is_visible("#map") and not page.is_visible("#map-legend")
        assert page.locator("path.entry, .map-cluster, path.district").count() == 0
        assert page.get_attribute("#map-status", "data-total") is None
        assert page.is_visible("#map-clear")  # the panel is open, with its clear link
        page.click("#map-clear")
        _wait_total(page, live_map.list_count(""))
        assert not page.is_visible("#map-error") and page.is_visible("#map")
        assert urlsplit(page.url).query == ""
        # The same from the controls: a bad month is refused, a good one drawn.
        page.fill("#f-from", "2024-13")
        page.click("#map-show")
        page.wait_for_selector("#map-status[data-ready='refused']", state="attached")
        assert page.inner_text("#map-error") == (
            "This filter cannot be used: From (month). Check the value or clear the filters."
        )
        assert not page.is_visible("#map")
        page.fill("#f-from", "2024-01")
        page.click("#map-show")
        _wait_total(page, live_map.list_count("from=2024-01"))
        assert page.is_visible("#map") and not page.is_visible("#map-error")
        assert page.locator(".map-cluster, path.entry").count() > 0
        assert seen["errors"] == []
    finally:
        live_map.app.config["SESIM_MAP_STATIC"] = False
