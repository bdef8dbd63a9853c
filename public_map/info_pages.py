"""The map's information pages: stories, open data, about and methodology, how to
report safely, and where to get help. No JavaScript; every text from a bundle (summary,
story) is escaped by Jinja; the links to report and to get help come only from
``map.toml`` (``instance.SiteSettings``), never invented.

Stories are paged like the list (``listing`` with ``Filters(with_story=True)``): by key
(``?after=<month>:<id>``) on the server, and by number in the static site (``/stories/``,
``/stories/2/`` … ``/stories/N/``). The view serves a
numbered page with ``OFFSET`` (fine for a few pages, slow for page 900 of 100,000
entries); the static build should use :func:`static_story_pages`, which renders them all
from one query.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import abort, current_app, render_template, request

from securedrop_like import channel_notes, geo, grid
from securedrop_like.i18n import gettext as _
from securedrop_like.i18n import lazy_gettext as _l

from . import data, listing, store
from .pages import DEFAULT_LANG, PAGE_SIZE, bp, lang, link, static_site

#: The open data files (app.py serves them; the static build writes the same paths).
DATA_FILES = (
    ("/data/entries.json", "JSON"),
    ("/data/entries.csv", "CSV"),
    ("/data/entries.geojson", "GeoJSON"),
    ("/data/dictionary.json", _l("Data dictionary (JSON)")),
)
CC_BY_URL = "https://creativecommons.org/licenses/by/4.0/"
ODBL_URL = "https://opendatacommons.org/licenses/odbl/"
TOR_BROWSER_URL = "https://www.torproject.org/download/"
MAX_PAGE_NUMBER = 10**6
#: What each column means, for readers (data.dictionary() has the same in English).
COLUMN_MEANINGS = {
    "id": _l("A random public id (32 characters). It says nothing about her report."),
    "types": _l("What happened: one kind of harassment or more (in the CSV joined by “;”)."),
    "district": _l("The district of Baku, “online” (online or by phone), or empty (not said)."),
    "point_kind": _l(
        "“cell”: the centre of a square of about 500 m; “station”: a metro station;"
        " empty: no point. Never her exact place."
    ),
    "lat": _l("Latitude of the point (WGS 84, degrees)."),
    "lon": _l("Longitude of the point (WGS 84, degrees)."),
    "month": _l("The month it happened (YYYY-MM), never the day. Empty if not known."),
    "perpetrator": _l("Who did it: a kind of person, never a name. Empty if not said."),
    "service": _l("The public service involved, if any."),
    "language": _l("The language of the summary and the story: az, ru or en."),
    "summary": _l("A short summary written by a reviewer. Plain text."),
    "story": _l(
        "Her story, edited, only where she agreed to share it. Plain text, may hold"
        " line breaks. Empty otherwise."
    ),
}


def _instance() -> Any:
    return current_app.extensions["sesim_map"]


def _size() -> int:
    return int(current_app.config.get("SESIM_MAP_PAGE_SIZE", PAGE_SIZE))


@bp.get("/stories/")
@bp.get("/stories/<int:number>/")
def stories(number: int | None = None) -> tuple[str, int] | str:
    """Only entries with a story she agreed to share, newest month first."""
    if number is not None and not 2 <= number <= MAX_PAGE_NUMBER:
        abort(404)  # page 1 is /stories/; a huge number is no page (nor an SQLite overflow)
    try:
        after = None if number else listing.parse_cursor(request.args.get("after", ""))
    except listing.BadFilter:
        message = _("This page address cannot be used. Start again from the first page.")
        return render_template("map/error.html", message=message), 400
    filters = listing.Filters(with_story=True, after=after)
    size = _size()
    conn = store.connect(_instance().db_path)
    try:
        total = listing.count(conn, filters)
        offset = (number - 1) * size if number else 0
        found = listing.page(conn, filters, size, texts=True, offset=offset)
    finally:
        conn.close()
    if number and not found.rows:
        abort(404)
    return _render_stories(found, total, number, after)


def _render_stories(
    found: listing.Page, total: int, number: int | None, after: tuple[str, str] | None
) -> str:
    size = _size()
    numbered = static_site() or number is not None
    current = number or 1
    next_url = prev_url = None
    if numbered:
        if found.next_cursor:
            next_url = link("stories", number=current + 1)
        if current > 1:
            prev_url = link("stories", number=current - 1) if current > 2 else link("stories")
    elif found.next_cursor:
        next_url = link("stories") + "?" + urlencode([("after", found.next_cursor)])
    return render_template(
        "map/stories.html",
        total=total,
        rows=found.rows,
        next_url=next_url,
        prev_url=prev_url,
        first_url=link("stories") if (after or current > 2) else None,
        number=current if numbered else None,
        pages=-(-total // size) if numbered else None,
    )


def static_story_pages(language: str) -> Iterator[tuple[str, str]]:
    """Every numbered stories page in ``language`` as (URL path, HTML), from one query:
    for ``sesim map build`` (call it in an app context with ``SESIM_MAP_STATIC`` set).
    The HTML is what ``GET <path>`` answers in the static site."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    prefix = "" if language == DEFAULT_LANG else f"/{language}"
    filters = listing.Filters(with_story=True)
    conn = store.connect(_instance().db_path)
    try:
        total = listing.count(conn, filters)
        for number, found in enumerate(listing.every_page(conn, filters, _size(), texts=True), 1):
            path = f"{prefix}/stories/" + (f"{number}/" if number > 1 else "")
            with app.test_request_context(path):
                app.preprocess_request()  # the language from the path, as a request would
                yield path, _render_stories(found, total, number if number > 1 else None, None)
    finally:
        conn.close()


