"""The map's pages that need no JavaScript: a landing page, the list (the map's
accessible twin: the same filters as GET parameters, a count, pages by key) and an
entry's page. Every text from a bundle is rendered by Jinja with autoescape on.

The language comes from the URL only — a prefix (``/ru/list``) or ``?lang=ru`` — never
from a cookie or a header; Azerbaijani is the default. Pages in ``az`` have no prefix.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, current_app, g, render_template, request, url_for
from flask_babel import get_locale

from securedrop_like import geo, taxonomy
from securedrop_like.config import DEFAULT_CENTRE_NAMES
from securedrop_like.i18n import LANGUAGE_NAMES
from securedrop_like.i18n import gettext as _

from . import listing, store
from .instance import DEFAULT_QUICK_EXIT

LANGS = ("az", "ru", "en")
DEFAULT_LANG = "az"
PAGE_SIZE = 50
PAGE_BLUEPRINTS = ("pages", "pages_lang")
#: HTML pages: the site's own style sheet and images, nothing else (no script at all,
#: no inline style, no frames, forms only to itself).
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)

bp = Blueprint("pages", __name__)


def _take_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values and "lang" in values:
        g.map_lang = values.pop("lang")


def select_locale() -> str:
    """From the URL: the prefix, else ``?lang=``, else Azerbaijani (never a cookie)."""
    chosen = g.get("map_lang")
    if chosen is None:
        chosen = request.args.get("lang")
    return chosen if chosen in LANGS else DEFAULT_LANG


def static_site() -> bool:
    """True while ``sesim map build`` renders the pages as files: a page then offers no
    GET form to the server (there is none) and links to the pre-built pages instead."""
    return bool(current_app.config.get("SESIM_MAP_STATIC"))


def quick_exit_url() -> str:
    """Where "Quick exit" goes: ``quick_exit`` in map.toml (an https URL)."""
    instance = current_app.extensions.get("sesim_map")
    return instance.settings.quick_exit if instance is not None else DEFAULT_QUICK_EXIT


def lang() -> str:
    return str(get_locale() or DEFAULT_LANG)


def centre_name() -> str:
    """The Legal Centre's name in the page's language (``[legal_centre]`` in map.toml),
    for the messages' ``%(centre)s``."""
    instance = current_app.extensions.get("sesim_map")
    names = instance.settings.legal_centre if instance is not None else DEFAULT_CENTRE_NAMES
    return names.get(lang()) or names[DEFAULT_LANG]


def link(endpoint: str, language: str | None = None, **values: Any) -> str:
    """A URL to one of these pages in the current (or the given) language."""
    language = language or lang()
    if language == DEFAULT_LANG:
        return url_for(f"pages.{endpoint}", **values)
    return url_for(f"pages_lang.{endpoint}", lang=language, **values)


def here(language: str) -> str:
    """This page in another language, with the same filters (links for the switcher)."""
    static_path = g.get("map_static_path")  # a page only `sesim map build` writes
    if static_path is not None:
        return link("index", language) + str(static_path)
    endpoint = (request.endpoint or "pages.index").split(".")[-1]
    if request.blueprint not in PAGE_BLUEPRINTS:
        endpoint = "index"
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    url = link(endpoint, language, **(request.view_args or {}))
    return url + ("?" + urlencode(params) if params else "")


def _choices(group: tuple[taxonomy.Choice, ...]) -> list[tuple[str, str]]:
    return [(c.code, str(c.label)) for c in group]


def _places() -> list[tuple[str, str]]:
    language = lang()
    return [(d.code, d.name(language)) for d in geo.load_districts()] + [
        (geo.ONLINE, str(geo.ONLINE_LABEL))
    ]


def labels() -> dict[str, dict[str, str]]:
    """Every code's label in the current language (kept in ``g`` per language: a page of
    50 entries asks for them 50 times)."""
    language = lang()
    cached = g.get("map_labels")
    if cached is not None and cached[0] == language:
        return cached[1]  # type: ignore[no-any-return]
    found = {
        "type": dict(_choices(taxonomy.HARASSMENT_TYPES)),
        "district": dict(_places()),
        "service": dict(_choices(taxonomy.SERVICES)),
        "perpetrator": dict(_choices(taxonomy.PERPETRATOR_TYPES)),
    }
    g.map_labels = (language, found)
    return found


