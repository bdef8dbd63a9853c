"""Hostile text in every text field of a bundle (summary and story) comes out as text on
every page in every language and as exactly the same text in every data file; a code
field with markup is refused by the reader, so it never reaches a page.

Pages are parsed with ``html.parser``: no element or attribute may come from the data
(no script, no ``on*`` attribute, no ``style`` attribute, no ``javascript:`` or foreign
link), and each payload is found literally in the page's text where it is shown."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from securedrop_like.bundles import bundle_sha256

from .chain import (
    ONE,
    PAYLOAD_BUNDLE,
    PAYLOADS,
    THREE,
    TWO,
    payload_entries,
    raw_manifest,
    signed_raw,
)
from .site import (
    DATA_FILES,
    PAGES,
    exists,
    in_every_language,
    ingest,
    map_client,
    ready,
    walk,
)

MARKER = re.compile(r"qx\d+q")
#: Elements that no page of the map has, and that a payload would create.
FORBIDDEN = {"script", "img", "iframe", "object", "embed", "base", "style", "frame",
             "frameset", "math", "textarea", "template", "applet", "audio", "video"}  # fmt: skip
#: Attributes whose value is a URL or would act: never data, never javascript:.
URL_ATTRS = {"href", "src", "action", "formaction", "data", "srcdoc", "xlink:href", "poster",
             "content", "http-equiv", "ping", "background", "srcset"}  # fmt: skip


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.other: list[str] = []  # comments, declarations, processing instructions
        self.svg_depth = 0
        self.html_titles = 0  # <title> outside SVG (an SVG chart may have its own)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "svg":
            self.svg_depth += 1
        if tag == "title" and not self.svg_depth:
            self.html_titles += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg_depth -= 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.other.append(data)

    def handle_decl(self, decl: str) -> None:
        self.other.append(decl)

    def unknown_decl(self, data: str) -> None:
        self.other.append(data)

    def handle_pi(self, data: str) -> None:
        self.other.append(data)


def check_page(html: str, where: str) -> str:
    """Fails if any element or attribute in ``html`` came from data; returns its text."""
    page = Page()
    page.feed(html)
    page.close()
    problems = []
    for tag, attrs in page.tags:
        names = {name for name, _ in attrs}
        if tag in FORBIDDEN and not (tag == "script" and _own_script(attrs)):
            problems.append(f"<{tag}> {attrs}")
        if tag == "meta" and names & {"http-equiv"}:
            problems.append(f"<meta> {attrs}")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") or name == "style":
                problems.append(f"{name}= on <{tag}>")
            if name in URL_ATTRS and (
                MARKER.search(value) or re.sub(r"\s", "", value).lower().startswith("javascript:")
            ):
                problems.append(f"{name}={value!r} on <{tag}>")
    problems += [f"comment or declaration {o!r}" for o in page.other if MARKER.search(o)]
    for tag in ("html", "head", "body", "main"):
        if [t for t, _ in page.tags].count(tag) != 1:
            problems.append(f"not exactly one <{tag}>")
    if page.html_titles != 1:
        problems.append("not exactly one <title>")
    assert not problems, f"{where}: {problems[:5]}"
    return "".join(page.text)


def _own_script(attrs: list[tuple[str, str | None]]) -> bool:
    """The map page's own script files (MAPJS): a src on this site, nothing inline; or its
    JSON config block (a data block, never run; checked by :func:`check_config`)."""
    found = dict(attrs)
    if found == {"type": "application/json", "id": "map-config"}:
        return True
    src = found.get("src") or ""
    return src.startswith("/static/") and not MARKER.search(src) and set(found) == {"src"}


def check_config(html: str, where: str) -> None:
    """The map page's config block is JSON with no ``<`` that could end the element."""
    for block in re.findall(r'<script type="application/json" id="map-config">(.*?)</script>',
                            html, re.S):  # fmt: skip
        assert "<" not in block, where
        json.loads(block)


#: Payloads that are markup: put out raw, each must trip ``check_page`` (the others are
#: plain text that must only come out literally, which the text checks see).
MARKUP = [p for n, p in enumerate(PAYLOADS) if n not in (5, 6, 8, 11, 12, 13)]


@pytest.mark.parametrize("payload", MARKUP)
def test_the_page_check_finds_each_payload_put_out_raw(payload: str) -> None:
    html = "<!doctype html><html><head><title>t</title></head><body><main>{}</main></body></html>"
    check_page(html.format("&lt;fine&gt;"), "escaped")
    with pytest.raises(AssertionError):
        check_page(html.format(payload), "raw")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return map_client(tmp_path_factory.mktemp("xss"), (ONE, TWO, THREE, PAYLOAD_BUNDLE), 6)


