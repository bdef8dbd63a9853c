"""Every page of the public map is valid HTML (the W3C Nu Html Checker, vnu.jar, errors
only): every page in az, ru and en, the list with filters and on its later pages, the
entry pages of entries whose texts are hostile markup, and the 400 and 404 pages. All
files are checked in ONE Java run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .chain import ONE, PAYLOAD_BUNDLE, THREE, TWO, UNKNOWN_ID, payload_entries
from .site import PAGES, in_every_language, map_client
from .vnu import validate

pytestmark = pytest.mark.timeout(600)

EXTRA = [
    "/list/?type=verbal&district=nasimi&from=2023-01&to=2024-12",
    "/list/?district=khazar",  # nothing matches
    "/list/?after=:" + "f" * 32,  # a cursor past the end
    "/stats/?type=verbal",
    "/stats/?district=online",
]
ERRORS = [
    ("/list/?type=bogus", 400),
    ("/list/?from=2024-05&to=2024-01", 400),
    (f"/entry/{UNKNOWN_ID}/", 404),
    ("/entry/%3Cscript%3E/", 404),
]


def _name(url: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in url)[:150] + ".html"


def test_every_page_is_valid_html(tmp_path: Path) -> None:
    client = map_client(tmp_path, (ONE, TWO, THREE, PAYLOAD_BUNDLE), page_size=5)
    urls: list[tuple[str, int]] = []
    for path in [*PAGES, *EXTRA]:
        urls += [(u, 200) for u in in_every_language(path)]
    for entry in payload_entries():
        urls += [(u, 200) for u in in_every_language(f"/entry/{entry.id}/")]
    for path, status in ERRORS:
        urls += [(u, status) for u in in_every_language(path)]
    out = tmp_path / "pages"
    out.mkdir()
    files = []
    for url, status in urls:
        response = client.get(url)
        if response.status_code == 404 and status == 200 and "/stats/?" in url:
            continue  # the statistics page is not there yet (STATS)
        assert response.status_code == status, url
        assert response.mimetype == "text/html", url
        files.append(out / _name(url))
        files[-1].write_bytes(response.get_data())
    # The list's later pages (the cursor links) too.
    page = client.get("/en/list/").get_data(as_text=True)
    assert 'rel="next"' in page
    next_url = page.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    files.append(out / "en_list_page2.html")
    files[-1].write_bytes(client.get(next_url).get_data())
    # The static build's pages (sesim map build): every file, in the same run.
    from public_map.build import build_site

    site = tmp_path / "site"
    build_site(client.application.extensions["sesim_map"], site, {"SESIM_MAP_PAGE_SIZE": 5})
    static_pages = sorted(site.rglob("*.html"))
    assert len(static_pages) > 50
    errors = validate(files + static_pages)
    assert errors == [], "\n".join(errors)


def test_the_style_sheet_is_balanced(tmp_path: Path) -> None:
    """Every rule of map.css closes, and each work package's section starts at the top
    level (a lost ``}`` in a merge would put the next section inside a media query)."""
    css = (Path(__file__).parents[3] / "public_map" / "static" / "map.css").read_text("utf-8")
    depth = 0
    for n, line in enumerate(re.sub(r"/\*(?!\s*===).*?\*/", "", css, flags=re.S).split("\n")):
        if "/* ===" in line:
            assert depth == 0, f"line {n + 1}: section {line.strip()} starts inside a block"
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"line {n + 1}: a '}}' closes nothing"
    assert depth == 0, "a block is never closed"


def test_the_checker_can_fail(tmp_path: Path) -> None:
    """The same run on a page with a known error finds it (the test above can fail)."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><html lang="en"><title>x</title><p><div></p>', "utf-8")
    good = tmp_path / "good.html"
    good.write_text('<!doctype html><html lang="en"><title>x</title><p>ok</p>', "utf-8")
    errors = validate([bad, good])
    assert errors and all(e.startswith("bad.html") for e in errors)


@pytest.mark.parametrize(
    ("url", "lang", "words"),
    [("/nope/", "az", "Belə səhifə yoxdur"), ("/ru/nope/", "ru", "Такой страницы нет"),
     ("/en/lsit/", "en", "There is no such page")],
)  # fmt: skip
def test_a_mistyped_page_address_gets_the_translated_404_page(
    tmp_path: Path, url: str, lang: str, words: str
) -> None:
    """A reader who mistypes an address (or follows an old link) gets the site's own page
    in her language, not a JSON error in English (the data files keep their JSON errors)."""
    client = map_client(tmp_path, (ONE,))
    response = client.get(url)
    assert response.status_code == 404
    assert response.mimetype == "text/html", response.get_data(as_text=True)[:100]
    page = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page and words in page
    assert client.get("/data/nope.json").mimetype == "application/json"