def connect() -> Any:
    """A connection to this map's database (close it when done)."""
    return store.connect(current_app.extensions["sesim_map"].db_path)


def paragraphs(text: str | None) -> list[str]:
    """A story's paragraphs (the ``paragraphs`` filter of every template): its lines,
    without the empty ones. The template escapes each; no HTML from a bundle reaches a
    page."""
    return [line for line in (text or "").split("\n") if line.strip()]


@bp.get("/list/")
def entry_list() -> tuple[str, int] | str:
    try:
        filters = listing.parse(request.args)
    except listing.BadFilter as exc:
        return bad_filter_page(exc)
    size = int(current_app.config.get("SESIM_MAP_PAGE_SIZE", PAGE_SIZE))
    conn = connect()
    try:
        total = listing.count(conn, filters)
        found = listing.page(conn, filters, size)
    finally:
        conn.close()
    params = filters.params()
    next_url = None
    if found.next_cursor:
        next_url = link("entry_list") + "?" + urlencode([*params, ("after", found.next_cursor)])
    return render_template(
        "map/list.html",
        filters=filters,
        total=total,
        rows=found.rows,
        next_url=next_url,
        first_url=link("entry_list") + ("?" + urlencode(params) if params else ""),
        paged=filters.after is not None,
        groups=[
            ("type", _("Type"), _choices(taxonomy.HARASSMENT_TYPES), filters.types),
            ("district", _("District"), _places(), filters.districts),
            ("service", _("Service"), _choices(taxonomy.SERVICES), filters.services),
            (
                "perpetrator",
                _("Who did it"),
                _choices(taxonomy.PERPETRATOR_TYPES),
                filters.perpetrators,
            ),
        ],  # fmt: skip
    )


def bad_filter_message(field: str) -> str:
    """The translated message for a filter (a ``BadFilter.field``) that cannot be used."""
    names = {
        "type": _("Type"),
        "district": _("District"),
        "service": _("Service"),
        "perpetrator": _("Who did it"),
        "from": _("From (month)"),
        "to": _("To (month)"),
        "after": _("Page"),
    }
    return _(
        "This filter cannot be used: %(name)s. Check the value or clear the filters.",
        name=names.get(field, field),
    )


def bad_filter_page(exc: listing.BadFilter, clear_url: str | None = None) -> tuple[str, int]:
    """The translated 400 page for a filter the list (or the statistics, or the map)
    cannot use; with ``clear_url``, a "Clear the filters" link to it."""
    return render_template(
        "map/error.html", message=bad_filter_message(exc.field), clear_url=clear_url
    ), 400


@bp.get("/entry/<public_id>/")
def entry(public_id: str) -> str:
    if not listing.CURSOR.fullmatch(":" + public_id):
        abort(404)
    conn = connect()
    try:
        found = listing.entry(conn, public_id)
    finally:
        conn.close()
    if found is None:  # unknown, or retracted (its row is gone)
        abort(404)
    return render_template("map/entry.html", entry=found)


def error_page(status: int) -> tuple[str, int]:
    if status == 404:
        message = _("There is no such page. The entry may have been removed.")
    elif status == 400:
        message = _("This address cannot be used. Check it or start again from the list.")
    else:
        message = _("Something went wrong on our side. Please try again later.")
    return render_template("map/error.html", message=message), status


def init_pages(app: Flask) -> None:
    # The other pages add their views to ``bp`` when imported (before it is registered).
    from . import info_pages, map_page, stats_page  # noqa: F401

    app.url_value_preprocessor(_take_lang)
    app.register_blueprint(bp)
    app.register_blueprint(bp, url_prefix="/<any(ru,en,az):lang>", name="pages_lang")
    app.jinja_env.filters["paragraphs"] = paragraphs
    app.jinja_env.globals.update(
        link=link,
        lang=lang,
        LANGS=LANGS,
        LANGUAGE_NAMES=LANGUAGE_NAMES,
        quick_exit_url=quick_exit_url,
        centre_name=centre_name,
        labels=labels,
        here=here,
        static_site=static_site,
    )
