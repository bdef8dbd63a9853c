"""Helpers for the map's cross-page tests (QA): a map holding a chain of bundles, every
page URL in every language, and the list walked page by page."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from public_map.app import create_app
from public_map.instance import init_map

from .chain import write_verify_file

LANG_PREFIXES = ("", "/ru", "/en")
#: Every page without a parameter (the entry pages and the error pages come on top).
PAGES = ("/", "/list/", "/stories/", "/stats/", "/data/", "/about/", "/report/", "/help/")
DATA_FILES = ("/data/entries.json", "/data/entries.csv", "/data/entries.geojson",
              "/data/dictionary.json", "/data/map.json", "/data/map-ids.json")  # fmt: skip


def map_client(tmp_path: Path, bundles: tuple[bytes, ...], page_size: int = 50) -> FlaskClient:
    init_map(tmp_path / "map", write_verify_file(tmp_path / "publication.verify"))
    app = create_app(tmp_path / "map")
    app.config["SESIM_MAP_PAGE_SIZE"] = page_size
    client = app.test_client()
    for data in bundles:
        ingest(client, data)
    return client


def ingest(client: FlaskClient, data: bytes, status: int = 200) -> dict[str, Any]:
    response = client.post("/ingest", data=data, content_type="application/json")
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return json.loads(response.get_data())  # type: ignore[no-any-return]


def in_every_language(path: str) -> list[str]:
    return [prefix + path for prefix in LANG_PREFIXES]


def exists(client: FlaskClient, path: str) -> bool:
    """Whether another work package has added this page or file yet."""
    return client.get(path).status_code != 404


def ready(client: FlaskClient, path: str) -> bool:
    """Whether the page is there and more than a placeholder (another work package's)."""
    response = client.get(path)
    html = response.get_data(as_text=True)
    return response.status_code != 404 and not re.search(r"<main>\s*<h1>[^<]*</h1>\s*</main>", html)


def open_data(client: FlaskClient) -> list[dict[str, Any]]:
    return json.loads(client.get("/data/entries.json").get_data())["entries"]  # type: ignore[no-any-return]


def list_count(page: str) -> int:
    found = re.search(r'id="count"[^>]*>\D*(\d+)', page)
    assert found, "no count on the list page"
    return int(found.group(1))


def walk(client: FlaskClient, url: str) -> tuple[int, list[str], list[str]]:
    """Follow "next page" from ``url``: the count shown, every entry id, every page's HTML."""
    ids: list[str] = []
    counts = set()
    pages: list[str] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, next_url
        page = response.get_data(as_text=True)
        pages.append(page)
        counts.add(list_count(page))
        ids += re.findall(r'href="/(?:\w\w/)?entry/([0-9a-f]{32})/"', page)
        found = re.search(r'rel="next" href="([^"]+)"', page)
        next_url = unescape(found.group(1)) if found else None
        assert len(pages) < 1000
    assert len(counts) == 1, counts  # the same count on every page
    return counts.pop(), ids, pages
