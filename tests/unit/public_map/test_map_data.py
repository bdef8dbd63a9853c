"""/data/map.json (the map page's compact document), /data/map-ids.json (its entries' ids,
fetched by the page only for a popup's link) and the per-sequence cache of every
data file (gzip, strong ETag, 304), and the map page's server side: its CSP, its config
block, its form without JavaScript. Real signed bundles (tests/unit/public_map/chain.py)
and the app's own test client; the page in a browser: tests/browser/test_map_browser.py.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from public_map import data, map_page, store
from public_map.app import create_app
from public_map.ingest import ingest
from public_map.instance import MapInstance, init_map, open_map
from securedrop_like.bundles import bundle_sha256

from .chain import (
    ONE,
    REMAINING,
    SABAIL_ID,
    STATION_ID,
    THREE,
    TWO,
    XSS_ID,
    XSS_SUMMARY,
    bundle,
    write_verify_file,
)
from .test_pages import FOUR

FILES = ("map.json", "map-ids.json", "entries.json", "entries.csv", "entries.geojson",
         "dictionary.json")  # fmt: skip


@pytest.fixture
def home(tmp_path: Path) -> Path:
    init_map(tmp_path / "map", write_verify_file(tmp_path / "publication.verify"))
    return tmp_path / "map"


@pytest.fixture
def app(home: Path) -> Flask:
    return create_app(home)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _post(client: FlaskClient, *bundles: bytes) -> None:
    for body in bundles:
        response = client.post("/ingest", data=body, content_type="application/json")
        assert response.status_code == 200, response.get_json()


def _decode(doc: dict[str, Any], ids_doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """map.json and map-ids.json back to one record per entry, in the open data's terms
    (entry n of map.json has the n-th id of map-ids.json)."""
    assert doc["format"] == ids_doc["format"] == 2
    assert doc["sequence"] == ids_doc["sequence"] and doc["count"] == ids_doc["count"]
    assert list(ids_doc) == ["format", "sequence", "count", "ids"]
    assert doc["months"] == sorted(set(doc["months"]))
    assert doc["points"] == sorted(doc["points"])
    columns = doc["columns"]
    assert list(columns) == ["point", "types", "district", "month", "service",
                             "perpetrator", "story"]  # fmt: skip
    count = doc["count"]
    ids = ids_doc["ids"]
    assert len(ids) == 32 * count and re.fullmatch(r"[0-9a-f]*", ids)
    assert all(len(columns[name]) == count for name in columns)
    # Entries in place order (their columns' values, then id): it is what makes the
    # columns compress.
    keys = [
        tuple(columns[c][n] for c in ("district", "point", "month", "types", "service",
                                      "perpetrator", "story")) + (ids[32 * n : 32 * n + 32],)
        for n in range(count)
    ]  # fmt: skip
    assert keys == sorted(keys)

    def code(table: str, at: int) -> str | None:
        return None if at < 0 else doc[table][at]

    out = {}
    for n in range(count):
        point = columns["point"][n]
        lat_e6, lon_e6 = doc["points"][point] if point >= 0 else (None, None)
        mask = columns["types"][n]
        out[ids[32 * n : 32 * (n + 1)]] = {
            "types": [t for k, t in enumerate(doc["types"]) if mask & (1 << k)],
            "district": code("districts", columns["district"][n]),
            "lat": None if lat_e6 is None else lat_e6 / 1_000_000,
            "lon": None if lon_e6 is None else lon_e6 / 1_000_000,
            "month": code("months", columns["month"][n]),
            "service": code("services", columns["service"][n]),
            "perpetrator": code("perpetrators", columns["perpetrator"][n]),
            "has_story": bool(columns["story"][n]),
        }
    assert len(out) == count
    return out


def _map(client: FlaskClient) -> dict[str, dict[str, Any]]:
    return _decode(client.get("/data/map.json").get_json(),
                   client.get("/data/map-ids.json").get_json())  # fmt: skip


def test_map_json_round_trips_every_entry_as_the_open_data_has_it(client: FlaskClient) -> None:
    _post(client, ONE, TWO, THREE, FOUR)
    response = client.get("/data/map.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["sequence"] == 4
    ids_response = client.get("/data/map-ids.json")
    assert ids_response.status_code == 200 and ids_response.mimetype == "application/json"
    found = _decode(doc, ids_response.get_json())
    rows = client.get("/data/entries.json").get_json()["entries"]
    assert sorted(found) == [r["id"] for r in rows]  # the same entries
    assert list(found) != sorted(found)  # in place order, not id order (these entries)
    for row in rows:
        expected = {k: row[k] for k in ("district", "lat", "lon", "month", "service",
                                        "perpetrator")}  # fmt: skip
        expected["types"] = sorted(row["types"], key=doc["types"].index)
        expected["has_story"] = row["story"] is not None
        assert found[row["id"]] == expected
    assert any(v["lat"] is not None for v in found.values())
    assert {v["district"] for v in found.values()} >= {"nasimi", "online", None}
    # Entries share places: each point is given once.
    assert len(doc["points"]) == len({tuple(p) for p in doc["points"]}) < len(found)
    # No text from a bundle: no summary, no story; and no id (they are in map-ids.json).
    body = response.get_data(as_text=True)
    assert "Entry number" not in body and "script" not in body and "Story" not in body
    assert not re.search(r"[0-9a-f]{32}", body)


def test_retracted_entries_are_gone_from_map_json(client: FlaskClient) -> None:
    _post(client, ONE)
    assert {STATION_ID, SABAIL_ID} <= set(_map(client))
    _post(client, TWO, THREE)
    ids = set(_map(client))
    assert ids == REMAINING and STATION_ID not in ids and SABAIL_ID not in ids


def test_an_empty_map_has_an_empty_document(client: FlaskClient) -> None:
    doc = client.get("/data/map.json").get_json()
    assert (doc["sequence"], doc["count"], doc["points"]) == (0, 0, [])
    assert doc["columns"]["types"] == []
    assert client.get("/data/map-ids.json").get_json() == {
        "format": 2, "sequence": 0, "count": 0, "ids": ""}  # fmt: skip
    assert _map(client) == {}


def test_each_file_is_made_once_per_sequence_and_anew_after_a_bundle(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = app.extensions["sesim_map"]
    for body in (ONE, TWO):  # not over HTTP: that makes map.json ahead (tested below)
        ingest(instance, body)
    built: list[str] = []
    real = data._build

    def counting(conn: Any, group: str, sequence: int) -> dict[str, str]:
        built.append(group)
        return real(conn, group, sequence)

    monkeypatch.setattr(data, "_build", counting)
    with app.app_context():
        first = {name: data.cached(instance, name) for name in FILES}
        again = {name: data.cached(instance, name) for name in FILES}
        # One build per group: map.json with map-ids.json, the three open-data files.
        assert built == ["map", "entries", "dictionary"]
        assert all(again[n] is first[n] for n in FILES)  # the same bytes, not made again
        ingest(instance, THREE)
        after = {name: data.cached(instance, name) for name in FILES}
    assert built == ["map", "entries", "dictionary"] * 2
    for name in FILES:
        old, new = first[name], after[name]
        assert (old.sequence, new.sequence) == (2, 3)
        assert gzip.decompress(new.gzip) == new.body
        assert new.gzip == gzip.compress(new.body, compresslevel=9, mtime=0)  # reproducible
        if name != "dictionary.json":  # the dictionary does not depend on the entries
            assert new.etag != old.etag and new.body != old.body
        assert re.fullmatch(r'"[0-9a-f]{32}"', new.etag)
        assert re.fullmatch(r'"[0-9a-f]{32}-gz"', new.gzip_etag)
    # Another app on the same folder (a second process) shares nothing but the bytes.
    other = create_app(open_map(instance.home))
    with other.app_context():
        assert data.cached(other.extensions["sesim_map"], "map.json").body == after["map.json"].body


def test_threads_asking_at_once_get_one_copy_made_once(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance: MapInstance = app.extensions["sesim_map"]
    for body in (ONE, TWO, THREE, FOUR):  # not over HTTP: that makes map.json ahead
        ingest(instance, body)
    built: list[str] = []
    real = data._build
    start = threading.Barrier(8)

    def slow(conn: Any, group: str, sequence: int) -> dict[str, str]:
        built.append(group)
        return real(conn, group, sequence)

    monkeypatch.setattr(data, "_build", slow)
    got: list[data.Cached] = []

    def ask() -> None:
        start.wait(timeout=30)
        got.append(data.cached(instance, "map.json"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(got) == 8 and all(g is got[0] for g in got)
    assert built == ["map"]


@pytest.mark.parametrize("name", FILES)
def test_the_data_files_are_served_from_the_cache_with_their_headers(
    app: Flask, client: FlaskClient, name: str
) -> None:
    _post(client, ONE, TWO, THREE)
    with app.app_context():
        found = data.cached(app.extensions["sesim_map"], name)
    plain = client.get(f"/data/{name}")
    assert plain.status_code == 200 and plain.data == found.body
    assert plain.headers["Content-Type"] == found.content_type == data.DATA_FILES[name]
    assert plain.headers["ETag"] == found.etag
    assert plain.headers["Vary"] == "Accept-Encoding"
    assert plain.headers["Cache-Control"] == "no-cache"
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "Set-Cookie" not in plain.headers
    if name == "entries.csv":
        assert "attachment" in plain.headers["Content-Disposition"]

    packed = client.get(f"/data/{name}", headers={"Accept-Encoding": "br, gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["ETag"] == found.gzip_etag and packed.data == found.gzip
    assert gzip.decompress(packed.data) == found.body
    refused = client.get(f"/data/{name}", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "Content-Encoding" not in refused.headers and refused.data == found.body

    for held in (found.etag, found.gzip_etag, "W/" + found.etag, f'"other", {found.etag}'):
        again = client.get(f"/data/{name}", headers={"If-None-Match": held})
        assert again.status_code == 304 and again.data == b"", held
        assert again.headers["Cache-Control"] == "no-cache"
        assert again.headers["Content-Security-Policy"].startswith("default-src 'none'")
    stale = client.get(f"/data/{name}", headers={"If-None-Match": '"0123"'})
    assert stale.status_code == 200 and stale.data == found.body
    head = client.head(f"/data/{name}")
    assert head.status_code == 200 and head.headers["ETag"] == found.etag


def test_after_a_new_bundle_an_old_etag_gets_the_new_file(client: FlaskClient) -> None:
    _post(client, ONE, TWO)
    old = client.get("/data/map.json")
    _post(client, THREE)
    new = client.get("/data/map.json", headers={"If-None-Match": old.headers["ETag"]})
    assert new.status_code == 200 and new.headers["ETag"] != old.headers["ETag"]
    assert new.get_json()["sequence"] == 3


def _page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self';"
        " img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    assert "Set-Cookie" not in response.headers
    return response.get_data(as_text=True)


def _config(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="map-config">(.*?)</script>', page)
    assert found
    return dict(json.loads(found.group(1)))


def test_the_map_page_has_its_own_script_and_nothing_inline(client: FlaskClient) -> None:
    _post(client, ONE, TWO, THREE)
    page = _page(client, "/en/")
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    sources = [attrs for attrs, body in scripts if body == ""]
    assert sources == [
        ' src="/static/vendor/leaflet-1.9.4/leaflet.js"',
        ' src="/static/vendor/supercluster-8.0.1/supercluster.min.js"',
        ' src="/static/map.js"',
    ]
    inline = [attrs for attrs, body in scripts if body != ""]
    assert inline == [' type="application/json" id="map-config"']  # data, never run
    assert "style=" not in page and " on" not in re.sub(r">[^<]*<", "><", page).lower()
    assert '<output id="map-status"' in page and 'data-ready="0"' in page
    for path in ("/static/map.js", "/static/vendor/leaflet-1.9.4/leaflet.css"):
        assert client.get(path).status_code == 200
    config = _config(page)
    assert config["entry_url"] == "/en/entry/" and config["list_url"] == "/en/list/"
    assert config["data_url"] == "/data/map.json" and config["tile_url"] == ""
    assert config["ids_url"] == "/data/map-ids.json"
    # The static site's script refuses a bad filter with the server's own words.
    assert config["bad_filter"]["type"] == (
        "This filter cannot be used: Type. Check the value or clear the filters."
    )
    assert sorted(config["bad_filter"]) == ["district", "from", "perpetrator", "service",
                                            "to", "type"]  # fmt: skip
    assert "To (month)" in config["bad_filter"]["to"]
    assert config["labels"]["type"]["verbal"] == "Sexual comments, jokes or catcalls"
    assert config["labels"]["district"]["online"] == "Online or by phone"
    assert len(config["attribution"]) == 2 and all("ODbL" in a for a in config["attribution"])
    assert _config(_page(client, "/"))["entry_url"] == "/entry/"
    ru = _config(_page(client, "/ru/"))
    assert ru["entry_url"] == "/ru/entry/" and ru["labels"]["district"]["sabail"].startswith(
        "Сабаиль"
    )


def test_the_config_block_cannot_be_closed_by_a_label(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tojson escapes <, > and &: even a hostile label stays inside the JSON block."""
    real = map_page.labels

    def hostile() -> dict[str, dict[str, str]]:
        out = real()
        out["type"]["verbal"] = XSS_SUMMARY
        return out

    monkeypatch.setattr(map_page, "labels", hostile)
    page = _page(client, "/en/")
    assert page.count("</script>") == 4  # the config block and three script files
    assert _config(page)["labels"]["type"]["verbal"] == XSS_SUMMARY


