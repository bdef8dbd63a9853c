"""The map page (``/``): the filter form and a link to the list, rendered on the server
so the page is useful without JavaScript, which ``static/map.js`` then turns into the
map. The script reads everything it needs from one ``<script type="application/json"
id="map-config">`` block (labels in the page's language, URLs, the tile URL and the
attribution; Jinja's ``tojson`` makes it safe to embed) and the entries from
``/data/map.json`` (``data.map_document``), which it filters, counts and clusters in the
browser, so the map works the same in the dynamic and the static site.

Only this page runs a script: its CSP (``csp``) adds ``script-src 'self'`` and
``connect-src 'self'`` to the pages' policy, and the tile server's origin to
``img-src`` when one is configured.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import current_app, render_template, request, url_for

from securedrop_like import taxonomy
from securedrop_like.i18n import gettext as _

from . import instance, listing
from .pages import (
    bad_filter_message,
    bad_filter_page,
    bp,
    connect,
    labels,
    lang,
    link,
    static_site,
)

ENDPOINTS = ("pages.index", "pages_lang.index")
BAD_FILTER_FIELDS = ("type", "district", "service", "perpetrator", "from", "to")
ATTRIBUTION_FILE = Path(__file__).parent / "static" / "basemap" / "attribution.json"


def tile_origins(tile_url: str) -> tuple[str, ...]:
    """The tile server's origins as CSP sources (``instance.tile_origins``: one per
    subdomain for ``{s}``, never a wildcard); none if there is no usable template
    (``map.toml`` refuses one, this is the second line of defence)."""
    try:
        return instance.tile_origins(tile_url) if tile_url else ()
    except ValueError:
        return ()


def csp(tile_url: str = "") -> str:
    """The map page's policy: its own script, data and images (and the tiles' host)."""
    images = " ".join(("'self'", *tile_origins(tile_url)))
    return (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self';"
        f" img-src {images}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


@cache
def _attribution() -> tuple[str, ...]:
    doc = json.loads(ATTRIBUTION_FILE.read_text("utf-8"))
    return (doc["districts"]["text"], doc["metro"]["text"])


def _config(tile_url: str) -> dict[str, Any]:
    entry_prefix = link("entry", public_id="0")[: -len("0/")]
    return {
        "lang": lang(),
        "static": static_site(),
        "data_url": url_for("map_json"),
        "ids_url": url_for("map_ids_json"),  # fetched when a popup first needs a link
        "districts_url": url_for("static", filename="basemap/districts.geojson"),
        "metro_url": url_for("static", filename="basemap/metro.geojson"),
        "entry_url": entry_prefix,  # + id + "/"
        "list_url": link("entry_list"),
        "tile_url": tile_url if tile_origins(tile_url) else "",
        "tile_subdomains": instance.TILE_SUBDOMAINS,  # {s}: the origins csp() allows
        "attribution": list(_attribution()),
        "labels": labels(),
        "text": {
            "status": _(
                "Matching entries: {total}. On the map: {on_map}."
                " No place on the map (online or not said): {no_place}."
            ),
            "type": _("Type"),
            "month": _("Month"),
            "district": _("District"),
            "not_known": _("Not known"),
            "not_said": _("Not said"),
            "open_entry": _("Open this entry"),
            "cluster": _("Entries here: {n}. Zoom in to see them."),
            "here": _("Entries at this place: {n}"),
            "more": _("More entries here: {n}. See the list for this district."),
            "several": _("Several types"),
            "per_district": _("Entries per district"),
            "map": _("Map of the entries"),
            "failed": _("The map could not be loaded. The list shows the same entries."),
        },
        # The server answers a bad filter with a 400 page; the static site's script
        # refuses it itself, with the same words.
        "bad_filter": {field: bad_filter_message(field) for field in BAD_FILTER_FIELDS},
        "max_values": listing.MAX_VALUES,  # per parameter, as the server's
    }


@bp.get("/")
def index() -> tuple[str, int]:
    static = static_site()
    filters = listing.Filters()  # the static site: the script reads the query
    if not static:
        try:
            filters = listing.parse(request.args)
        except listing.BadFilter as exc:
            return bad_filter_page(exc, clear_url=link("index"))
    conn = connect()
    try:
        total = listing.count(conn, filters)  # the static site: every entry (no filter)
    finally:
        conn.close()
    params = filters.params()
    settings = current_app.extensions["sesim_map"].settings
    groups = [
        ("type", _("Type"), [(c.code, str(c.label)) for c in taxonomy.HARASSMENT_TYPES],
         filters.types),
        ("district", _("District"), list(labels()["district"].items()), filters.districts),
        ("service", _("Service"), list(labels()["service"].items()), filters.services),
        ("perpetrator", _("Who did it"), list(labels()["perpetrator"].items()),
         filters.perpetrators),
    ]  # fmt: skip
    html = render_template(
        "map/index.html",
        filters=filters,
        groups=groups,
        total=total,
        list_url=link("entry_list") + ("?" + urlencode(params) if params else ""),
        map_config=_config(settings.tile_url),
    )
    return html, 200
