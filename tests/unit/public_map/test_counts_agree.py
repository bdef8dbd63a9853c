"""The counts agree everywhere under the current filter: the list (every page walked),
the statistics page's total, the open data filtered by its documented meaning (JSON,
CSV, GeoJSON), and the map document filtered the same way — for no filter, each type, a
district, online, a month range, combinations and a filter that matches nothing.
(The map page's own count in the browser: tests/browser/test_map_qa_browser.py.)"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from public_map import listing
from securedrop_like import taxonomy

from .chain import ONE, THREE, TWO, VARIED
from .site import in_every_language, map_client, open_data, ready, walk

Row = dict[str, Any]
Wanted = Callable[[Row], bool]


def _in_period(low: str | None, high: str | None) -> Wanted:
    return lambda e: e["month"] is not None and (low or "") <= e["month"] <= (high or "9999")


FILTERS: list[tuple[str, Wanted]] = [
    ("", lambda e: True),
    *[(f"type={t.code}", lambda e, t=t.code: t in e["types"]) for t in taxonomy.HARASSMENT_TYPES],
    ("type=verbal&type=online", lambda e: bool({"verbal", "online"} & set(e["types"]))),
    ("district=nasimi", lambda e: e["district"] == "nasimi"),
    ("district=yasamal", lambda e: e["district"] == "yasamal"),
    ("district=online", lambda e: e["district"] == "online"),
    ("district=sabail&district=online", lambda e: e["district"] in ("sabail", "online")),
    ("service=police", lambda e: e["service"] == "police"),
    ("perpetrator=stranger&perpetrator=teacher",
     lambda e: e["perpetrator"] in ("stranger", "teacher")),
    ("from=2023-12&to=2024-01", _in_period("2023-12", "2024-01")),
    ("from=2024-02", _in_period("2024-02", None)),
    ("to=2023-12", _in_period(None, "2023-12")),
    ("type=verbal&district=nasimi&from=2023-01&to=2024-12",
     lambda e: "verbal" in e["types"] and e["district"] == "nasimi"
     and _in_period("2023-01", "2024-12")(e)),
    ("district=online&service=health", lambda e: e["district"] == "online"
     and e["service"] == "health"),
    ("district=khazar", lambda e: False),  # matches nothing
    ("type=assault&district=nasimi", lambda e: False),
]  # fmt: skip
IDS = [q or "none" for q, _ in FILTERS]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return map_client(tmp_path_factory.mktemp("counts"), (ONE, TWO, THREE, VARIED), 7)


@pytest.fixture(scope="module")
def rows(client: FlaskClient) -> list[Row]:
    found = open_data(client)
    assert len(found) == 63  # 3 left of the known-answer chain, 60 varied
    return found


def test_the_filters_are_the_documented_ones() -> None:
    """The predicates above read the filters as listing.py documents them."""
    for query, _ in FILTERS:
        listing.parse(_args(query))  # each is valid


def _args(query: str) -> Any:
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    return MultiDict(parse_qsl(query))


@pytest.mark.parametrize(("query", "wanted"), FILTERS, ids=IDS)
def test_the_list_and_the_open_data_agree(
    client: FlaskClient, rows: list[Row], query: str, wanted: Wanted
) -> None:
    expected = {e["id"] for e in rows if wanted(e)}
    for url in in_every_language(f"/list/?{query}"):
        shown, ids, _ = walk(client, url)
        assert shown == len(ids) == len(expected), url
        assert set(ids) == expected and len(set(ids)) == len(ids), url


def test_every_open_data_file_holds_the_same_entries(client: FlaskClient, rows: list[Row]) -> None:
    doc = json.loads(client.get("/data/entries.json").get_data())
    assert doc["count"] == len(rows)
    ids = [r["id"] for r in rows]
    csv_ids = [r["id"] for r in csv.DictReader(io.StringIO(client.get("/data/entries.csv").text))]
    geo = json.loads(client.get("/data/entries.geojson").get_data())["features"]
    assert csv_ids == ids and [f["id"] for f in geo] == ids
    with_point = [r["id"] for r in rows if r["lat"] is not None]
    assert [f["id"] for f in geo if f["geometry"]] == with_point


# -- the statistics page (STATS) ---------------------------------------------------------


def stats_total(client: FlaskClient, url: str) -> int:
    """The total the statistics page states for its filter."""
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.get_data(as_text=True)
    found = re.search(r'id="(?:stats-)?total"[^>]*>\D*(\d+)', html) or re.search(
        r'data-total="(\d+)"', html
    )
    assert found, f"{url}: no total on the statistics page"
    return int(found.group(1))


@pytest.mark.parametrize(("query", "wanted"), FILTERS, ids=IDS)
def test_the_statistics_total_agrees(
    client: FlaskClient, rows: list[Row], query: str, wanted: Wanted
) -> None:
    if not ready(client, "/stats/"):
        pytest.skip("the statistics page is not there yet (STATS)")
    expected = sum(1 for e in rows if wanted(e))
    for url in in_every_language(f"/stats/?{query}"):
        assert stats_total(client, url) == expected, url


# -- the map document (MAPJS) ------------------------------------------------------------


def map_rows(client: FlaskClient) -> list[Row] | None:
    response = client.get("/data/map.json")
    if response.status_code == 404:
        return None
    ids_doc = json.loads(client.get("/data/map-ids.json").get_data())
    return map_document_rows(json.loads(response.get_data()), ids_doc)


def map_document_rows(doc: Any, ids_doc: Any) -> list[Row]:
    """The map document's entries (format 2, public_map/static/README.md: one array per
    column in map.json, the ids in one string in map-ids.json, in the same order) as
    open-data-like rows: id, types, district, month, service, perpetrator, lat/lon or None."""
    assert doc["format"] == ids_doc["format"] == 2
    assert doc["sequence"] == ids_doc["sequence"]  # the same version of the data
    columns = doc["columns"]
    ids = ids_doc["ids"]
    assert len(ids) == 32 * doc["count"]
    for name in ("point", "types", "district", "month", "service", "perpetrator", "story"):
        assert len(columns[name]) == doc["count"], name

    def pick(table: str, index: int) -> Any:
        return None if index == -1 else doc[table][index]

    out = []
    for i in range(doc["count"]):
        point = columns["point"][i]
        lat_lon = (None, None) if point == -1 else tuple(v / 1e6 for v in doc["points"][point])
        mask = columns["types"][i]
        out.append(
            {
                "id": ids[32 * i : 32 * i + 32],
                "types": sorted(t for n, t in enumerate(doc["types"]) if mask >> n & 1),
                "district": pick("districts", columns["district"][i]),
                "month": pick("months", columns["month"][i]),
                "service": pick("services", columns["service"][i]),
                "perpetrator": pick("perpetrators", columns["perpetrator"][i]),
                "lat": lat_lon[0],
                "lon": lat_lon[1],
                "has_story": bool(columns["story"][i]),
            }
        )
    return out


@pytest.mark.parametrize(("query", "wanted"), FILTERS, ids=IDS)
def test_the_map_document_filtered_agrees(
    client: FlaskClient, rows: list[Row], query: str, wanted: Wanted
) -> None:
    found = map_rows(client)
    if found is None:
        pytest.skip("/data/map.json is not there yet (MAPJS)")
    expected = sorted(e["id"] for e in rows if wanted(e))
    assert sorted(e["id"] for e in found if wanted(e)) == expected
    by_id = {e["id"]: e for e in rows}
    for entry in found:
        same = by_id[entry["id"]]
        for key in ("types", "district", "month", "service", "perpetrator"):
            assert entry[key] == same[key], (entry["id"], key)
        assert (entry["lat"], entry["lon"]) == (same["lat"], same["lon"])
        assert entry["has_story"] == (same["story"] is not None)


@pytest.mark.parametrize(("query", "wanted"), FILTERS, ids=IDS)
def test_the_map_pages_own_count_without_javascript_agrees(
    client: FlaskClient, rows: list[Row], query: str, wanted: Wanted
) -> None:
    """The map page says how many entries match before its script runs (and without it)."""
    expected = sum(1 for e in rows if wanted(e))
    for url in in_every_language(f"/?{query}"):
        html = client.get(url).get_data(as_text=True)
        found = re.search(r'id="map-count"[^>]*>\D*(\d+)', html)
        assert found, url
        assert int(found.group(1)) == expected, url