def test_a_tile_url_adds_its_origin_to_img_src_only(home: Path) -> None:
    config = home / "map.toml"
    config.write_text(
        config.read_text().replace(
            'tile_url = ""', 'tile_url = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"'
        )
    )
    client = create_app(home).test_client()
    response = client.get("/en/")
    csp = response.headers["Content-Security-Policy"]
    assert (
        "img-src 'self' https://a.tiles.example.org https://b.tiles.example.org"
        " https://c.tiles.example.org;"
    ) in csp  # {s}: Leaflet's a, b, c; no wildcard
    assert "connect-src 'self';" in csp and "script-src 'self';" in csp
    assert _config(response.get_data(as_text=True))["tile_url"].startswith("https://{s}.tiles")
    assert client.get("/en/list/").headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
        " base-uri 'none'; frame-ancestors 'none'"
    )
    assert map_page.tile_origins("javascript:alert(1)") == ()
    assert map_page.tile_origins("https://a.example.org;script-src */{z}/{x}/{y}") == ()


def test_without_javascript_the_form_filters_and_links_to_the_list(client: FlaskClient) -> None:
    _post(client, ONE, TWO, THREE, FOUR)
    page = _page(client, "/en/?district=nasimi&type=verbal&from=2024-01&to=")
    assert '<form class="filter-form" method="get" action="/en/">' in page  # the list's form
    for name, value in (("district", "nasimi"), ("type", "verbal")):
        assert re.search(rf'name="{name}" value="{value}" checked>', page)
    assert 'name="type" value="touching">' in page
    assert 'value="2024-01"' in page
    links = re.findall(r'id="map-list-link" href="([^"]+)"', page)
    assert [unescape(u) for u in links] == ["/en/list/?type=verbal&district=nasimi&from=2024-01"]
    listed = client.get(unescape(links[0])).get_data(as_text=True)
    shown = re.search(r'id="map-count">(\d+) ', page)
    counted = re.search(r'id="count" role="status">(\d+) ', listed)
    assert shown and counted and shown.group(1) == counted.group(1)
    assert '<details class="map-panel" id="map-panel" open>' in page  # filters set: open