def _dictionary_rows() -> list[dict[str, Any]]:
    language = lang()
    rows = []
    for column in data.dictionary()["columns"]:
        codes = [(c["code"], c["label"].get(language, c["code"])) for c in column.get("codes", ())]
        if column["name"] == "district":
            codes.append((geo.ONLINE, str(geo.ONLINE_LABEL)))
        meaning = COLUMN_MEANINGS.get(column["name"])
        rows.append(
            {
                "name": column["name"],
                "meaning": str(meaning) if meaning is not None else column["meaning"],
                "codes": codes,
            }
        )
    return rows


@bp.get("/data/")
def open_data() -> str:
    instance = _instance()
    conn = store.connect(instance.db_path)
    try:
        total = listing.count(conn, listing.Filters())
        with_story = listing.count(conn, listing.Filters(with_story=True))
        chain = store.chain_state(conn, instance.verify_key_text)
    finally:
        conn.close()
    return render_template(
        "map/open_data.html",
        files=[(path, str(name)) for path, name in DATA_FILES],
        total=total,
        with_story=with_story,
        chain=chain,
        columns=_dictionary_rows(),
        cc_by_url=CC_BY_URL,
        odbl_url=ODBL_URL,
        basemap_attribution=geo.ATTRIBUTION,
        metro_attribution=grid.METRO_ATTRIBUTION,
    )


@bp.get("/about/")
def about() -> str:
    tile_url = _instance().settings.tile_url
    tile_host = urlsplit(tile_url).hostname if tile_url else None
    return render_template("map/about.html", tile_host=tile_host)


@bp.get("/report/")
def report() -> str:
    settings = _instance().settings
    return render_template(
        "map/report.html",
        settings=settings,
        any_channel=bool(
            settings.onion
            or settings.sms
            or settings.email
            or settings.messenger_url
            or settings.x_handle
        ),
        has_pgp_key=bool(_instance().pgp_key),
        notes=channel_notes,
        tor_browser_url=TOR_BROWSER_URL,
    )


@bp.get("/help/")
def get_help() -> str:
    return render_template("map/help.html", lines=_instance().settings.help)
