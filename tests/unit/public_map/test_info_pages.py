"""The map's information pages (stories, open data, about, how to report, where to get
help), the settings they read from map.toml (each value checked when the map opens), the
quick exit, and the list's filter form with several values per filter. Real signed
bundles (the known-answer chain, the XSS bundle and 24 more entries from test_pages)."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from crypto import onion_address
from public_map import info_pages
from public_map.app import create_app
from public_map.instance import DEFAULT_QUICK_EXIT, MapError, init_map, load_settings
from securedrop_like import geo
from securedrop_like.bundles import bundle_sha256
from sesim.cli import main

from .chain import (
    ONE,
    SABAIL_ID,
    THREE,
    TWO,
    XSS_ID,
    XSS_STORY,
    XSS_SUMMARY,
    bundle,
    write_verify_file,
)
from .site import list_count, open_data
from .test_pages import FOUR, _get

PAGE_SIZE = 4
ONION = onion_address(bytes(range(32)))
EXIT = "https://example.org/weather?city=baku"
PAGES = ("/stories/", "/data/", "/about/", "/report/", "/help/")
HEADINGS = {
    "/stories/": ("Hekayələr", "Истории", "Stories"),
    "/data/": ("Açıq məlumatlar", "Открытые данные", "Open data"),
    "/about/": (
        "Bu xəritə və onun necə hazırlandığı haqqında",
        "Об этой карте и о том, как она создаётся",
        "About this map and how it is made",
    ),
    "/report/": (
        "Necə təhlükəsiz bildirmək olar",
        "Как безопасно сообщить",
        "How to report safely",
    ),
    "/help/": ("Haradan kömək almaq olar", "Где получить помощь", "Where to get help"),
}
FULL_CONFIG = f"""
[site]
onion = "http://{ONION.upper()}/"
sms = "+994 (50) 123-45-67"
email = "report@legal-centre.example.az"
quick_exit = "{EXIT}"

[[help]]
name = "Second <b>line</b>"
phone = "+994 12 555 00 00"

[[help]]
name = "First & only web"
url = "https://help.example.az/?a=1&b=2"

