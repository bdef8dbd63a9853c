"""The statistics page: every chart's numbers equal what the open data says for the
same filter, the total equals the list's count, each SVG is well-formed and draws what
its table says, a retracted entry stops counting, an empty map is a friendly page, bad
filters are a translated 400, and there is no script and no inline style. Real signed
bundles (the same chain as test_pages.py: 27 entries)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from public_map import charts, stats_page
from public_map.app import create_app
from public_map.instance import init_map
from securedrop_like import geo, taxonomy
from securedrop_like.bundles import bundle_sha256

from .chain import ONE, THREE, TWO, bundle, write_verify_file
from .site import open_data
from .test_pages import FILTERS, FOUR, PAGE_SIZE, _get, _walk

SVG = "{http://www.w3.org/2000/svg}"
CHARTS = ("chart-type", "chart-month", "chart-district", "chart-service", "chart-perpetrator")


def _client(tmp_path: Path, bundles: tuple[bytes, ...]) -> FlaskClient:
    init_map(tmp_path / "map", write_verify_file(tmp_path / "publication.verify"))
    app = create_app(tmp_path / "map")
    app.config["SESIM_MAP_PAGE_SIZE"] = PAGE_SIZE
    client = app.test_client()
    for data in bundles:
        assert client.post("/ingest", data=data, content_type="application/json").status_code == 200
    return client


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return _client(tmp_path, (ONE, TWO, THREE, FOUR))


def _total(page: str) -> int:
    found = re.search(r'<p class="count" id="count" role="status" data-total="(\d+)">', page)
    assert found
    return int(found.group(1))


def _section(page: str, chart: str) -> ET.Element:
    """The chart's section parsed as XML: its SVG must be well-formed, and the table and
    the rest of the section are written so that they are too."""
    start = f'<section class="stats-chart" id="{chart}-section"'
    found = re.search(rf"{start}.*?</section>", page, re.S)
    assert found, chart
    return ET.fromstring(found.group(0))  # noqa: S314 (our own page, in a test)


def _table(section: ET.Element) -> dict[str, int]:
    rows = section.findall(".//table/tbody/tr")
    out = {row.attrib["data-key"]: int(row.attrib["data-count"]) for row in rows}
    assert len(out) == len(rows)  # no key twice
    for row in rows:  # the number shown is the number in the attribute
        assert row.find("th").attrib["scope"] == "row"  # type: ignore[union-attr]
        assert row.find("td").text == str(row.attrib["data-count"])  # type: ignore[union-attr]
    assert [th.attrib["scope"] for th in section.findall(".//table/thead/tr/th")] == ["col", "col"]
    assert (section.findtext(".//table/caption") or "").strip()
    return out


def _svg(section: ET.Element) -> ET.Element:
    svg = section.find(f".//{SVG}svg")
    assert svg is not None
    assert svg.attrib["role"] == "img"
    ids = svg.attrib["aria-labelledby"].split()
    named = {e.attrib.get("id"): e for e in svg}
    assert [named[i].tag for i in ids] == [f"{SVG}title", f"{SVG}desc"]
    assert all((named[i].text or "").strip() for i in ids)
    for element in svg.iter():
        assert "style" not in element.attrib and element.tag != f"{SVG}style"
    return svg


def _drawn(svg: ET.Element, tag: str) -> dict[str, ET.Element]:
    marks = [e for e in svg.iter(f"{SVG}{tag}") if "data-key" in e.attrib]
    out = {e.attrib["data-key"]: e for e in marks}
    assert len(out) == len(marks)
    return out


def _expected(entries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """The counts the page should show, from the open data, with every code of a group
    (zero too) and "" for "not said"."""
    months = Counter(e["month"] or "" for e in entries)
    known = sorted(m for m in months if m)
    month_rows: dict[str, int] = {}
    if known:
        year, month = int(known[0][:4]), int(known[0][5:])
        while f"{year:04d}-{month:02d}" <= known[-1]:
            code = f"{year:04d}-{month:02d}"
            month_rows[code] = months.get(code, 0)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if months.get(""):
        month_rows[""] = months[""]

    def group(field: str, codes: list[str], not_said: bool) -> dict[str, int]:
        found = Counter(e[field] or "" for e in entries)
        out = {c: found.get(c, 0) for c in codes}
        if not_said:
            out[""] = found.get("", 0)
        assert sum(out.values()) == len(entries)
        return out

    types = Counter(t for e in entries for t in e["types"])
    return {
        "chart-type": {c.code: types.get(c.code, 0) for c in taxonomy.HARASSMENT_TYPES},
        "chart-month": month_rows,
        "chart-district": group(
            "district", [d.code for d in geo.load_districts()] + [geo.ONLINE], True
        ),
        "chart-service": group("service", [c.code for c in taxonomy.SERVICES], True),
        "chart-perpetrator": group(
            "perpetrator", [c.code for c in taxonomy.PERPETRATOR_TYPES], True
        ),
    }


@pytest.mark.parametrize(("query", "wanted"), FILTERS, ids=[q or "all" for q, _ in FILTERS])
def test_every_chart_counts_what_the_open_data_says_and_the_total_is_the_lists(
    client: FlaskClient, query: str, wanted: Callable[[dict[str, Any]], bool]
) -> None:
    entries = [e for e in open_data(client) if wanted(e)]
    page = _get(client, f"/en/stats/?{query}")
    assert _total(page) == len(entries) == _walk(client, f"/list/?{query}")[0]
    if not entries:
        assert "No entries match these filters." in page and "<svg" not in page
        return
    expected = _expected(entries)
    for chart in CHARTS:
        section = _section(page, chart)
        table = _table(section)
        assert table == expected[chart], chart
        if chart != "chart-type":  # every other chart adds up to the number of entries
            assert sum(table.values()) == len(entries)
            assert section.findtext(".//table/tfoot/tr/td") == str(len(entries))
    assert sum(_table(_section(page, "chart-type")).values()) >= len(entries)


def test_each_bar_column_and_district_is_drawn_as_its_table_says(client: FlaskClient) -> None:
    page = _get(client, "/en/stats/")
    for chart in ("chart-type", "chart-service", "chart-perpetrator"):
        section = _section(page, chart)
        table, drawn = _table(section), _drawn(_svg(section), "rect")
        assert {k: int(e.attrib["data-count"]) for k, e in drawn.items()} == table
        top = max(table.values())
        longest = max(float(e.attrib["width"]) for e in drawn.values())
        for key, rect in drawn.items():  # lengths proportional to the counts
            assert float(rect.attrib["width"]) == pytest.approx(longest * table[key] / top, abs=0.1)
        if chart == "chart-type":  # the type colours, the same as the map's
            assert {k: e.attrib["fill"] for k, e in drawn.items()} == charts.TYPE_COLOURS

    section = _section(page, "chart-month")
    table, drawn = _table(section), _drawn(_svg(section), "rect")
    assert {k: int(e.attrib["data-count"]) for k, e in drawn.items()} == {
        k: v for k, v in table.items() if k
    }
    assert 0 in table.values()  # a gap month (2024-03) is a column of height 0
    tallest = max(float(e.attrib["height"]) for e in drawn.values())
    xs = [float(e.attrib["x"]) for e in drawn.values()]
    assert xs == sorted(xs) and list(drawn) == sorted(drawn)  # months in order, left to right
    for key, rect in drawn.items():
        expected_height = tallest * table[key] / max(table[k] for k in drawn)
        assert float(rect.attrib["height"]) == pytest.approx(expected_height, abs=0.1)

    section = _section(page, "chart-district")
    svg, table = _svg(section), _table(section)
    paths = _drawn(svg, "path")
    assert set(paths) == {d.code for d in geo.load_districts()}
    legend = {g.attrib["data-class"]: g for g in svg.iter(f"{SVG}g") if "data-class" in g.attrib}
    for key, path in paths.items():
        assert int(path.attrib["data-count"]) == table[key]
        assert re.fullmatch(r"(M[\d. L]+Z)+", path.attrib["d"])
        swatch = legend[path.attrib["data-class"]]
        assert int(swatch.attrib["data-low"]) <= table[key] <= int(swatch.attrib["data-high"])
        assert swatch.find(f"{SVG}rect").attrib["fill"] == path.attrib["fill"]  # type: ignore[union-attr]
    for key, path in paths.items():  # none is white but those with no entry
        assert (path.attrib["fill"] == charts.ZERO_COLOUR) == (table[key] == 0)
    assert {k for k, v in table.items() if v} >= {"nasimi", "sabail"}
    beside = {
        dd.attrib["data-key"]: int(dd.attrib["data-count"]) for dd in section.iter("dd")
    }  # online and "not said" are numbers beside the map
    assert beside == {"online": table["online"], "": table[""]} and beside["online"] > 0


def test_a_retracted_entry_no_longer_counts(client: FlaskClient) -> None:
    before = _get(client, "/en/stats/?type=stalking")  # also fills the cache
    gone = "02" + "a" * 30  # from FOUR: stalking, online, service None
    entry = next(e for e in open_data(client) if e["id"] == gone)
    assert "stalking" in entry["types"]
    five = bundle(5, bundle_sha256(FOUR), (), (gone,))
    assert client.post("/ingest", data=five, content_type="application/json").status_code == 200
    after = _get(client, "/en/stats/?type=stalking")
    assert _total(after) == _total(before) - 1
    for chart in ("chart-type", "chart-district"):
        old, new = _table(_section(before, chart)), _table(_section(after, chart))
        key = "stalking" if chart == "chart-type" else entry["district"] or ""
        assert new[key] == old[key] - 1
    expected = _expected([e for e in open_data(client) if "stalking" in e["types"]])
    assert all(_table(_section(after, c)) == expected[c] for c in CHARTS)


@pytest.mark.parametrize("lang", ["", "/ru", "/en"])
def test_an_empty_map_is_a_friendly_page(tmp_path: Path, lang: str) -> None:
    client = _client(tmp_path, ())
    page = _get(client, f"{lang}/stats/")
    assert _total(page) == 0 and "<svg" not in page
    assert 'class="stats-empty"' in page
    en = _get(client, "/en/stats/")
    assert "Nothing has been published yet" in en and "0 entries" in en


@pytest.mark.parametrize(
    "query",
    ["type=bogus", "district=atlantis", "from=2024-13", "from=2024-05&to=2024-01",
     "perpetrator=police&perpetrator=nobody", "service=%3Cscript%3E", "from=2024-04%0A",
     "to=%D9%A2%D9%A0%D9%A2%D9%A4-04"],
)  # fmt: skip
def test_bad_filters_get_a_translated_400(client: FlaskClient, query: str) -> None:
    assert "Bu filtr işləmir" in _get(client, f"/stats/?{query}", 400)
    assert "Этот фильтр не подходит" in _get(client, f"/ru/stats/?{query}", 400)
    assert "This filter cannot be used" in _get(client, f"/en/stats/?{query}", 400)


def test_no_script_no_style_and_the_form_keeps_the_filters(client: FlaskClient) -> None:
    page = _get(client, "/en/stats/?type=stalking&district=online&from=2023-12")
    assert "<style" not in page and not re.search(r"<[^>]*\son\w+=", page)  # no handlers
    assert '<form class="filter-form" method="get" action="/en/stats/">' in page
    assert 'name="type" value="stalking" checked>' in page
    assert 'name="type" value="verbal">' in page
    assert 'name="from" type="text" inputmode="numeric"' in page and 'value="2023-12"' in page
    assert 'href="/en/list/?type=stalking&amp;district=online&amp;from=2023-12"' in page
    # each active filter has a link that removes it, to this page
    assert 'href="/en/stats/?type=stalking&amp;district=online">' in page


def test_the_static_site_has_no_form(client: FlaskClient) -> None:
    client.application.config["SESIM_MAP_STATIC"] = True
    page = _get(client, "/stats/")
    assert "<form" not in page and _total(page) == 27 and "<svg" in page


def test_months_and_numbers_in_the_language(client: FlaskClient) -> None:
    en, ru, az = (_get(client, f"{lang}/stats/") for lang in ("/en", "/ru", ""))
    assert "February 2024" in en and "февраль 2024" in ru and "fevral 2024" in az
    assert '<html lang="ru">' in ru
    with client.application.test_request_context("/ru/stats/"):
        client.application.preprocess_request()
        assert stats_page._number(123456) == "123\xa0456"
    with client.application.test_request_context("/en/stats/"):
        client.application.preprocess_request()
        assert stats_page._number(123456) == "123,456"


def test_type_colours_cover_every_type_and_are_legible_on_white() -> None:
    assert list(charts.TYPE_COLOURS) == [c.code for c in taxonomy.HARASSMENT_TYPES]
    assert len(set(charts.TYPE_COLOURS.values())) == len(charts.TYPE_COLOURS)
    for colour in charts.TYPE_COLOURS.values():  # graphics: 3:1 (WCAG 1.4.11)
        assert charts.contrast(colour) >= 3, colour
    for colour in (charts.BAR_COLOUR, charts.NOT_SAID_COLOUR, charts.TEXT_COLOUR):
        assert charts.contrast(colour) >= 4.5, colour
    assert charts.contrast("#e69f00") < 3  # the check can fail


def test_the_map_page_uses_the_same_type_colours() -> None:
    """map.css gives the map's points ``.t-<index in the taxonomy>`` colours (MAPJS):
    when it does, they are TYPE_COLOURS."""
    css = (charts.BASEMAP.parents[1] / "map.css").read_text("utf-8")
    found = dict(re.findall(r"\.t-(\d+) \{ --c: (#[0-9a-fA-F]{6}); \}", css))
    if not found:
        pytest.skip("the map page's type colours are not in map.css")
    wanted = {str(i): c for i, c in enumerate(charts.TYPE_COLOURS.values())}
    assert {k: v.lower() for k, v in found.items()} == wanted


def test_choropleth_classes_cover_every_count_once() -> None:
    for top in (0, 1, 2, 3, 5, 6, 7, 23, 99_999):
        classes = charts.bins(top)
        assert classes[0].low == classes[0].high == 0
        assert classes[-1].high == top or top == 0
        assert len(classes) <= 1 + len(charts.CLASS_COLOURS)
        for a, b in zip(classes, classes[1:], strict=False):
            assert b.low == a.high + 1
        assert len({c.colour for c in classes}) == len(classes)


def test_the_district_shapes_are_computed_once() -> None:
    assert charts.district_shapes() is charts.district_shapes()
    shapes = charts.district_shapes()
    assert len(shapes.paths) == geo.DISTRICT_COUNT
    assert shapes.width == charts.MAP_WIDTH and 0 < shapes.height < 2 * shapes.width


def test_long_labels_wrap_between_words_and_long_periods_label_years_apart() -> None:
    label = "Сексуальные фото или сообщения, домогательства в интернете"
    lines = charts.wrap(label)
    assert " ".join(lines) == label and len(lines) == 2
    assert all(len(line) <= charts.CHARS_PER_LINE for line in lines)
    months = [f"{y}-{m:02d}" for y in range(1995, 2027) for m in range(1, 13)]
    labels = stats_page._axis_labels(months)
    shown = [i for i, text in enumerate(labels) if text]
    assert labels[0] == "1995" and all(labels[i] == months[i][:4] for i in shown)
    step = charts.COLUMNS_PLOT / len(months)
    assert all((b - a) * step >= 34 for a, b in zip(shown, shown[1:], strict=False))
    assert len(shown) > 5