def test_a_bad_filter_on_the_map_page_is_a_clear_400(client: FlaskClient) -> None:
    """The message, a link that clears the filters, and no map (no script, no data)."""
    page = _page(client, "/en/?type=nonsense", 400)
    assert "This filter cannot be used: Type." in page
    assert '<a href="/en/" id="map-clear">Clear the filters</a>' in page
    assert "<script" not in page and 'id="map"' not in page
    assert "To (month)" in _page(client, "/en/?from=2024-05&to=2024-01", 400)
    assert "From (month)" in _page(client, "/en/?from=May", 400)
    assert '<a href="/ru/" id="map-clear">' in _page(client, "/ru/?district=x", 400)
    listed = client.get("/en/list/?type=nonsense")  # the list's own page: no map link
    assert listed.status_code == 400 and b'id="map-clear"' not in listed.data


def test_in_the_static_site_there_is_no_form_and_the_controls_wait_for_the_script(
    app: Flask, client: FlaskClient
) -> None:
    """No server filters in the static site: without JavaScript only the count of every
    entry and the list link show; the controls (no <form>) appear with the map."""
    _post(client, ONE, TWO, THREE, FOUR)
    app.config["SESIM_MAP_STATIC"] = True
    page = _page(app.test_client(), "/en/?type=verbal")
    assert "<form" not in page
    assert '<details class="map-panel" id="map-panel" hidden>' in page
    assert '<div class="filter-form" id="map-controls">' in page
    assert 'name="type" value="verbal">' in page and "checked" not in page  # the script's
    assert 'id="map-count">27 entries</p>' in page  # every entry: no filter on a server
    assert 'id="map-list-link" href="/en/list/"' in page
    assert _config(page)["static"] is True


