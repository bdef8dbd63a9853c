"""The map's web app: POST /ingest (the signature is the only authentication), the open
data files, and the headers every response carries (no cookie, CSP, no referrer)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from public_map import store
from public_map.app import create_app
from public_map.instance import init_map
from securedrop_like import geo, taxonomy
from securedrop_like.bundles.publication import MAX_PUBLICATION_BYTES

from .chain import (
    ONE,
    REMAINING,
    SABAIL_ID,
    SABAIL_SUMMARY,
    STATION_ID,
    STATION_SUMMARY,
    THREE,
    TWO,
    XSS_ID,
    XSS_STORY,
    XSS_SUMMARY,
    refused_after_two,
    write_verify_file,
)

DATA_FILES = ("/data/entries.json", "/data/entries.csv", "/data/entries.geojson")


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


def _post(client: FlaskClient, data: bytes) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = client.post("/ingest", data=data, content_type="application/json")
    _check_headers(response)
    return response.status_code, response.get_json()


def _check_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert "Set-Cookie" not in headers
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert headers["Referrer-Policy"] == "no-referrer"


def _dump(home: Path) -> list[str]:
    conn = store.connect(home / store.DB_FILE)
    try:
        return store.dump(conn)
    finally:
        conn.close()


def _csv_rows(client: FlaskClient) -> list[dict[str, str]]:
    text = client.get("/data/entries.csv").get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_post_a_chain_then_every_data_file_has_exactly_the_remaining_entries(
    client: FlaskClient,
) -> None:
    for sequence, data in enumerate((ONE, TWO, THREE), 1):
        status, body = _post(client, data)
        assert status == 200 and body["sequence"] == sequence
    assert body["added"] == 1 and body["retracted"] == 1
    responses = {path: client.get(path) for path in DATA_FILES}
    for response in responses.values():
        assert response.status_code == 200
        _check_headers(response)
        text = response.get_data(as_text=True)
        for gone in (SABAIL_ID, STATION_ID, SABAIL_SUMMARY, STATION_SUMMARY):
            assert gone not in text  # retracted: gone from every file
    doc = json.loads(responses["/data/entries.json"].get_data())
    assert doc["count"] == 3 and {e["id"] for e in doc["entries"]} == REMAINING
    assert doc["licence"].startswith("CC BY 4.0")
    assert {r["id"] for r in _csv_rows(client)} == REMAINING
    geo_doc = json.loads(responses["/data/entries.geojson"].get_data())
    assert geo_doc["type"] == "FeatureCollection"
    assert {f["id"] for f in geo_doc["features"]} == REMAINING
    xss = next(f for f in geo_doc["features"] if f["id"] == XSS_ID)
    lon, lat = xss["geometry"]["coordinates"]
    assert (lat, lon) == (40.36471, 49.834567)  # [lon, lat], floats from microdegrees
    online = next(f for f in geo_doc["features"] if f["properties"]["district"] == "online")
    assert online["geometry"] is None


def test_columns_come_in_a_stable_order(client: FlaskClient) -> None:
    _post(client, ONE)
    header = client.get("/data/entries.csv").get_data(as_text=True).split("\r\n")[0]
    assert header == (
        "id,types,district,point_kind,lat,lon,month,perpetrator,service,language,summary,story"
    )
    entry = json.loads(client.get("/data/entries.json").get_data())["entries"][0]
    assert ",".join(entry) == header


def test_xss_attempts_come_out_as_data(client: FlaskClient) -> None:
    for data in (ONE, TWO, THREE):
        _post(client, data)
    doc = json.loads(client.get("/data/entries.json").get_data())
    entry = next(e for e in doc["entries"] if e["id"] == XSS_ID)
    assert (entry["summary"], entry["story"]) == (XSS_SUMMARY, XSS_STORY)
    row = next(r for r in _csv_rows(client) if r["id"] == XSS_ID)
    assert (row["summary"], row["story"]) == (XSS_SUMMARY, XSS_STORY)
    assert row["types"] == "sextortion"
    feature = next(
        f
        for f in json.loads(client.get("/data/entries.geojson").get_data())["features"]
        if f["id"] == XSS_ID
    )
    assert feature["properties"]["story"] == XSS_STORY
    for path in DATA_FILES:
        response = client.get(path)
        assert "html" not in response.content_type  # never rendered as a page
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("replay", 409),
        ("rollback", 409),
        ("skip", 409),
        ("fork", 409),
        ("tamper", 400),
        ("wrong_key", 400),
        ("not_json", 400),
        ("empty", 400),
    ],
)
def test_refused_uploads_say_why_and_change_nothing(
    client: FlaskClient, home: Path, name: str, status: int
) -> None:
    _post(client, ONE)
    _post(client, TWO)
    before = _dump(home)
    got, body = _post(client, refused_after_two()[name])
    assert got == status and body["error"] and body["kind"]
    assert _dump(home) == before
    assert _post(client, THREE)[0] == 200


def test_an_upload_over_the_cap_is_413(client: FlaskClient, home: Path) -> None:
    before = _dump(home)
    status, body = _post(client, b" " * (MAX_PUBLICATION_BYTES + 1))
    assert status == 413 and "at most" in body["error"]
    assert _dump(home) == before


def test_other_methods_and_paths_answer_json_errors(client: FlaskClient) -> None:
    for response in (client.get("/ingest"), client.get("/data/nothing"), client.post("/data/x")):
        assert response.status_code in (404, 405)
        _check_headers(response)
        assert response.get_json()["error"]


def test_the_dictionary_lists_every_code_and_both_licences(client: FlaskClient) -> None:
    response = client.get("/data/dictionary")
    _check_headers(response)
    doc = response.get_json()
    columns = {c["name"]: c for c in doc["columns"]}
    assert list(columns) == list(json.loads(client.get("/data/entries.json").get_data())["columns"])
    assert {c["code"] for c in columns["types"]["codes"]} == taxonomy.codes(
        taxonomy.HARASSMENT_TYPES
    )
    assert {c["code"] for c in columns["service"]["codes"]} == taxonomy.codes(taxonomy.SERVICES)
    assert {c["code"] for c in columns["perpetrator"]["codes"]} == taxonomy.codes(
        taxonomy.PERPETRATOR_TYPES
    )
    assert len(columns["district"]["codes"]) == geo.DISTRICT_COUNT
    assert all(c["label"]["az"] and c["label"]["ru"] for c in columns["types"]["codes"])
    assert any(c["label"]["ru"] != c["label"]["en"] for c in columns["types"]["codes"])
    assert "CC BY 4.0" in doc["licence"]["entries"] and "ODbL" in doc["licence"]["basemap"]


def test_uploads_at_once_are_bounded(app: Flask, client: FlaskClient) -> None:
    """Each upload may hold 16 MiB and anyone may post: past the bound, 503 at once."""
    from public_map.app import MAX_UPLOADS_AT_ONCE

    uploads = app.extensions["sesim_map_uploads"]
    for _ in range(MAX_UPLOADS_AT_ONCE):  # as if that many uploads were being read
        assert uploads.acquire(blocking=False)
    try:
        status, body = _post(client, ONE)
        assert status == 503 and "busy" in body["error"]
    finally:
        for _ in range(MAX_UPLOADS_AT_ONCE):
            uploads.release()
    assert _post(client, ONE)[0] == 200
    assert _post(client, TWO)[0] == 200  # each upload gave its place back
    assert _post(client, THREE)[0] == 200