def _html(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    assert response.mimetype == "text/html", url
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return response.get_data(as_text=True)


@pytest.mark.parametrize("path", PAGES)
def test_no_page_in_any_language_turns_data_into_markup(client: FlaskClient, path: str) -> None:
    if not exists(client, path):
        pytest.skip(f"{path} is not there yet")
    for url in in_every_language(path):
        if url.endswith(("/list/", "/stories/")):
            for n, html in enumerate(walk(client, url)[2]):
                check_page(html, f"{url} page {n + 1}")
        else:
            html = _html(client, url)
            check_page(html, url)
            check_config(html, url)


def test_the_list_shows_every_summary_literally(client: FlaskClient) -> None:
    for url in in_every_language("/list/"):
        text = "".join(check_page(html, url) for html in walk(client, url)[2])
        for payload in PAYLOADS:
            assert payload in text, (url, payload[:40])


@pytest.mark.parametrize("entry", payload_entries(), ids=lambda e: e.id[-2:])
def test_an_entry_page_shows_summary_and_story_literally(client: FlaskClient, entry: Any) -> None:
    for url in in_every_language(f"/entry/{entry.id}/"):
        text = check_page(_html(client, url), url)
        assert entry.summary in text, url
        for line in (entry.story or "").split("\n"):
            assert line in text, (url, line[:40])


def test_the_stories_page_shows_every_story_literally(client: FlaskClient) -> None:
    if not ready(client, "/stories/"):
        pytest.skip("/stories/ is not there yet")
    with_story = [e for e in payload_entries() if e.story]
    for url in in_every_language("/stories/"):
        text = "".join(check_page(html, url) for html in walk(client, url)[2])
        for entry in with_story:
            for line in entry.story.split("\n"):  # type: ignore[union-attr]
                assert line in text, (url, line[:40])


@pytest.mark.parametrize(
    "query",
    ["type=%3Cscript%3E", "from=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
     "after=%3Csvg%20onload%3Dalert(1)%3E", "district=javascript:alert(1)"],
)  # fmt: skip
def test_hostile_parameters_give_an_error_page_without_markup(
    client: FlaskClient, query: str
) -> None:
    for path in ("/", "/list/", "/stats/"):
        for url in in_every_language(f"{path}?{query}"):
            response = client.get(url)
            if path == "/stats/" and not ready(client, path):
                continue  # not there yet
            assert response.status_code == 400, url
            check_page(response.get_data(as_text=True), url)


# -- data files --------------------------------------------------------------------------


def _data(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype not in ("text/html", "application/xhtml+xml", "image/svg+xml")
    assert response.headers["X-Content-Type-Options"] == "nosniff", path
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'"), path
    assert "Set-Cookie" not in response.headers
    return response.get_data(as_text=True)


def test_every_data_file_is_served_as_data(client: FlaskClient) -> None:
    for path in DATA_FILES:
        if exists(client, path):
            _data(client, path)


def test_json_and_geojson_round_trip_every_text_exactly(client: FlaskClient) -> None:
    wanted = {e.id: e for e in payload_entries()}
    rows = {r["id"]: r for r in json.loads(_data(client, "/data/entries.json"))["entries"]}
    geo = json.loads(_data(client, "/data/entries.geojson"))["features"]
    props = {f["id"]: f["properties"] for f in geo}
    for entry_id, entry in wanted.items():
        for found in (rows[entry_id], props[entry_id]):
            assert found["summary"] == entry.summary and found["story"] == entry.story


def test_csv_round_trips_every_text_exactly(client: FlaskClient) -> None:
    response = client.get("/data/entries.csv")
    assert response.mimetype == "text/csv"
    reader = csv.DictReader(io.StringIO(_data(client, "/data/entries.csv"), newline=""))
    rows = {r["id"]: r for r in reader}
    for entry in payload_entries():
        assert rows[entry.id]["summary"] == entry.summary
        assert rows[entry.id]["story"] == (entry.story or "")


def test_the_map_document_holds_no_text_from_a_bundle(client: FlaskClient) -> None:
    if not exists(client, "/data/map.json"):
        pytest.skip("/data/map.json is not there yet (MAPJS)")
    body = _data(client, "/data/map.json")
    json.loads(body)
    assert not MARKER.search(body)


def test_the_dictionary_holds_no_text_from_a_bundle(client: FlaskClient) -> None:
    body = _data(client, "/data/dictionary.json")
    json.loads(body)
    assert not MARKER.search(body)


# -- the reader refuses markup in a code ------------------------------------------------

_BASE = payload_entries(0x100)[0]


def _raw_entry(**changes: Any) -> dict[str, object]:
    doc = dataclasses.replace(_BASE, summary="qx99q fine", story=None).to_json()
    for key, value in changes.items():
        if key == "kind":
            doc["point"] = dict(doc["point"], kind=value)
        else:
            doc[key] = value
    return doc


BAD_ENTRIES = {
    "id": _raw_entry(id='"><script>alert(1)</script>'),
    "type": _raw_entry(types=["<script>alert(1)</script>"]),
    "type_suffix": _raw_entry(types=["verbal<b>"]),
    "district": _raw_entry(district='sabail"><img src=x onerror=alert(1)>'),
    "month": _raw_entry(month="2024-01<script>"),
    "perpetrator": _raw_entry(perpetrator="<svg onload=alert(1)>"),
    "service": _raw_entry(service="javascript:alert(1)"),
    "language": _raw_entry(language='en" onmouseover="alert(1)'),
    "point_kind": _raw_entry(kind="<script>"),
    "summary_rtl_override": _raw_entry(summary="qx98q \u202egnp.exe"),
    "summary_nul": _raw_entry(summary="qx98q \x00 nul"),
    "summary_zero_width": _raw_entry(summary="qx98q java\u200bscript:"),
    "summary_line_separator": _raw_entry(summary="qx98q \u2028 line"),
    "story_carriage_return": _raw_entry(story="qx98q\r\n<script>"),
    "story_bidi_isolate": _raw_entry(story="qx98q \u2067x\u2069"),
    "summary_empty": _raw_entry(summary="   "),
}


@pytest.mark.parametrize("name", sorted(BAD_ENTRIES))
def test_a_signed_bundle_with_markup_in_a_code_is_refused_and_changes_nothing(
    tmp_path: Path, name: str
) -> None:
    client = map_client(tmp_path, (ONE, TWO, THREE))
    before = client.get("/data/entries.json").get_data()
    data = signed_raw(raw_manifest(4, bundle_sha256(THREE), [BAD_ENTRIES[name]]))
    answer = ingest(client, data, 400)
    assert answer["kind"] == "bad_bundle"
    assert client.get("/data/entries.json").get_data() == before
    assert "qx9" not in client.get("/list/").get_data(as_text=True)


def test_the_refusal_test_can_fail(tmp_path: Path) -> None:
    """The same hand-made bundle with good codes IS accepted (so the refusals above are
    about the markup, not about how the bundle was made)."""
    client = map_client(tmp_path, (ONE, TWO, THREE))
    data = signed_raw(raw_manifest(4, bundle_sha256(THREE), [_raw_entry()]))
    assert ingest(client, data)["added"] == 1


# -- the static build (STATIC) ------------------------------------------------------------


def test_the_static_build_turns_no_data_into_markup(client: FlaskClient, tmp_path: Path) -> None:
    from public_map.build import build_site

    home = client.application.extensions["sesim_map"]
    out = tmp_path / "site"
    build_site(home, out, {"SESIM_MAP_PAGE_SIZE": 6})
    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 50
    texts = []
    for path in pages:
        html = path.read_text("utf-8")
        texts.append(check_page(html, str(path.relative_to(out))))
        check_config(html, str(path))
    every = "".join(texts)
    for entry in payload_entries():
        assert entry.summary in every
        for line in (entry.story or "").split("\n"):
            assert line in every
        page = (out / "en" / "entry" / entry.id / "index.html").read_text("utf-8")
        assert entry.summary in check_page(page, entry.id)
    rows = {r["id"]: r for r in json.loads((out / "data" / "entries.json").read_text())["entries"]}
    for entry in payload_entries():
        assert (rows[entry.id]["summary"], rows[entry.id]["story"]) == (entry.summary, entry.story)
    assert not MARKER.search((out / "data" / "map.json").read_text("utf-8"))


def test_hostile_unknown_parameter_names_are_ignored_without_markup(client: FlaskClient) -> None:
    """Unknown parameters are ignored, but the language links carry them on: encoded."""
    query = "%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E=%3Csvg%20onload%3Dalert(1)%3E&x=javascript:1"
    query += "&lang=%22%3E%3Cscript%3E"
    for path in ("/", "/list/", "/stats/", "/stories/", f"/entry/{payload_entries()[0].id}/"):
        for url in in_every_language(f"{path}?{query}"):
            response = client.get(url)
            assert response.status_code == 200, url
            check_page(response.get_data(as_text=True), url)


def test_a_hostile_unknown_address_gets_the_404_page_without_markup(client: FlaskClient) -> None:
    for url in in_every_language("/%22%3E%3Cscript%3Ealert(1)%3C/script%3E/x?a=%3Cb%3E"):
        response = client.get(url)
        assert response.status_code == 404, url
        if response.mimetype == "text/html":
            check_page(response.get_data(as_text=True), url)
