"""The statistics page and odd months: a month the reader refuses never makes the page
fail or grow (one month 0000-01 once made /stats/ a permanent 500, and 0001-01 with
9999-12 a 27 MB page), a period over ten years is charted by year, and the rendered
page is cached per chain sequence and URL, within a bound."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from public_map import stats_page, store
from public_map.build import build_site
from public_map.instance import open_map
from securedrop_like.bundles import bundle_sha256

from .chain import ONE, THREE, TWO, _template, bundle, raw_manifest, signed_raw
from .test_stats_page import _client, _section, _svg, _table, _total

FOUR_FIRST = 0x4000


def _entries(months: list[str | None]) -> tuple[Any, ...]:
    return tuple(
        dataclasses.replace(_template(), id=f"{FOUR_FIRST + n:032x}", month=m)
        for n, m in enumerate(months)
    )


def _month_chart(client: FlaskClient, url: str = "/stats/") -> tuple[str, dict[str, int]]:
    response = client.get(url)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    section = _section(page, "chart-month")
    table = _table(section)
    columns = {e.attrib["data-key"]: int(e.attrib["data-count"])
               for e in _svg(section).iter() if "data-key" in e.attrib}  # fmt: skip
    assert columns == {k: v for k, v in table.items() if k != ""}  # drawn as the table says
    assert sum(table.values()) == _total(page)  # with "month not known", the total
    return page, table


def test_odd_months_in_the_database_count_as_not_known_never_a_500(tmp_path: Path) -> None:
    client = _client(tmp_path, (ONE, TWO, THREE, bundle(4, bundle_sha256(THREE),
                                                         _entries(["2024-01"] * 5))))  # fmt: skip
    conn = store.connect(open_map(tmp_path / "map").db_path)
    with conn:  # what a bug in some reader could have let in
        for n, month in enumerate(["0000-01", "0001-01", "9999-12", "1999-12", "2024-1x"]):
            conn.execute("UPDATE entries SET month = ? WHERE id = ?",
                         (month, f"{FOUR_FIRST + n:032x}"))  # fmt: skip
    conn.close()
    page, table = _month_chart(client)
    assert len(page) < 200_000
    assert table == {"2024-04": 1, "2024-05": 1, "2024-06": 1, "": 5}  # the 5 odd ones
    assert "Ay məlum deyil" in page  # "Month not known", in the default language
    # The reader refuses such a month: ingest says so, and the page stays as it was.
    manifest = raw_manifest(5, bundle_sha256(bundle(4, bundle_sha256(THREE),
                                                    _entries(["2024-01"] * 5))),
                            [dict(_entries(["0000-01"])[0].to_json(), id="e" * 32)])  # fmt: skip
    refused = client.post("/ingest", data=signed_raw(manifest), content_type="application/json")
    assert refused.status_code == 400 and b"2000-01" in refused.data
    assert _month_chart(client)[1] == table
    # The static build renders the same page (it once stopped there too).
    out = tmp_path / "site"
    build_site(tmp_path / "map", out, jobs=1)
    built = (out / "stats" / "index.html").read_text("utf-8")
    assert _table(_section(built, "chart-month")) == table


@pytest.mark.parametrize(
    ("first", "by_year"), [("2014-07", False), ("2014-06", True), ("2000-01", True)]
)
def test_over_ten_years_of_months_the_chart_has_a_column_per_year(
    tmp_path: Path, first: str, by_year: bool
) -> None:
    """ONE to THREE have 2024-04 to 2024-06: with ``first``, the period is 120 months
    (a column each), 121, or 294 (a column per year, said in the caption and a note)."""
    four = bundle(4, bundle_sha256(THREE), _entries([first, first, "2020-02"]))
    client = _client(tmp_path, (ONE, TWO, THREE, four))
    page, table = _month_chart(client, "/en/stats/")
    section = _section(page, "chart-month")
    caption = section.findtext(".//table/caption")
    if not by_year:
        assert len(table) == 120 and caption == "Entries by month"
        assert table["2014-07"] == 2 and table["2020-02"] == 1 and table["2020-03"] == 0
        return
    years = [str(y) for y in range(int(first[:4]), 2025)]
    assert list(table) == years
    assert table[first[:4]] == 2 and table["2020"] == 1 and table["2024"] == 3
    assert caption == "Entries by year"
    assert "each column is a year" in (section.findtext(".//figcaption") or "")
    assert section.findtext(".//table/thead/tr/th") == "Year"


def test_the_page_is_rendered_once_per_sequence_url_and_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(tmp_path, (ONE, TWO))
    rendered: list[str] = []
    real = stats_page._page

    def counting(filters: Any, found: Any) -> str:
        rendered.append(repr(filters))
        return real(filters, found)

    monkeypatch.setattr(stats_page, "_page", counting)
    first = client.get("/stats/").data
    assert client.get("/stats/").data == first and len(rendered) == 1
    assert b'lang="ru"' in client.get("/ru/stats/").data and len(rendered) == 2
    client.get("/stats/?type=verbal")
    client.get("/stats/?type=verbal")
    assert len(rendered) == 3
    # A query the filters ignore is its own page (its links repeat it), never another's.
    odd = client.get("/stats/?x=%22q").get_data(as_text=True)
    assert len(rendered) == 4 and "x=%22q" in odd
    assert "x=%22q" not in client.get("/stats/").get_data(as_text=True)
    # New bundles: rendered again, with the new count.
    four = bundle(4, bundle_sha256(THREE), _entries(["2024-01"]))
    for data in (THREE, four):
        assert client.post("/ingest", data=data, content_type="application/json").status_code == 200
    after = client.get("/stats/").get_data(as_text=True)
    assert len(rendered) == 5 and _total(after) != _total(first.decode())
    # At most CACHE_SIZE pages: the least recently used goes first.
    monkeypatch.setattr(stats_page, "CACHE_SIZE", 2)
    for url in ("/stats/?type=online", "/stats/?type=touching", "/stats/"):
        client.get(url)
    assert len(rendered) == 8
    client.get("/stats/?type=touching")
    assert len(rendered) == 8
    assert len(client.application.extensions["sesim_map_stats"][1].items) == 2
    assert re.search(r"data-total=\"\d+\"", after)
