"""The map's pages without JavaScript: the list (filters as GET parameters, a count that
equals the rows across every page, pages by key), the entry page, languages from the URL,
escaping of every text from a bundle, and no cookie, ever. Real signed bundles: the
known-answer chain, a third bundle with XSS attempts, and a fourth with 24 entries."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from markupsafe import escape

from public_map import listing, map_page
from public_map.app import create_app
from public_map.instance import init_map
from securedrop_like.bundles import bundle_sha256, read_publication

from .chain import (
    ONE,
    SABAIL_ID,
    STATION_ID,
    THREE,
    TWO,
    UNKNOWN_ID,
    VERIFY,
    XSS_ID,
    XSS_STORY,
    XSS_SUMMARY,
    _template,
    bundle,
    write_verify_file,
)
from .site import list_count, open_data

PAGE_SIZE = 4
TYPES = ("verbal", "touching", "stalking")
SERVICES = ("health", "police", None)
WHO = ("police", "stranger", None)
MONTHS = ("2023-11", "2024-01", "2024-02", None, "2024-02", "2023-12")


def _places() -> list[tuple[str | None, Any]]:
    """(district, point) pairs the core accepts: those of the known-answer entries, and none."""
    pairs = {
        e.district: e.point for data in (ONE, TWO) for e in read_publication(data, VERIFY).entries
    }
    return [(d, pairs[d]) for d in ("nasimi", "sabail", "online")] + [(None, None)]


PLACES = _places()


def _many() -> tuple[Any, ...]:
    out = []
    for n in range(24):
        types = (TYPES[n % 3],) if n % 4 else (TYPES[n % 3], "online")
        out.append(
            dataclasses.replace(
                _template(),
                id=f"{n:02x}" + "a" * 30,
                types=types,
                district=PLACES[n % 4][0],
                point=PLACES[n % 4][1],
                month=MONTHS[n % 6],
                service=SERVICES[n % 3],
                perpetrator=WHO[(n // 3) % 3],
                summary=f"Entry number {n}.",
                story=None if n % 2 else f"Story {n}.",
            )
        )
    return tuple(out)


FOUR = bundle(4, bundle_sha256(THREE), _many())


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    init_map(tmp_path / "map", write_verify_file(tmp_path / "publication.verify"))
    app = create_app(tmp_path / "map")
    app.config["SESIM_MAP_PAGE_SIZE"] = PAGE_SIZE
    client = app.test_client()
    for data in (ONE, TWO, THREE, FOUR):
        assert client.post("/ingest", data=data, content_type="application/json").status_code == 200
    return client


def _get(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    assert "Set-Cookie" not in response.headers
    csp = response.headers["Content-Security-Policy"]
    text = response.get_data(as_text=True)
    if re.fullmatch(r"(/\w\w)?/(\?.*)?", url):  # the map page runs its own script
        assert csp == map_page.csp() and "style=" not in text  # test_map_data.py: the rest
    else:
        assert "style-src 'self'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
        assert "<script" not in text and "style=" not in text  # the CSP would block them anyway
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.mimetype == "text/html"
    return text


def _walk(client: FlaskClient, url: str) -> tuple[int, list[str], int]:
    """Follow "next page" from ``url``: the count shown, every entry id in order, pages."""
    ids: list[str] = []
    counts = set()
    pages = 0
    next_url: str | None = url
    while next_url:
        page = _get(client, next_url)
        pages += 1
        counts.add(list_count(page))
        rows = re.findall(r'href="/(?:\w\w/)?entry/([0-9a-f]{32})/"', page)
        assert len(rows) <= PAGE_SIZE
        ids += rows
        found = re.search(r'rel="next" href="([^"]+)"', page)
        next_url = unescape(found.group(1)) if found else None
        assert pages < 100
    assert len(counts) == 1  # the same count on every page
    return counts.pop(), ids, pages


FILTERS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("", lambda e: True),
    ("type=verbal", lambda e: "verbal" in e["types"]),
    ("type=verbal&type=online", lambda e: bool({"verbal", "online"} & set(e["types"]))),
    ("district=online", lambda e: e["district"] == "online"),
    ("district=nasimi&type=stalking",
     lambda e: e["district"] == "nasimi" and "stalking" in e["types"]),
    ("district=sabail&district=online", lambda e: e["district"] in ("sabail", "online")),
    ("service=police", lambda e: e["service"] == "police"),
    ("perpetrator=stranger", lambda e: e["perpetrator"] == "stranger"),
    ("from=2024-01", lambda e: e["month"] is not None and e["month"] >= "2024-01"),
    ("to=2023-12", lambda e: e["month"] is not None and e["month"] <= "2023-12"),
    ("from=2023-12&to=2024-01", lambda e: e["month"] in ("2023-12", "2024-01")),
    ("from=2024-02&to=2024-02&service=health",
     lambda e: e["month"] == "2024-02" and e["service"] == "health"),
    ("district=&type=&from=&to=", lambda e: True),  # an empty choice is no filter
    ("district=khazar", lambda e: False),
]  # fmt: skip


@pytest.mark.parametrize(("query", "wanted"), FILTERS, ids=[q or "all" for q, _ in FILTERS])
def test_the_count_equals_the_rows_across_every_page_and_theopen_data(
    client: FlaskClient, query: str, wanted: Callable[[dict[str, Any]], bool]
) -> None:
    expected = {e["id"] for e in open_data(client) if wanted(e)}
    shown, ids, pages = _walk(client, f"/list/?{query}")
    assert shown == len(ids) == len(expected)
    assert len(set(ids)) == len(ids)  # every entry exactly once
    assert set(ids) == expected
    assert pages == max(1, -(-len(expected) // PAGE_SIZE))


def test_the_whole_list_is_in_a_stable_order_and_holds_every_entry(client: FlaskClient) -> None:
    entries = open_data(client)
    assert len(entries) == 27
    shown, ids, _ = _walk(client, "/list/")
    by_id = {e["id"]: e for e in entries}
    keys = [(by_id[i]["month"] or "", i) for i in ids]
    assert keys == sorted(keys, key=lambda k: (_desc(k[0]), k[1]))
    assert shown == 27 and set(ids) == set(by_id)
    assert _walk(client, "/list/") == (shown, ids, 7)  # the same again


def _desc(month: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in month) + (0,)


def test_a_page_cursor_survives_a_new_bundle_without_repeats(client: FlaskClient) -> None:
    first = _get(client, "/list/?type=verbal")
    found = re.search(r'rel="next" href="([^"]+)"', first)
    assert found
    first_ids = re.findall(r'href="/entry/([0-9a-f]{32})/"', first)
    rest = _walk(client, unescape(found.group(1)))[1]
    assert not set(first_ids) & set(rest)


def test_next_page_links_keep_the_filters(client: FlaskClient) -> None:
    page = _get(client, "/ru/list/?district=nasimi&from=2023-01")
    found = re.search(r'rel="next" href="([^"]+)"', page)
    assert found
    link = unescape(found.group(1))
    assert link.startswith("/ru/list/?") and "district=nasimi" in link and "from=2023-01" in link


@pytest.mark.parametrize(
    "query",
    [
        "type=bogus",
        "district=atlantis",
        "service=%3Cscript%3E",
        "perpetrator=police&perpetrator=nobody",
        "from=2024-13",
        "from=24-01",
        "to=2024-1",
        "from=2024-05&to=2024-01",
        "after=nonsense",
        "after=" + "f" * 100_000,
        "after=2024-01:" + "F" * 32,
        "type=verbal&" + "&".join(["type=touching"] * 30),
        # ASCII digits only, and nothing after (map.js refuses these too):
        "from=2024-04%0A",
        "to=2024-04%0A",
        "from=%D9%A2%D9%A0%D9%A2%D9%A4-04",  # Arabic-Indic digits
        "to=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%94-04",  # full-width digits
        "after=2024-01:" + "f" * 32 + "%0A",
        "after=%D9%A2%D9%A0%D9%A2%D9%A4-01:" + "f" * 32,
    ],
)
def test_bad_parameters_get_a_clear_translated_400(client: FlaskClient, query: str) -> None:
    page = _get(client, f"/list/?{query}", 400)
    assert "Bu filtr işləmir" in page
    assert "This filter cannot be used" in _get(client, f"/en/list/?{query}", 400)
    ru = _get(client, f"/ru/list/?{query}", 400)
    assert "Этот фильтр не подходит" in ru
    assert "Этот фильтр не подходит" in _get(client, f"/list/?lang=ru&{query}", 400)


def test_unknown_parameters_are_ignored_and_a_cursor_past_the_end_is_an_empty_page(
    client: FlaskClient,
) -> None:
    assert list_count(_get(client, "/list/?zoom=99&q=%3Cx%3E")) == 27
    page = _get(client, "/list/?after=:" + "f" * 32)  # no month sorts last; then the id
    assert 'rel="next"' not in page and "/entry/" not in page
    assert list_count(page) == 27


@pytest.mark.parametrize(
    "public_id",
    [UNKNOWN_ID, SABAIL_ID, STATION_ID, "zz", XSS_ID.upper(), XSS_ID + "0", "%3Cscript%3E",
     XSS_ID + "%0A"],  # fmt: skip
)
def test_unknown_or_retracted_entries_are_404(client: FlaskClient, public_id: str) -> None:
    assert "Belə səhifə yoxdur" in _get(client, f"/entry/{public_id}/", 404)
    assert "There is no such page" in _get(client, f"/en/entry/{public_id}/", 404)
    assert "Такой страницы нет" in _get(client, f"/ru/entry/{public_id}/", 404)


def test_retracted_entries_are_on_no_page(client: FlaskClient) -> None:
    ids = _walk(client, "/list/")[1]
    assert SABAIL_ID not in ids and STATION_ID not in ids


def test_texts_from_a_bundle_come_out_escaped(client: FlaskClient) -> None:
    entry = _get(client, f"/entry/{XSS_ID}/")
    listed = _get(client, "/list/?type=sextortion")
    for page in (entry, listed):
        assert XSS_SUMMARY not in page and "<img" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;/script&gt;" in page
    assert "<b>" not in entry and "&lt;b&gt;bold&lt;/b&gt;" in entry
    for line in XSS_STORY.split("\n"):  # every line of the story is there, escaped
        assert f"<p>{escape(line)}</p>" in entry


def test_an_entry_page_shows_its_fields_with_labels_in_the_language(client: FlaskClient) -> None:
    en = _get(client, f"/en/entry/{XSS_ID}/")
    assert "Sex demanded for a service" in en and "2024-04" in en
    ru = _get(client, f"/ru/entry/{XSS_ID}/")
    assert 'lang="ru"' in ru and "Сабаиль" in ru
    az = _get(client, f"/entry/{XSS_ID}/")
    assert '<html lang="az">' in az and "Səbail" in az


@pytest.mark.parametrize(
    ("url", "lang", "words"),
    [
        ("/", "az", "Qeydlərin siyahısına baxın"),
        ("/list/", "az", "Qeydlərin siyahısı"),
        ("/ru/", "ru", "Посмотреть список записей"),
        ("/ru/list/", "ru", "Список записей"),
        ("/en/list/", "en", "List of entries"),
        ("/az/list/", "az", "Qeydlərin siyahısı"),
        ("/list/?lang=ru", "ru", "Список записей"),
        ("/list/?lang=en", "en", "List of entries"),
        ("/list/?lang=fr", "az", "Qeydlərin siyahısı"),
    ],
)
def test_the_language_comes_from_the_url(
    client: FlaskClient, url: str, lang: str, words: str
) -> None:
    page = _get(client, url)
    assert f'<html lang="{lang}">' in page and words in page


def test_a_language_is_never_remembered(client: FlaskClient) -> None:
    _get(client, "/ru/list/")
    assert '<html lang="az">' in _get(client, "/list/")
    assert client.get_cookie("session") is None


def test_language_links_keep_the_page_and_its_filters(client: FlaskClient) -> None:
    page = _get(client, "/list/?district=nasimi&type=verbal")
    links = {unescape(u) for u in re.findall(r'href="([^"]+)" hreflang=', page)}
    assert links == {
        "/ru/list/?district=nasimi&type=verbal",
        "/en/list/?district=nasimi&type=verbal",
    }
    entry = _get(client, f"/en/entry/{XSS_ID}/")
    assert f'href="/entry/{XSS_ID}/" hreflang="az"' in entry


def test_every_page_has_a_quick_exit_and_its_own_style_sheet(client: FlaskClient) -> None:
    for url in ("/", "/list/", f"/entry/{XSS_ID}/", f"/entry/{UNKNOWN_ID}/"):
        page = client.get(url).get_data(as_text=True)
        assert re.search(r'<a class="exit" href="https://[^"]+" rel="noreferrer">', page)
        assert '<link rel="stylesheet" href="/static/map.css">' in page
    css = client.get("/static/map.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert "Set-Cookie" not in css.headers
    assert "@import" not in css.get_data(as_text=True)  # nothing from another origin


def test_a_failure_inside_a_page_is_a_translated_page_not_a_bare_500(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(listing, "page", broken)
    page = _get(client, "/ru/list/", 500)
    assert "У нас что-то пошло не так" in page and "disk gone" not in page


def test_the_form_shows_the_filters_of_the_shared_view(client: FlaskClient) -> None:
    page = _get(client, "/en/list/?type=stalking&district=online&from=2023-12&to=2024-02")
    assert '<input type="checkbox" name="type" value="stalking" checked>' in page
    assert '<input type="checkbox" name="district" value="online" checked>' in page
    assert 'name="from" type="text" inputmode="numeric" placeholder="2024-01" pattern' in page
    assert 'value="2023-12"' in page and 'value="2024-02"' in page
    assert '<input type="checkbox" name="type" value="verbal">' in page
    assert 'action="/en/list/"' in page
