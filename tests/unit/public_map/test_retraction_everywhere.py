"""A retraction removes the entry from everything: every page in every language (the
list walked, the stories, the map page's count, the statistics), its own page (404), and
every data file (JSON, CSV, GeoJSON, the map document) even when they were cached and
the reader holds an ETag from before."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from securedrop_like.bundles import bundle_sha256

from .chain import ONE, THREE, TWO, VARIED, bundle, varied_entries
from .site import DATA_FILES, PAGES, in_every_language, ingest, map_client, ready, walk
from .test_counts_agree import map_document_rows, stats_total

ENTRIES = varied_entries()
#: One with a story, one on the cell it shares with others, one online, one with no place.
GONE = [ENTRIES[0], ENTRIES[5], ENTRIES[3], ENTRIES[4]]
RETRACT = bundle(5, bundle_sha256(VARIED), (), tuple(sorted(e.id for e in GONE)))


def _texts(entry: object) -> list[str]:
    return [t for t in (entry.summary, entry.story) if t]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> tuple[FlaskClient, dict[str, object]]:
    client = map_client(tmp_path_factory.mktemp("retract"), (ONE, TWO, THREE, VARIED), 9)
    before: dict[str, object] = {}
    for path in DATA_FILES:  # warm every cache and keep the ETags a reader would hold
        response = client.get(path)
        assert response.status_code == 200, path
        before[path] = response.headers.get("ETag")
    before["list"] = walk(client, "/list/")[0]
    before["stories"] = walk(client, "/stories/")[0] if ready(client, "/stories/") else None
    before["stats"] = stats_total(client, "/stats/") if ready(client, "/stats/") else None
    for entry in GONE:  # it was there
        assert client.get(f"/entry/{entry.id}/").status_code == 200
        assert entry.id in client.get("/data/entries.json").get_data(as_text=True)
    answer = ingest(client, RETRACT)
    assert answer["retracted"] == len(GONE)
    return client, before


def test_the_entry_page_is_404_in_every_language(state: tuple[FlaskClient, dict]) -> None:
    client, _ = state
    for entry in GONE:
        for url in in_every_language(f"/entry/{entry.id}/"):
            assert client.get(url).status_code == 404, url


def test_no_page_names_or_shows_it(state: tuple[FlaskClient, dict]) -> None:
    client, _ = state
    for path in PAGES:
        for url in in_every_language(path):
            pages = (
                walk(client, url)[2]
                if path in ("/list/", "/stories/") and ready(client, url)
                else [client.get(url).get_data(as_text=True)]
            )
            for html in pages:
                for entry in GONE:
                    assert entry.id not in html, (url, entry.id)
                    for text in _texts(entry):
                        assert text not in html, (url, text)


def test_the_counts_went_down(state: tuple[FlaskClient, dict]) -> None:
    client, before = state
    assert walk(client, "/list/")[0] == before["list"] - len(GONE)  # type: ignore[operator]
    if before["stories"] is not None:
        with_story = sum(1 for e in GONE if e.story)
        assert walk(client, "/stories/")[0] == before["stories"] - with_story  # type: ignore[operator]
    if before["stats"] is not None:
        assert stats_total(client, "/stats/") == before["stats"] - len(GONE)  # type: ignore[operator]
    page = client.get("/").get_data(as_text=True)
    found = re.search(r'id="map-count">\D*(\d+)', page)
    if found:
        assert int(found.group(1)) == before["list"] - len(GONE)  # type: ignore[operator]


def test_every_data_file_lost_it_even_from_a_cache(state: tuple[FlaskClient, dict]) -> None:
    client, before = state
    for path in DATA_FILES:
        if path == "/data/dictionary.json":
            continue  # holds no entry: the same bytes, a 304 is right
        etag = before[path]
        headers = {"If-None-Match": str(etag)} if etag else {}
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path  # not a 304 for the old version
        body = response.get_data(as_text=True)
        for entry in GONE:
            assert entry.id not in body, (path, entry.id)
            for text in _texts(entry):
                assert text not in body and json.dumps(text)[1:-1] not in body, path
    rows = json.loads(client.get("/data/entries.json").get_data())
    assert rows["count"] == len(rows["entries"]) == before["list"] - len(GONE)  # type: ignore[operator]
    csv_rows = list(csv.DictReader(io.StringIO(client.get("/data/entries.csv").text)))
    geo = json.loads(client.get("/data/entries.geojson").get_data())["features"]
    assert len(csv_rows) == len(geo) == rows["count"]
    doc = json.loads(client.get("/data/map.json").get_data())
    ids_doc = json.loads(client.get("/data/map-ids.json").get_data())
    assert len(map_document_rows(doc, ids_doc)) == rows["count"]
    if "sequence" in doc:
        assert doc["sequence"] == 5


def test_a_gzip_reader_gets_the_new_version_too(state: tuple[FlaskClient, dict]) -> None:
    import gzip

    client, _ = state
    for path in DATA_FILES:
        response = client.get(path, headers={"Accept-Encoding": "gzip"})
        body = response.get_data()
        if response.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        for entry in GONE:
            assert entry.id.encode() not in body, path


def test_the_retraction_test_can_fail(tmp_path: Path) -> None:
    """Without the retraction bundle every one of them is still everywhere."""
    client = map_client(tmp_path, (ONE, TWO, THREE, VARIED), 9)
    for entry in GONE:
        assert client.get(f"/en/entry/{entry.id}/").status_code == 200
        assert entry.id in client.get("/data/map-ids.json").get_data(as_text=True)


def _site_files(out: Path) -> Iterator[tuple[Path, bytes]]:
    import gzip

    for path in sorted(out.rglob("*")):
        if path.is_file():
            body = path.read_bytes()
            yield path, gzip.decompress(body) if path.suffix == ".gz" else body


def test_a_rebuilt_static_site_holds_no_trace_of_it(tmp_path: Path) -> None:
    """Built before the retraction, then rebuilt over the earlier build after it: no file
    of the site (a .gz sibling included) names or shows the entry, and its folder is gone."""
    from public_map.build import build_site

    client = map_client(tmp_path, (ONE, TWO, THREE, VARIED), 9)
    home = client.application.extensions["sesim_map"]
    out = tmp_path / "site"
    build_site(home, out, {"SESIM_MAP_PAGE_SIZE": 9})
    before = {p: b for p, b in _site_files(out)}
    assert any(GONE[0].id.encode() in b for b in before.values())  # it was there
    ingest(client, RETRACT)
    build_site(home, out, {"SESIM_MAP_PAGE_SIZE": 9})
    for entry in GONE:
        for lang in ("", "ru/", "en/"):
            assert not (out / f"{lang}entry" / entry.id).exists()
    for path, body in _site_files(out):
        for entry in GONE:
            assert entry.id.encode() not in body, path
            for text in _texts(entry):
                assert text.encode() not in body, path
    listed = json.loads((out / "data" / "entries.json").read_text())
    assert listed["count"] == 63 - len(GONE)