def test_xss_entry_is_in_map_json_only_as_numbers(client: FlaskClient) -> None:
    _post(client, ONE, TWO, THREE)
    doc = client.get("/data/map.json").get_json()
    at = client.get("/data/map-ids.json").get_json()["ids"].index(XSS_ID) // 32
    assert all(isinstance(values[at], int) for values in doc["columns"].values())


def test_a_bundle_that_retracts_everything_empties_map_json(client: FlaskClient) -> None:
    _post(client, ONE, TWO, THREE)
    ids = tuple(sorted(REMAINING))
    _post(client, bundle(4, bundle_sha256(THREE), (), ids))
    doc = client.get("/data/map.json").get_json()
    assert doc["count"] == 0 and doc["sequence"] == 4
    assert _map(client) == {}


def test_a_bundle_posted_over_http_has_its_map_json_made_before_anyone_asks(
    app: Flask, client: FlaskClient
) -> None:
    instance = app.extensions["sesim_map"]
    files = data._files(instance.db_path, instance.verify_key_text)
    _post(client, ONE)
    deadline = time.monotonic() + 60  # a bound, not a speed test
    found = None
    while time.monotonic() < deadline:
        with files.lock:
            found = files.files.get("map-ids.json")  # made with map.json
        if found is not None:
            break
        time.sleep(0.02)
    assert found is not None and found.sequence == 1
    with files.lock:
        assert files.files["map.json"].sequence == 1
    assert "entries.csv" not in files.files  # only the map page's files are made ahead