[[help]]
name = "Third"
phone = "116 111"
url = "https://third.example.az/"
"""


def _app(tmp_path: Path, config: str | None = None, bundles: tuple[bytes, ...] = ()) -> Flask:
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    if config is not None:
        (home / "map.toml").write_text(config, "utf-8")
    app = create_app(home)
    app.config["SESIM_MAP_PAGE_SIZE"] = PAGE_SIZE
    client = app.test_client()
    for data in bundles:
        assert client.post("/ingest", data=data, content_type="application/json").status_code == 200
    return app


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return _app(tmp_path, FULL_CONFIG, (ONE, TWO, THREE, FOUR)).test_client()


@pytest.fixture
def bare(tmp_path: Path) -> FlaskClient:
    """The default map.toml, nothing published."""
    return _app(tmp_path).test_client()


def _story_walk(client: FlaskClient, url: str) -> tuple[int, list[str], int]:
    """Follow "next page" from ``url``: the count shown, the story ids in order, pages."""
    ids: list[str] = []
    counts = set()
    pages = 0
    next_url: str | None = url
    while next_url:
        page = _get(client, next_url)
        pages += 1
        counts.add(list_count(page))
        rows = re.findall(
            r'<article class="story-entry" lang="\w\w" aria-labelledby="s-([0-9a-f]{32})"', page
        )
        assert len(rows) <= PAGE_SIZE
        ids += rows
        found = re.search(r'rel="next" href="([^"]+)"', page)
        next_url = unescape(found.group(1)) if found else None
        assert pages < 100
    assert len(counts) == 1
    return counts.pop(), ids, pages


# --- every page, every language ------------------------------------------------------


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_every_page_in_every_language(client: FlaskClient, path: str, lang: str) -> None:
    url = path if lang == "az" else f"/{lang}{path}"
    page = _get(client, url)
    assert f'<html lang="{lang}">' in page
    assert re.search(r'<a href="[^"]+" aria-current="page">', page)  # its own nav item
    assert page.count("<h1>") == 1
    assert f"<h1>{HEADINGS[path][('az', 'ru', 'en').index(lang)]}</h1>" in page
    assert f'<a class="exit" href="{unescape(EXIT)}"'.replace("&", "&amp;") in page
    for other in {"az", "ru", "en"} - {lang}:  # the switcher keeps the page
        prefix = "" if other == "az" else f"/{other}"
        assert f'href="{prefix}{path}" hreflang="{other}"' in page


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_open_data_labels_codes_in_the_page_language(client: FlaskClient, lang: str) -> None:
    page = _get(client, "/data/" if lang == "az" else f"/{lang}/data/")
    sabail = next(d for d in geo.load_districts() if d.code == "sabail")
    assert f"<code>sabail</code> {sabail.name(lang)}" in page
    others = {"az", "ru", "en"} - {lang}
    assert all(f"<code>sabail</code> {sabail.name(o)}<" not in page for o in others)


# --- stories ---------------------------------------------------------------------------


def test_stories_are_exactly_the_entries_with_a_story(client: FlaskClient) -> None:
    with_story = [e for e in open_data(client) if e["story"]]
    assert len(with_story) == 13  # 12 of the 24, and the XSS entry
    shown, ids, pages = _story_walk(client, "/stories/")
    assert shown == len(ids) == len(set(ids)) == len(with_story)
    assert set(ids) == {e["id"] for e in with_story}
    assert pages == -(-len(with_story) // PAGE_SIZE)
    by_id = {e["id"]: e for e in with_story}
    months = [by_id[i]["month"] or "" for i in ids]
    assert months == sorted(months, reverse=True)  # newest month first
    data = _get(client, "/en/data/")
    assert f'<dd id="with-story">{len(with_story)}</dd>' in data
    assert list_count(data) == len(open_data(client)) == 27


def test_a_story_page_shows_its_fields_a_link_and_the_entry_language(client: FlaskClient) -> None:
    page = _get(client, "/en/stories/?after=2024-05:" + "0" * 32)  # from April 2024 on
    at = page.index(f'aria-labelledby="s-{XSS_ID}"')
    article = page[page.rindex("<article", 0, at) : page.index("</article>", at)]
    assert article.startswith('<article class="story-entry" lang="az"')
    assert f'href="/en/entry/{XSS_ID}/"' in article
    assert "Sex demanded for a service" in article and "2024-04" in article
    assert '<div lang="en">' in article  # the labels are in the page's language


def test_a_retracted_story_is_gone(tmp_path: Path) -> None:
    app = _app(tmp_path, None, (ONE, TWO))
    client = app.test_client()
    assert SABAIL_ID in _story_walk(client, "/stories/")[1]
    sabail_story = next(e["story"] for e in open_data(client) if e["id"] == SABAIL_ID)
    assert sabail_story.split("\n")[0][:20] in unescape(_get(client, "/stories/"))
    client.post("/ingest", data=THREE, content_type="application/json")  # retracts it
    count, ids, _ = _story_walk(client, "/stories/")
    assert SABAIL_ID not in ids and ids == [XSS_ID] and count == 1
    assert sabail_story.split("\n")[0][:20] not in unescape(_get(client, "/stories/"))
    client.post("/ingest", data=FOUR, content_type="application/json")
    story_id = next(e["id"] for e in open_data(client) if e["story"] == "Story 0.")
    five = bundle(5, bundle_sha256(FOUR), (), (story_id,))
    assert client.post("/ingest", data=five, content_type="application/json").status_code == 200
    count, ids, _ = _story_walk(client, "/stories/")
    assert story_id not in ids and count == len(ids) == 12
    assert all("Story 0.</p>" not in _get(client, u) for u in ("/stories/", "/stories/?lang=en"))


def test_xss_in_summary_and_story_is_escaped_on_the_stories_page(client: FlaskClient) -> None:
    pages = [_get(client, f"/en/stories/{n}/") for n in (2, 3, 4)] + [_get(client, "/stories/")]
    page = "".join(pages)
    assert XSS_ID in page
    assert XSS_SUMMARY not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;/script&gt;" in page
    for line in XSS_STORY.split("\n"):
        assert f"<p>{_escaped(line)}</p>" in page


def _escaped(text: str) -> str:
    return str(escape(text))


def test_bad_story_cursors_are_a_400_and_page_numbers_past_the_end_a_404(
    client: FlaskClient,
) -> None:
    for query in ("after=x", "after=2024-13:" + "a" * 32, "after=" + "f" * 1000):
        page = _get(client, f"/en/stories/?{query}", 400)
        assert "This page address cannot be used" in page
    _get(client, "/stories/1/", 404)
    _get(client, "/stories/0/", 404)
    _get(client, "/stories/" + "9" * 30 + "/", 404)
    _get(client, "/stories/5/", 404)  # 13 stories, 4 a page
    _get(client, "/stories/4/")


def test_numbered_story_pages_in_the_static_site(tmp_path: Path) -> None:
    app = _app(tmp_path, None, (ONE, TWO, THREE, FOUR))
    app.config["SESIM_MAP_STATIC"] = True
    client = app.test_client()
    count, ids, pages = _story_walk(client, "/ru/stories/")
    assert count == 13 and len(set(ids)) == 13 and pages == 4
    first = _get(client, "/ru/stories/")
    assert 'rel="next" href="/ru/stories/2/"' in first and "?after=" not in first
    third = _get(client, "/ru/stories/3/")
    assert 'rel="prev" href="/ru/stories/2/"' in third and 'href="/ru/stories/4/"' in third
    assert 'rel="prev" href="/ru/stories/"' in _get(client, "/ru/stories/2/")
    for lang in ("az", "ru", "en"):  # the build's one-query renderer gives the same pages
        with app.app_context():
            built = list(info_pages.static_story_pages(lang))
        prefix = "" if lang == "az" else f"/{lang}"
        assert [path for path, _ in built] == [f"{prefix}/stories/"] + [
            f"{prefix}/stories/{n}/" for n in (2, 3, 4)
        ]
        for path, html in built:
            assert html == _get(client, path), path
    app.config["SESIM_MAP_STATIC"] = False
    dynamic = _story_walk(client, "/ru/stories/")[1]
    assert dynamic == ids  # the same stories in the same order either way


def test_no_stories_yet(bare: FlaskClient) -> None:
    page = _get(bare, "/en/stories/")
    assert list_count(page) == 0 and "No stories have been shared yet." in page
    assert 'rel="next"' not in page
    with bare.application.app_context():  # the static site: one page, empty
        assert [path for path, _ in info_pages.static_story_pages("en")] == ["/en/stories/"]


# --- open data -------------------------------------------------------------------------


def test_open_data_links_licences_counts_and_last_update(client: FlaskClient) -> None:
    page = _get(client, "/en/data/")
    for path in ("/data/entries.json", "/data/entries.csv", "/data/entries.geojson",
                 "/data/dictionary.json"):  # fmt: skip
        assert f'<a href="{path}">' in page
        assert client.get(path).status_code == 200
    assert 'href="https://creativecommons.org/licenses/by/4.0/"' in page and "CC BY 4.0" in page
    assert 'href="https://opendatacommons.org/licenses/odbl/"' in page
    assert geo.ATTRIBUTION in unescape(page) and "Metro © OpenStreetMap" in unescape(page)
    assert '<dd id="last-update">Update 4, on ' in page
    for column in json.loads(client.get("/data/dictionary.json").get_data())["columns"]:
        assert f'<th scope="row"><code>{column["name"]}</code></th>' in page
    assert "<code>online</code>" in page and "<code>sextortion</code>" in page


def test_open_data_before_anything_is_published(bare: FlaskClient) -> None:
    page = _get(bare, "/en/data/")
    assert list_count(page) == 0 and "Nothing has been published yet." in page


# --- about -----------------------------------------------------------------------------


def test_about_says_what_is_published_and_what_the_site_keeps(client: FlaskClient) -> None:
    page = unescape(_get(client, "/en/about/"))
    for words in ("never connected to the internet", "about 500 m", "never the day",
                  "not a survey", "no cookies", "no analytics", "withdraws her consent",
                  "nothing is loaded from other websites"):  # fmt: skip
        assert words in page, words


def test_about_names_the_tile_host_when_tiles_come_from_elsewhere(tmp_path: Path) -> None:
    config = '[site]\ntile_url = "https://tiles.example.net/{z}/{x}/{y}.png"\n'
    page = _get(_app(tmp_path, config).test_client(), "/en/about/")
    assert "tiles.example.net" in page and "nothing is loaded from other websites" not in page


# --- how to report ---------------------------------------------------------------------


def test_report_links_every_configured_channel_with_its_scheme(client: FlaskClient) -> None:
    page = _get(client, "/en/report/")
    assert f'href="http://{ONION}/"' in page  # lower case, as Tor Browser shows it
    assert 'href="sms:+994501234567"' in page and ">+994 (50) 123-45-67<" in page
    assert 'href="mailto:report@legal-centre.example.az"' in page
    assert (
        "opens only in Tor Browser" in page
        and 'href="https://www.torproject.org/download/"' in page
    )
    assert "Your phone company sees your number" in page
    assert "Your mailbox provider and ours see your address" in page
    assert 'id="no-channel"' not in page


@pytest.mark.parametrize(
    ("site", "present", "absent"),
    [
        ("", (), ("channel-onion", "channel-sms", "channel-email")),
        (f'onion = "{ONION}"', ("channel-onion",), ("channel-sms", "channel-email")),
        ('sms = "9111"', ("channel-sms",), ("channel-onion", "channel-email")),
        ('email = "a@b.az"', ("channel-email",), ("channel-onion", "channel-sms")),
    ],
)
def test_report_shows_only_the_configured_channels(
    tmp_path: Path, site: str, present: tuple[str, ...], absent: tuple[str, ...]
) -> None:
    client = _app(tmp_path, f"[site]\n{site}\n").test_client()
    for lang in ("", "/ru", "/en"):
        page = _get(client, f"{lang}/report/")
        assert all(f'id="{name}"' in page for name in present)
        assert all(f'id="{name}"' not in page for name in absent)
        assert ('id="no-channel"' in page) == (not present)
        assert 'href=""' not in page and 'href="sms:"' not in page and 'href="mailto:"' not in page
        assert ".onion" not in page or "channel-onion" in present
    if "channel-sms" in present:
        assert 'href="sms:9111"' in page


# --- where to get help -----------------------------------------------------------------


def test_help_lists_the_configured_lines_in_order_with_tel_links(client: FlaskClient) -> None:
    page = _get(client, "/en/help/")
    names = re.findall(r"<h2>([^<]*)</h2>", page)
    assert names == ["Second &lt;b&gt;line&lt;/b&gt;", "First &amp; only web", "Third"]
    assert 'href="tel:+994125550000"' in page and 'href="tel:116111"' in page
    assert page.count('href="tel:') == 2  # the web-only line has no phone link
    assert 'href="https://help.example.az/?a=1&amp;b=2"' in page
    assert 'id="no-help"' not in page


def test_help_without_a_list_says_so_and_invents_nothing(bare: FlaskClient) -> None:
    for lang in ("", "/ru", "/en"):
        page = _get(bare, f"{lang}/help/")
        assert 'id="no-help"' in page and "tel:" not in page
        assert not re.search(r"\d{3}[ -]?\d{2}[ -]?\d{2}", page)  # no phone number at all


# --- map.toml --------------------------------------------------------------------------


def test_the_default_settings_and_a_valid_full_file(tmp_path: Path) -> None:
    path = tmp_path / "map.toml"
    assert load_settings(path).quick_exit == DEFAULT_QUICK_EXIT == "https://www.google.az/"
    path.write_text(FULL_CONFIG, "utf-8")
    settings = load_settings(path)
    assert settings.onion == ONION and settings.onion_url == f"http://{ONION}/"
    assert settings.sms_url == "sms:+994501234567" and settings.quick_exit == EXIT
    assert [h.name for h in settings.help] == ["Second <b>line</b>", "First & only web", "Third"]


BAD_SETTINGS = [
    (
        '[site]\nquick_exit = "http://www.google.az/"',
        "site.quick_exit must be a URL starting https://",
    ),
    ('[site]\nquick_exit = ""', "site.quick_exit must be a URL starting https://"),
    ('[site]\nquick_exit = "javascript:alert(1)"', "site.quick_exit must be a URL"),
    ('[site]\nquick_exit = "https://"', "site.quick_exit must be a URL"),
    ('[site]\nquick_exit = "https://user:pw@example.org/"', "site.quick_exit must be a URL"),
    ('[site]\nonion = "example.onion"', "site.onion must be a v3 onion address"),
    ('[site]\nonion = "https://www.example.org/"', "site.onion must be a v3 onion address"),
    (f'[site]\nonion = "{ONION[:-7]}a.onion"', "with the right checksum"),  # a typo
    (f'[site]\nonion = "ftp://{ONION}"', "site.onion must be a v3 onion address"),
    ('[site]\nsms = "call me"', "site.sms must be a phone number"),
    ('[site]\nsms = "12"', "site.sms must be a phone number"),
    ('[site]\nsms = "+994 50 123 45 67 89 01 23"', "site.sms must be a phone number"),
    ('[site]\nemail = "nobody"', "site.email must be an e-mail address"),
    ('[site]\nemail = "a@b.az?subject=x"', "site.email must be an e-mail address"),
    ('[site]\nemail = "a b@c.az"', "site.email must be an e-mail address"),
    ('[site]\ntile_url = "https://t.example/{z}/{x}.png"', "must hold {z}, {x} and {y}"),
    ('[site]\ntile_url = "file:///tiles/{z}/{x}/{y}.png"', "site.tile_url must be a URL"),
    ('[site]\nqiuck_exit = "https://a.az/"', "[site] takes only"),
    ('[[help]]\nname = "A"\nphone = "not a number"', "help #1 phone must be a phone number"),
    ('[[help]]\nname = "A"\n[[help]]\nname = "B"\nurl = "www.b.az"', "help #2 url must be a URL"),
    ('[[help]]\nname = ""', "help #1 needs a name"),
    ('[[help]]\nphone = "112"', "help #1 takes name"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SETTINGS, ids=[m for _, m in BAD_SETTINGS])
def test_invalid_settings_are_refused_with_a_clear_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "map.toml"
    path.write_text(text + "\n", "utf-8")
    with pytest.raises(MapError) as raised:
        load_settings(path)
    assert message in str(raised.value) and str(raised.value).startswith("map.toml: ")


def test_the_commands_refuse_a_bad_map_toml_and_name_the_key(tmp_path: Path) -> None:
    runner = CliRunner()
    home = tmp_path / "map"
    key = write_verify_file(tmp_path / "publication.verify")
    made = runner.invoke(main, ["map", "init", "--home", str(home), "--verify-key", str(key)])
    assert made.exit_code == 0, made.output
    assert 'quick_exit = "https://www.google.az/"' in (home / "map.toml").read_text("utf-8")
    assert load_settings(home / "map.toml").quick_exit == DEFAULT_QUICK_EXIT  # the default parses
    (home / "map.toml").write_text('[site]\nquick_exit = "http://x.az/"\n', "utf-8")
    (tmp_path / "one.json").write_bytes(ONE)
    refused = runner.invoke(
        main, ["map", "ingest", "--home", str(home), str(tmp_path / "one.json")]
    )
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "Error: map.toml: site.quick_exit must be a URL starting https://" in refused.output
    served = runner.invoke(main, ["serve", "map", "--home", str(home)])
    assert served.exit_code == 1 and "site.quick_exit" in served.output


# --- quick exit ------------------------------------------------------------------------


def test_the_configured_quick_exit_is_on_every_page(client: FlaskClient) -> None:
    wanted = '<a class="exit" href="https://example.org/weather?city=baku" rel="noreferrer">'
    urls = ["/", "/list/", f"/entry/{XSS_ID}/", "/entry/" + "0" * 32 + "/", "/stats/",
            "/list/?type=bogus", *PAGES, *(f"/ru{p}" for p in PAGES)]  # fmt: skip
    for url in urls:
        page = client.get(url).get_data(as_text=True)
        assert wanted in page, url
        assert "google" not in page, url


def test_the_default_quick_exit(bare: FlaskClient) -> None:
    page = _get(bare, "/en/help/")
    assert '<a class="exit" href="https://www.google.az/" rel="noreferrer">' in page


# --- the list's filter form ------------------------------------------------------------


def _checkboxes(page: str) -> list[tuple[str, str, bool]]:
    return [
        (name, value, bool(checked))
        for name, value, checked in re.findall(
            r'<input type="checkbox" name="(\w+)" value="([\w-]+)"( checked)?>', page
        )
    ]


def test_the_form_offers_every_code_as_a_checkbox_in_a_labelled_group(client: FlaskClient) -> None:
    page = _get(client, "/en/list/")
    boxes = _checkboxes(page)
    assert {n for n, _, _ in boxes} == {"type", "district", "service", "perpetrator"}
    assert ("district", "online", False) in boxes and ("type", "sextortion", False) in boxes
    assert len(boxes) == len(set(boxes)) and not any(c for _, _, c in boxes)
    assert "<select" not in page
    assert len(re.findall(r'<details class="filter-group"( open)?>', page)) == 4
    assert page.count("<legend") == 5  # four groups and the period
    for name in ("from", "to"):
        assert f'name="{name}" type="text" inputmode="numeric"' in page
    assert 'class="active-filters"' not in page


SEVERAL = [
    ("type=verbal&type=stalking&type=online",
     lambda e: bool({"verbal", "stalking", "online"} & set(e["types"]))),
    ("district=nasimi&district=online&service=police&service=health",
     lambda e: e["district"] in ("nasimi", "online") and e["service"] in ("police", "health")),
    ("perpetrator=police&perpetrator=stranger&type=touching&type=verbal&from=2024-01",
     lambda e: e["perpetrator"] in ("police", "stranger")
     and bool({"touching", "verbal"} & set(e["types"]))
     and e["month"] is not None and e["month"] >= "2024-01"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "wanted"), SEVERAL, ids=[q for q, _ in SEVERAL])
def test_several_values_per_filter_count_as_theopen_data(
    client: FlaskClient, query: str, wanted: Any
) -> None:
    expected = [e for e in open_data(client) if wanted(e)]
    assert 0 < len(expected) < 27
    page = _get(client, f"/en/list/?{query}")
    assert list_count(page) == len(expected)
    pairs = [tuple(p.split("=")) for p in query.split("&")]
    checked = {(n, v) for n, v, c in _checkboxes(page) if c}
    assert checked == {p for p in pairs if p[0] not in ("from", "to")}
    # Submitting the form as it stands (every checked box, the months) gives the same view.
    resubmit = [f"{n}={v}" for n, v in sorted(checked)]
    for name in ("from", "to"):
        found = re.search(rf'name="{name}" type="text"[^>]*value="([^"]*)"', page)
        assert found
        resubmit.append(f"{name}={found.group(1)}")
    assert list_count(_get(client, "/en/list/?" + "&".join(resubmit))) == len(expected)


def test_each_active_filter_has_a_remove_link(client: FlaskClient) -> None:
    page = _get(client, "/en/list/?type=verbal&type=stalking&district=online&from=2024-01")
    assert 'class="active-filters"' in page
    removes = [unescape(u) for u in re.findall(r'<a class="remove" href="([^"]+)">', page)]
    assert removes == [
        "/en/list/?type=verbal&district=online&from=2024-01",  # without stalking
        "/en/list/?type=stalking&district=online&from=2024-01",
        "/en/list/?type=stalking&type=verbal&from=2024-01",
        "/en/list/?type=stalking&type=verbal&district=online",
    ]
    assert "Type: Following or stalking" in page and "District: Online or by phone" in page
    entries = open_data(client)
    after = _get(client, removes[3])
    assert list_count(after) == sum(
        1 for e in entries if {"verbal", "stalking"} & set(e["types"]) and e["district"] == "online"
    )
    single = _get(client, "/en/list/?service=police")
    assert re.findall(r'<a class="remove" href="([^"]+)">', single) == ["/en/list/"]


def test_the_static_site_shows_no_form(tmp_path: Path) -> None:
    app = _app(tmp_path, None, (ONE, TWO, THREE))
    app.config["SESIM_MAP_STATIC"] = True
    page = _get(app.test_client(), "/en/list/")
    assert "<form" not in page and "<input" not in page and list_count(page) == 3
