"""``sesim map build``: the static site holds the dynamic site's content (every page in
every language, the lists per type and per district, the data files byte for byte),
every link in it resolves to a file in it, a retracted entry is in no file, the output
is deterministic and public (0644/0755), and a folder that is not an earlier build is
refused. Real signed bundles (the known-answer chain, XSS attempts, 24 more entries)."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from public_map import build
from public_map.app import create_app
from public_map.build import MARKER, BuildError, build_site
from public_map.ingest import ingest
from public_map.instance import init_map, open_map
from securedrop_like import geo, taxonomy
from securedrop_like.bundles import bundle_sha256
from sesim.cli import main

from .chain import ONE, SABAIL_ID, STATION_ID, THREE, TWO, XSS_ID, bundle, write_verify_file
from .test_pages import FOUR

PAGE_SIZE = 4
LANG_PREFIXES = ("/", "/ru/", "/en/")
FIXED = ("", "stats/", "data/", "about/", "report/", "help/")
DATA = ("entries.json", "entries.csv", "entries.geojson", "dictionary.json", "map.json")
CONFIG = {"SESIM_MAP_PAGE_SIZE": PAGE_SIZE}
ENTRY_LINK = re.compile(r'href="/(?:\w\w/)?entry/([0-9a-f]{32})/"')


def _make_map(root: Path) -> Path:
    home = root / "map"
    init_map(home, write_verify_file(root / "publication.verify"))
    instance = open_map(home)
    for data in (ONE, TWO, THREE, FOUR):
        ingest(instance, data)
    return home


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, FlaskClient]]:
    """One map, built once (the build is the slow part), and the dynamic app beside it."""
    root = tmp_path_factory.mktemp("site")
    home = _make_map(root)
    build_site(home, root / "out", CONFIG)
    app = create_app(home)
    app.config.update(CONFIG)
    yield root / "out", app.test_client()


def _file(out: Path, url: str) -> Path:
    """The file that serves ``url`` (as nginx with ``try_files $uri $uri/`` would)."""
    path = out / url.lstrip("/")
    return path / "index.html" if url.endswith("/") else path


def _static(out: Path, url: str) -> str:
    return _file(out, url).read_text("utf-8")


def _dynamic(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def _main(html: str) -> str:
    """A page's main content without the parts that differ on purpose in the static site
    (the filter form and the filters in use, or the links to the lists that replace
    them; the page links)."""
    found = re.search(r"<main>(.*)</main>", html, re.S)
    assert found
    text = re.sub(r"<form\b.*?</form>", "", found.group(1), flags=re.S)
    text = re.sub(r'<section class="active-filters".*?</section>', "", text, flags=re.S)
    text = re.sub(  # the map page's controls for map.js, the form's twin without a server
        r'<div class="filter-form" id="map-controls">.*?id="map-show">.*?</button>\s*</div>',
        "",
        text,
        flags=re.S,
    )
    text = re.sub(r'<nav class="(?:static-filters|pages)[^"]*".*?</nav>', "", text, flags=re.S)
    text = re.sub(r'<p class="static-filter">.*?</p>', "", text, flags=re.S)
    return " ".join(text.split())


def _count(html: str) -> int:
    found = re.search(r'id="count" role="status">(\d+) ', html)
    assert found
    return int(found.group(1))


def _entry_ids(client: FlaskClient) -> list[str]:
    return [e["id"] for e in json.loads(client.get("/data/entries.json").get_data())["entries"]]


def _walk_dynamic(client: FlaskClient, url: str) -> list[str]:
    """Every page of the dynamic list from ``url``, following "next page"."""
    out: list[str] = []
    next_url: str | None = url
    while next_url:
        out.append(_dynamic(client, next_url))
        found = re.search(r'rel="next" href="([^"]+)"', out[-1])
        next_url = unescape(found.group(1)) if found else None
        assert len(out) < 100
    return out


def _walk_static(out: Path, url: str) -> list[str]:
    """Every numbered page of a static list: ``url``, ``url`` + ``2/``, … (and no more)."""
    found = [_static(out, url)]
    while _file(out, f"{url}{len(found) + 1}/").exists():
        found.append(_static(out, f"{url}{len(found) + 1}/"))
    return found


def test_every_entry_page_is_byte_for_byte_the_dynamic_page(
    site: tuple[Path, FlaskClient],
) -> None:
    out, client = site
    ids = _entry_ids(client)
    assert len(ids) == 27 and XSS_ID in ids
    for prefix in LANG_PREFIXES:
        for public_id in ids:
            url = f"{prefix}entry/{public_id}/"
            assert _file(out, url).read_bytes() == client.get(url).get_data(), url
    assert len(list((out / "entry").iterdir())) == len(ids)


def _content(html: str) -> dict[str, Any]:
    """What a reader gets from a page, whatever the static site changes on purpose (the
    filter forms, the page links): its title, headings, counts, entries, tables,
    charts and scripts."""
    main = _main(html)
    return {
        "title": re.findall(r"<title>(.*?)</title>", html),
        "headings": re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", main),
        "count": re.findall(r'id="(?:count|map-count)"[^>]*>(.*?)</p>', main),
        "entries": ENTRY_LINK.findall(main),
        "tables": re.findall(r"<table.*?</table>", main, re.S),
        "svg": re.findall(r"<svg.*?</svg>", main, re.S),
        "scripts": re.findall(r'<script src="([^"]+)"', html),
        "map_status": re.findall(r'<output id="map-status"[^>]*>', html),
    }


@pytest.mark.parametrize("prefix", LANG_PREFIXES)
def test_every_other_page_has_the_dynamic_pages_content(
    site: tuple[Path, FlaskClient], prefix: str
) -> None:
    out, client = site
    for path in FIXED:
        static, dynamic = _static(out, prefix + path), _dynamic(client, prefix + path)
        assert 'method="get"' not in static and "action=" not in static, path  # no server
        assert _content(static) == _content(dynamic), path
        assert len(_content(static)["headings"]) > 0
    not_found = client.get(f"{prefix}entry/{'0' * 32}/")
    assert not_found.status_code == 404
    page = _static(out, f"{prefix}404.html")
    assert _main(page) == _main(not_found.get_data(as_text=True))
    assert page.startswith(f'<!doctype html>\n<html lang="{prefix.strip("/") or "az"}">')


@pytest.mark.parametrize("prefix", LANG_PREFIXES)
def test_the_stories_pages_hold_the_same_stories(
    site: tuple[Path, FlaskClient], prefix: str
) -> None:
    out, client = site
    static = _walk_static(out, f"{prefix}stories/")
    dynamic = _walk_dynamic(client, f"{prefix}stories/")
    assert len(static) == len(dynamic) > 1
    for mine, theirs in zip(static, dynamic, strict=True):
        assert ENTRY_LINK.findall(mine) == ENTRY_LINK.findall(theirs)
        assert re.findall(r'<div class="story">.*?</div>', mine, re.S) == re.findall(
            r'<div class="story">.*?</div>', theirs, re.S
        )
        assert "after=" not in mine


@pytest.mark.parametrize("prefix", LANG_PREFIXES)
def test_the_list_pages_hold_the_same_entries_page_by_page(
    site: tuple[Path, FlaskClient], prefix: str
) -> None:
    out, client = site
    static = _walk_static(out, f"{prefix}list/")
    dynamic = _walk_dynamic(client, f"{prefix}list/")
    assert len(static) == len(dynamic) == 7  # 27 entries, 4 a page
    for number, (mine, theirs) in enumerate(zip(static, dynamic, strict=True), 1):
        assert ENTRY_LINK.findall(mine) == ENTRY_LINK.findall(theirs), number
        assert _count(mine) == _count(theirs) == 27
        assert _main(mine) == _main(theirs), number
        assert "<form" not in mine and "after=" not in mine and "?" not in _main(mine)
    # numbered pages, the current one marked; no page beyond the last
    assert 'aria-current="page">3</a>' in static[2]
    assert not _file(out, f"{prefix}list/8/").exists()
    assert not _file(out, f"{prefix}list/1/").exists()  # page 1 is the list itself


def _lists() -> list[tuple[str, str]]:
    kinds = [("type", c) for c in sorted(taxonomy.codes(taxonomy.HARASSMENT_TYPES))]
    return kinds + [("district", c) for c in sorted(geo.location_codes())]


@pytest.mark.parametrize(("kind", "code"), _lists())
def test_each_list_per_type_and_district_holds_exactly_the_dynamic_filtered_list(
    site: tuple[Path, FlaskClient], kind: str, code: str
) -> None:
    out, client = site
    for prefix in LANG_PREFIXES:
        static = _walk_static(out, f"{prefix}list/{kind}/{code}/")
        dynamic = _walk_dynamic(client, f"{prefix}list/?{kind}={code}")
        assert [ENTRY_LINK.findall(p) for p in static] == [ENTRY_LINK.findall(p) for p in dynamic]
        assert {_count(p) for p in static} == {_count(p) for p in dynamic}
        assert [_main(p) for p in static] == [_main(p) for p in dynamic]
    # and it is linked from the unfiltered list, marked as the current one on its own page
    assert f'href="/list/{kind}/{code}/"' in _static(out, "/list/")
    assert f'href="/list/{kind}/{code}/" aria-current="page"' in _static(
        out, f"/list/{kind}/{code}/"
    )


def test_the_lists_together_hold_every_entry(site: tuple[Path, FlaskClient]) -> None:
    """The filters' lists split the entries as the data does: every entry with a type is in
    that type's list, every entry with a district in that district's list."""
    out, client = site
    entries = json.loads(client.get("/data/entries.json").get_data())["entries"]
    for kind, code in _lists():
        pages = _walk_static(out, f"/en/list/{kind}/{code}/")
        ids = [i for page in pages for i in ENTRY_LINK.findall(page)]
        if kind == "type":
            wanted = {e["id"] for e in entries if code in e["types"]}
        else:
            wanted = {e["id"] for e in entries if e["district"] == code}
        assert sorted(ids) == sorted(wanted), (kind, code)


def _html_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.html"))


def test_every_internal_link_resolves_to_a_file_in_the_site(
    site: tuple[Path, FlaskClient],
) -> None:
    out, _client = site
    checked = set()
    files = _html_files(out)
    assert len(files) > 27 * 3
    for page in files:
        html = page.read_text("utf-8")
        for url in re.findall(r'(?:href|src)="([^"]*)"', html):
            url = unescape(url)
            if re.match(r"^[a-z][a-z0-9+.-]*:", url):  # another site (the quick exit)
                assert url.startswith("https://"), (page, url)
                continue
            assert url.startswith("/"), (page, url)  # every link is from the site's root
            assert "?" not in url and "#" not in url, (page, url)  # no server to read a query
            if url not in checked:
                assert _file(out, url).is_file(), (page.relative_to(out), url)
                checked.add(url)
    assert "/static/map.css" in checked and "/list/type/verbal/" in checked
    assert "/ru/list/district/online/" in checked and "/en/list/2/" in checked


def test_the_data_files_are_the_dynamic_bytes_with_gzip_siblings(
    site: tuple[Path, FlaskClient],
) -> None:
    out, client = site
    for name in DATA:
        body = client.get(f"/data/{name}").get_data()
        assert (out / "data" / name).read_bytes() == body, name
        assert gzip.decompress((out / "data" / f"{name}.gz").read_bytes()) == body, name
    for name in ("map.css", "basemap/districts.geojson", "vendor/MANIFEST.txt"):
        static = client.get(f"/static/{name}")
        assert (out / "static" / name).read_bytes() == static.get_data(), name
        static.close()
    assert (
        gzip.decompress((out / "static/map.css.gz").read_bytes())
        == (out / "static/map.css").read_bytes()
    )


def _all_bytes(out: Path) -> Iterator[tuple[Path, bytes]]:
    for path in sorted(out.rglob("*")):
        if path.is_file():
            body = path.read_bytes()
            yield path, gzip.decompress(body) if path.suffix == ".gz" else body


def test_a_retracted_entry_is_in_no_file_of_the_site(tmp_path: Path) -> None:
    home = _make_map(tmp_path)
    out = tmp_path / "out"
    build_site(home, out, CONFIG)
    gone = FOUR_IDS[5]
    assert gone.encode() in (out / "data/entries.csv").read_bytes()
    assert _file(out, f"/en/entry/{gone}/").is_file()
    five = bundle(5, bundle_sha256(FOUR), (), (gone,))
    ingest(open_map(home), five)
    build_site(home, out, CONFIG)  # over the earlier build
    for retracted in (gone, SABAIL_ID, STATION_ID):
        for path, body in _all_bytes(out):
            assert retracted.encode() not in body, (retracted, path)
    assert not (out / "entry" / gone).exists()


FOUR_IDS = [f"{n:02x}" + "a" * 30 for n in range(24)]


def _tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_the_build_is_deterministic_public_and_replaces_only_an_earlier_build(
    tmp_path: Path,
) -> None:
    home = _make_map(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    second.mkdir()  # an empty folder is fine
    old_umask = os.umask(0o077)  # a strict umask must not make the site unreadable
    try:
        build_site(home, first, CONFIG, jobs=1)
    finally:
        os.umask(old_umask)
    build_site(home, second, CONFIG, jobs=3)  # worker processes write the same bytes
    assert _tree(first) == _tree(second)
    assert (first / MARKER).is_file()
    for path in [first, *first.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o755 if path.is_dir() else 0o644), path
    (second / "stale.html").write_text("left from before")
    build_site(home, second, CONFIG)  # an earlier build: replaced whole
    assert _tree(second) == _tree(first)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "first", "map", "publication.verify", "second"
    ]  # no temporary folder left beside  # fmt: skip


def test_a_folder_that_is_not_an_earlier_build_is_refused_and_left_alone(
    tmp_path: Path,
) -> None:
    home = _make_map(tmp_path)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "important.txt").write_text("keep me")
    with pytest.raises(BuildError, match="not empty and not an earlier"):
        build_site(home, foreign)
    assert [p.name for p in foreign.iterdir()] == ["important.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(BuildError, match="is a file"):
        build_site(home, a_file)
    with pytest.raises(BuildError, match="does not exist"):
        build_site(home, tmp_path / "no" / "out")
    with pytest.raises(BuildError, match="inside the map's folder"):
        build_site(home, home / "site")
    with pytest.raises(BuildError, match="inside public_map/static"):
        build_site(home, build.STATIC_DIR / "site")
    assert not (build.STATIC_DIR / "site").exists()
    with pytest.raises(BuildError, match="the map's folder is inside"):
        build_site(home, tmp_path)  # an earlier build there would be replaced, map and all
    (tmp_path / "link").symlink_to(foreign)
    with pytest.raises(BuildError, match="symbolic link"):
        build_site(home, tmp_path / "link")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "file", "foreign", "link", "map", "publication.verify"
    ]  # fmt: skip


def test_the_command_builds_and_says_what_is_wrong_clearly(tmp_path: Path) -> None:
    home = _make_map(tmp_path)
    runner = CliRunner()
    done = runner.invoke(main, ["map", "build", "--home", str(home), "--out", str(tmp_path / "o")])
    assert done.exit_code == 0, done.output
    assert "Entries: 27 (bundle sequence 4)" in done.output
    assert (tmp_path / "o" / "index.html").is_file()
    cases: list[tuple[list[str], str]] = [
        (["--home", str(tmp_path / "none"), "--out", str(tmp_path / "x")], "not a map folder"),
        (["--home", str(home), "--out", str(home)], "inside the map's folder"),
        (["--home", str(home), "--out", str(tmp_path)], "the map's folder is inside"),
        (["--home", str(home), "--out", str(tmp_path / "a" / "b")], "does not exist"),
    ]
    for args, message in cases:
        refused = runner.invoke(main, ["map", "build", *args])
        assert refused.exit_code == 1, args
        assert refused.output.startswith("Error: ") and message in refused.output, refused.output
        assert "Traceback" not in refused.output
    assert not (tmp_path / "x").exists()


def test_list_path_and_pager() -> None:
    assert build.list_path() == "list/"
    assert build.list_path(number=3) == "list/3/"
    assert build.list_path("district", "online", 2) == "list/district/online/2/"
    pager: dict[str, Any] = build._pager("type", "verbal", 1, 1, "/ru/")
    assert pager["window"] == [] and pager["next"] is None and pager["first"] is None
    pager = build._pager(None, None, 5, 20, "/")
    assert pager["previous"] == "/list/4/" and pager["next"] == "/list/6/"
    assert [n for n, _ in pager["window"]] == [2, 3, 4, 5, 6, 7, 8]
    assert pager["first"] == "/list/" and pager["last"] == "/list/20/"


def test_readme_shows_the_nginx_block_the_code_describes() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text("utf-8")
    section = readme.split("#### Static site", 1)[1]
    found = re.search(r"```nginx\n(.*?)```", section, re.S)
    assert found
    assert found.group(1) == build.nginx_example()
    for path in ("/", "/ru/", "/en/index.html"):
        assert "script-src 'self'" in build.csp_for(path)
    for path in ("/list/", "/ru/entry/" + "a" * 32 + "/", "/404.html", "/stats/"):
        assert "script-src" not in build.csp_for(path) and "style-src 'self'" in build.csp_for(path)
    for path in ("/data/map.json", "/static/map.js", "/static/map.css"):
        assert build.csp_for(path) == "default-src 'none'; frame-ancestors 'none'"


def test_csp_for_gives_what_the_app_sends(site: tuple[Path, FlaskClient]) -> None:
    """The policy nginx is told to send for each file is the one the app sends for it."""
    _out, client = site
    urls = [p + f for p in LANG_PREFIXES for f in FIXED] + [
        "/list/",
        "/en/list/",
        f"/ru/entry/{XSS_ID}/",
        "/stories/",
        "/static/map.css",
        "/static/map.js",
        "/static/basemap/districts.geojson",
        *[f"/data/{name}" for name in DATA],
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Content-Security-Policy"] == build.csp_for(url), url
        response.close()


def test_an_empty_map_builds_a_whole_site_whose_links_resolve(tmp_path: Path) -> None:
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    out = tmp_path / "out"
    result = build_site(home, out, CONFIG, jobs=1)
    assert result.entries == 0 and result.sequence == 0
    assert _count(_static(out, "/en/list/")) == 0
    assert _count(_static(out, "/en/list/type/verbal/")) == 0
    assert json.loads((out / "data/entries.json").read_bytes())["count"] == 0
    for page in _html_files(out):
        for url in re.findall(r'(?:href|src)="(/[^"]*)"', page.read_text("utf-8")):
            assert _file(out, unescape(url)).is_file(), (page, url)


NGINX = Path("/usr/sbin/nginx")


@pytest.mark.skipif(not NGINX.exists(), reason="nginx is not installed (apt install nginx-light)")
def test_nginx_with_the_readme_block_serves_the_site_with_the_apps_headers(
    site: tuple[Path, FlaskClient], tmp_path: Path
) -> None:
    """The README's server block, as written, in a real nginx on 127.0.0.1."""
    out, client = site
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    block = build.nginx_example(root=str(out)).replace(
        "listen 443 ssl;", f"listen 127.0.0.1:{port};"
    )
    temp = "\n".join(f"    {k}_temp_path {tmp_path / k};" for k in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    conf = tmp_path / "nginx.conf"
    # As root, nginx's workers would run as "nobody", who cannot enter pytest's 0700 folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {tmp_path / 'nginx.pid'};\n"
        f"error_log {tmp_path / 'error.log'};\nevents {{ worker_connections 64; }}\n"
        f"http {{\n{temp}\n{block}}}\n"
    )
    server = subprocess.Popen([str(NGINX), "-c", str(conf)], stderr=subprocess.PIPE)  # noqa: S603
    try:
        for _ in range(100):  # up to 10 s for it to listen
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.1)

        def get(path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            finally:
                conn.close()

        paths = ("/", "/ru/", "/en/list/", "/list/type/verbal/", f"/en/entry/{XSS_ID}/",
                 "/stats/", "/data/map.json", "/data/entries.csv", "/static/map.js",
                 "/static/favicon.svg")  # fmt: skip
        for path in paths:
            status, headers, body = get(path)
            assert status == 200, path
            assert headers["Content-Security-Policy"] == build.csp_for(path), path
            assert headers["Referrer-Policy"] == "no-referrer", path
            assert "Set-Cookie" not in headers
            assert body == _file(out, path).read_bytes(), path
            dynamic = client.get(path.replace("/list/type/verbal/", "/list/?type=verbal"))
            assert dynamic.status_code == 200, path
            assert headers["Content-Type"] == dynamic.headers["Content-Type"], path
            dynamic.close()
        status, headers, body = get("/data/map.json", **{"Accept-Encoding": "gzip"})
        assert headers["Content-Encoding"] == "gzip"
        assert body == (out / "data/map.json.gz").read_bytes()
        assert "attachment" in get("/data/entries.csv")[1]["Content-Disposition"]
        for prefix, language in (("/", "az"), ("/ru/", "ru"), ("/en/", "en")):
            status, headers, body = get(f"{prefix}no/such/page/")
            assert status == 404 and f'<html lang="{language}">'.encode() in body
        assert get("/.sesim-map-build")[0] == 404
        status, headers, _body = get("/list")
        assert status == 301 and headers["Location"] == "/list/"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_without_an_atomic_exchange_the_site_is_replaced_by_two_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _make_map(tmp_path)
    out = tmp_path / "out"
    build_site(home, out, CONFIG, jobs=1)
    first = _tree(out)
    (out / "stale.html").write_text("left from before")
    monkeypatch.setattr(build, "_exchange", lambda a, b: False)
    result = build_site(home, out, CONFIG, jobs=1)
    assert _tree(out) == first and result.cleanup_seconds > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map", "out", "publication.verify"]