def test_map_json_and_its_ids_come_from_one_table_and_one_snapshot(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both files from one ``_map_table`` call (one read, one order): they agree for a
    sequence whatever is asked first; the open data's three files from one ``entries``."""
    instance = app.extensions["sesim_map"]
    for body in (ONE, TWO, THREE, FOUR):
        ingest(instance, body)
    calls = {"table": 0, "entries": 0}
    table, rows = data._map_table, data.entries

    def counted_table(conn: Any) -> Any:
        calls["table"] += 1
        return table(conn)

    def counted_entries(conn: Any) -> Any:
        calls["entries"] += 1
        return rows(conn)

    monkeypatch.setattr(data, "_map_table", counted_table)
    monkeypatch.setattr(data, "entries", counted_entries)
    ids = data.cached(instance, "map-ids.json")  # the ids first: map.json comes with them
    doc = data.cached(instance, "map.json")
    for name in ("entries.csv", "entries.json", "entries.geojson"):
        data.cached(instance, name)
    assert calls == {"table": 1, "entries": 1}
    assert doc.sequence == ids.sequence == 4
    _decode(json.loads(doc.body), json.loads(ids.body))  # agree entry by entry
    # The bytes are those of the functions that make each file on its own.
    conn = store.connect(instance.db_path)
    try:
        assert doc.body.decode() == data.map_document(conn, 4)
        assert ids.body.decode() == data.map_ids_document(conn, 4)
        assert data.cached(instance, "entries.csv").body.decode() == data.to_csv(rows(conn))
    finally:
        conn.close()


def test_a_new_sequence_drops_every_file_of_older_ones_at_once(app: Flask) -> None:
    """A retracted story must not wait in memory until its own file is asked for again:
    after an ingest from the command line (nothing warms the cache), the first request
    for any data file drops every file of the older sequence."""
    instance = app.extensions["sesim_map"]
    ingest(instance, ONE)
    ingest(instance, TWO)
    files = data._files(instance.db_path, instance.verify_key_text)
    with app.app_context():
        for name in FILES:
            data.cached(instance, name)
    assert SABAIL_ID.encode() in files.files["entries.csv"].body
    ingest(instance, THREE)  # retracts SABAIL_ID; no request yet
    data.cached(instance, "map.json")  # any one file
    with files.lock:
        assert set(files.files) == {"map.json", "map-ids.json"}
        assert all(f.sequence == 3 for f in files.files.values())
    # A cache that reads the sequence itself (the statistics) can say so too.
    ingest(instance, FOUR)
    data.seen_sequence(instance, 4)
    with files.lock:
        assert files.files == {}
