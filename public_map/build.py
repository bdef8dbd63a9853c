"""``sesim map build``: the whole public map as static files, for nginx or any CDN.

Every page is rendered by the map's own Flask app (``create_app``) with
``SESIM_MAP_STATIC`` set, so :func:`pages.static_site` is True: a page then offers no
GET form (there is no server to answer it) but links to pages built here. Page URLs end
in ``/`` and each is written as ``OUT/<path>/index.html``, so the links in the pages
work unchanged; az has no prefix, ru and en have ``ru/`` and ``en/``.

- Pages with no per-entry content (the map, stories, statistics, open data, about,
  report, help) go through the app's test client: the same bytes the dynamic site
  sends.
- The list (unfiltered, and one per type and per district, ``list/type/<code>/``,
  ``list/district/<code>/``) is paged by number (``…/2/``) instead of by cursor: the
  rows are read once, in the list's own order, and each page is rendered with
  ``map/list_static.html`` (``list.html`` with links to these lists in place of the
  form, and numbered pages in place of "next"). A page holds exactly the rows the
  dynamic list shows on the same page for ``?type=`` or ``?district=``.
- Entry pages are rendered with ``map/entry.html`` in a request context for their own
  URL, from rows read once (not one query per page): byte for byte the dynamic page.
- ``data/``: the open data and the map's data, the same bytes the app serves, each with
  a ``.gz`` sibling (``gzip_static``); ``static/``: a copy of ``public_map/static``
  (text files with ``.gz`` siblings too); ``404.html``.

The build goes to a new folder beside OUT and is then swapped into place (an atomic
exchange where the kernel has one), so a reader never sees half a site. OUT must be
missing, empty, or an earlier build (it holds ``.sesim-map-build``). Files are 0644 and
folders 0755 (a public site); the output depends only on the data (no timestamps), and
everything is read in one snapshot: a bundle ingested during the build stops it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import gzip
import multiprocessing
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, g
from flask_babel import get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from werkzeug.test import EnvironBuilder

from securedrop_like import geo, taxonomy

from . import data, info_pages, listing, map_page, pages, store
from .app import DATA_CSP, create_app
from .instance import MapInstance, open_map

#: An earlier build holds this file; a non-empty OUT without it is refused.
MARKER = ".sesim-map-build"
MARKER_TEXT = "This folder is the Səsim public map, written by `sesim map build`.\n"
STATIC_DIR = Path(__file__).parent / "static"
#: Pages rendered as the app serves them: (endpoint, path inside a language). The
#: stories come from ``info_pages.static_story_pages`` (numbered pages).
FIXED_PAGES = (
    ("index", ""),
    ("stats", "stats/"),
    ("open_data", "data/"),
    ("about", "about/"),
    ("report", "report/"),
    ("get_help", "help/"),
)
GZIP_SUFFIXES = (".json", ".csv", ".geojson", ".js", ".css", ".svg", ".map", ".txt")
PAGE_WINDOW = 3  # numbered links either side of the current page
#: The rows of each list per type and per district, by kind ("type", "district") and code.
_ByFilter = dict[str, dict[str, list[dict[str, Any]]]]


class BuildError(Exception):
    """The build cannot go on; the message says why and what to do."""


@dataclass
class BuildResult:
    out: Path
    sequence: int
    entries: int
    pages: int = 0
    files: int = 0
    seconds: float = 0.0  # until the new site was in place
    cleanup_seconds: float = 0.0  # then to delete the previous build
    list_pages: dict[str, int] = field(default_factory=dict)
    #: Folders left beside OUT by an earlier build (killed, or its cleanup failed), now
    #: deleted.
    swept: list[Path] = field(default_factory=list)
    #: What could not be deleted (the new site is live all the same): each names the
    #: folder, which may hold retracted entries; the next build tries again.
    warnings: list[str] = field(default_factory=list)


def check_out(out: Path, home: Path | None = None) -> None:
    """OUT may be missing, empty, or an earlier build; anything else is refused, and so
    is a folder inside the map's own folder or its static files (copied into OUT)."""
    where = out.resolve()
    for inside, name in ((home, "the map's folder"), (STATIC_DIR, "public_map/static")):
        if inside is not None and where.is_relative_to(inside.resolve()):
            raise BuildError(f"{out} is inside {name}: give a folder elsewhere")
    if home is not None and home.resolve().is_relative_to(where):
        raise BuildError(f"the map's folder is inside {out}: give a folder elsewhere")
    if out.is_symlink():
        raise BuildError(f"{out} is a symbolic link: give the real folder")
    if out.exists():
        if not out.is_dir():
            raise BuildError(f"{out} is a file, not a folder")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise BuildError(
                f"{out} is not empty and not an earlier `sesim map build`: give a new or"
                " empty folder (nothing was changed)"
            )
    if not out.parent.is_dir():
        raise BuildError(f"the folder {out.parent} does not exist")


class _Writer:
    """Writes the files under ``root`` (bytes as given), counting them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = 0
        self._dirs: set[str] = {""}

    def mkdir(self, rel: str) -> str:
        rel = rel.strip("/")
        if rel not in self._dirs:
            parent = rel.rpartition("/")[0]
            self.mkdir(parent)
            try:
                os.mkdir(os.path.join(self.root, rel), 0o755)
            except FileExistsError:  # another worker made it
                pass
            self._dirs.add(rel)
        return rel

    def write(self, rel: str, body: bytes, gz: bool = False) -> None:
        self.mkdir(rel.rpartition("/")[0])
        path = os.path.join(self.root, rel)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        self.files += 1
        if gz:
            self.write(rel + ".gz", gzip.compress(body, compresslevel=9, mtime=0))

    def page(self, rel_dir: str, html: str) -> None:
        self.write(f"{rel_dir}index.html" if rel_dir else "index.html", html.encode("utf-8"))


def _fix_modes(root: Path) -> None:
    """0755 folders and 0644 files whatever the umask (a public site): the files were
    made with those modes, so only a umask that masks some of them needs a walk."""
    os.chmod(root, 0o755)  # noqa: S103 (a public site; mkdtemp made it 0700)
    umask = os.umask(0o022)
    os.umask(umask)
    if not umask & 0o755:
        return
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)  # noqa: S103 (public)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def _prefix(language: str) -> str:
    return "" if language == pages.DEFAULT_LANG else f"{language}/"


_ENVIRONS: dict[int, dict[str, Any]] = {}


def _base_environ(app: Flask) -> dict[str, Any]:
    """A GET request's WSGI environment (as the test client makes it), built once: only
    its path changes from page to page."""
    if id(app) not in _ENVIRONS:
        _ENVIRONS.clear()
        _ENVIRONS[id(app)] = EnvironBuilder(path="/").get_environ()
    return _ENVIRONS[id(app)]


@contextmanager
def _page_context(app: Flask, url: str, static_path: str | None = None) -> Iterator[None]:
    """A request for ``url`` as the app would see it (its endpoint, language and view
    arguments), with ``static_path`` for a page only the static site has (its address
    inside a language, for the language links)."""
    environ = dict(_base_environ(app))
    environ["PATH_INFO"] = url
    with app.request_context(environ):
        app.preprocess_request()  # the language from the URL prefix
        if static_path is not None:
            g.map_static_path = static_path
        yield


#: Rows per query while reading every entry (``listing.every_page``): each page's types
#: are looked up with one ``IN (…)`` of its ids, which SQLite caps (32,766 marks).
READ_CHUNK = 5_000


def _read_rows(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], _ByFilter]:
    """Every entry, in the list's order, with what the list and entry pages show (its
    story too), and the rows of each list per type and per district: the order is
    ``listing.every_page``'s and each filter ``listing.where``'s, so the static lists are
    the dynamic ones by construction. One query for the rows, then one query of ids per
    list (not a query of rows per list: the rows, stories and all, are read once)."""
    rows = [
        row
        for found in listing.every_page(conn, listing.Filters(), READ_CHUNK, texts=True)
        for row in found.rows
    ]
    by_filter: _ByFilter = {"type": {}, "district": {}}
    for kind, codes in (
        ("type", taxonomy.codes(taxonomy.HARASSMENT_TYPES)),
        ("district", geo.location_codes()),
    ):
        for code in sorted(codes):
            filters = (listing.Filters(types=(code,)) if kind == "type"
                       else listing.Filters(districts=(code,)))  # fmt: skip
            cond, params = listing.where(filters)
            sql = f"SELECT id FROM entries WHERE {cond}"  # noqa: S608 (only ? marks)
            ids = {r[0] for r in conn.execute(sql, params)}
            if ids:
                by_filter[kind][code] = [r for r in rows if r["id"] in ids]  # order kept
    return rows, by_filter


def list_path(kind: str | None = None, code: str | None = None, number: int = 1) -> str:
    """A static list page's address inside a language: ``list/``, ``list/3/``,
    ``list/type/verbal/``, ``list/district/nasimi/2/``."""
    base = "list/" if kind is None else f"list/{kind}/{code}/"
    return base if number == 1 else f"{base}{number}/"


def _pager(kind: str | None, code: str | None, number: int, count: int, root: str
           ) -> dict[str, Any]:  # fmt: skip
    def url(n: int) -> str:
        return root + list_path(kind, code, n)

    low, high = max(1, number - PAGE_WINDOW), min(count, number + PAGE_WINDOW)
    return {
        "number": number,
        "count": count,
        "first": url(1) if number > 1 else None,
        "previous": url(number - 1) if number > 1 else None,
        "next": url(number + 1) if number < count else None,
        "last": url(count) if number < count else None,
        "window": [(n, url(n)) for n in range(low, high + 1)] if count > 1 else [],
    }


#: The Jinja globals ``_fast_language`` replaces for a while (and puts back).
_SWAPPED = ("gettext", "ngettext", "pgettext", "npgettext", "labels", "lang", "link")
_MISSING = object()


@contextmanager
def _fast_language(app: Flask, language: str) -> Iterator[dict[str, dict[str, str]]]:
    """While rendering many pages in one language: the templates' ``_``/``ngettext`` and
    ``labels()`` bound to that language once, instead of Flask-Babel finding the locale
    again on every call (most of the render time). The same texts: Flask-Babel's own
    callables do exactly this lookup, and the tests compare every page with the app's.

    This swaps globals of the app's Jinja environment (the build's own app, made for it,
    rendering in one thread): they are put back however the block ends, so the app
    renders as before afterwards."""
    with _page_context(app, "/" + _prefix(language)):
        translations = get_translations()
        names = pages.labels()
    env = app.jinja_env
    saved = {k: env.globals.get(k, _MISSING) for k in _SWAPPED}
    saved_newstyle = env.newstyle_gettext  # type: ignore[attr-defined]
    try:
        env.install_gettext_callables(  # type: ignore[attr-defined]
            translations.ugettext, translations.ungettext, newstyle=True
        )
        translate: Callable[..., str] = env.globals["gettext"]  # type: ignore[assignment]
        texts: dict[tuple[str, bool], str] = {}

        @pass_context
        def gettext(context: Context, string: str, **variables: Any) -> str:
            if variables:
                return str(translate(context, string, **variables))
            key = (string, context.eval_ctx.autoescape)  # the same text every time
            if key not in texts:
                texts[key] = translate(context, string)
            return texts[key]

        links: dict[tuple[str, str | None], str] = {}

        def link(endpoint: str, language: str | None = None, **values: Any) -> str:
            if values:  # an entry's page: one call each
                return pages.link(endpoint, language, **values)
            key = (endpoint, language)  # the navigation: the same on every page
            if key not in links:
                links[key] = pages.link(endpoint, language)
            return links[key]

        env.globals.update(gettext=gettext, labels=lambda: names, lang=lambda: language,
                           link=link)  # fmt: skip
        yield names
    finally:
        for key, value in saved.items():
            if value is _MISSING:
                env.globals.pop(key, None)
            else:
                env.globals[key] = value
        env.newstyle_gettext = saved_newstyle  # type: ignore[attr-defined]


@dataclass
class _Job:
    """What every part of the build needs (a forked worker inherits it)."""

    app: Flask
    root: Path
    rows: list[dict[str, Any]]  # every entry, in the list's order (as listing gives them)
    by_filter: _ByFilter
    size: int


_JOB: list[_Job] = []  # set just before the parts run (and the workers fork)


def _run_part(part: tuple[str, str]) -> tuple[int, int, dict[str, int]]:
    """One language's entry pages or list pages: (pages, files, list pages by kind)."""
    language, what = part
    job = _JOB[0]
    writer = _Writer(job.root)
    result = BuildResult(out=job.root, sequence=0, entries=0)
    with _fast_language(job.app, language) as names:
        if what == "lists":
            _render_lists_in(job, writer, language, names, result)
        else:
            _render_entries_in(job, writer, language, result)
    return result.pages, writer.files, result.list_pages


def _run_parts(job: _Job, jobs: int, result: BuildResult) -> int:
    """Every language's lists and entry pages, in ``jobs`` processes; the files written."""
    parts = [(language, what) for what in ("entries", "lists") for language in pages.LANGS]
    _JOB[:] = [job]
    try:
        if jobs > 1:
            with multiprocessing.get_context("fork").Pool(min(jobs, len(parts))) as pool:
                done = pool.map(_run_part, parts, chunksize=1)
        else:
            done = [_run_part(part) for part in parts]
    finally:
        _JOB.clear()
    files = 0
    for page_count, file_count, list_pages in done:
        result.pages += page_count
        files += file_count
        for key, value in list_pages.items():
            result.list_pages[key] = result.list_pages.get(key, 0) + value
    return files


def _render_lists_in(
    job: _Job, writer: _Writer, language: str, names: dict[str, dict[str, str]],
    result: BuildResult,
) -> None:  # fmt: skip
    app, size = job.app, job.size
    root = "/" + _prefix(language)
    groups: list[tuple[str | None, str | None, list[dict[str, Any]], Any]] = [
        (None, None, job.rows, listing.Filters())
    ]
    groups += [
        ("type", code, job.by_filter["type"].get(code, []), listing.Filters(types=(code,)))
        for code in names["type"]
    ]
    groups += [
        ("district", code, job.by_filter["district"].get(code, []),
         listing.Filters(districts=(code,)))
        for code in names["district"]
    ]  # fmt: skip
    links = {
        kind: [(code, label, root + list_path(kind, code)) for code, label in names[kind].items()]
        for kind in ("type", "district")
    }  # fmt: skip
    for kind, code, chosen, filters in groups:
        count = max(1, -(-len(chosen) // size))
        for number in range(1, count + 1):
            path = list_path(kind, code, number)
            with _page_context(app, f"{root}list/", static_path=path):
                html = app.jinja_env.get_template("map/list_static.html").render(
                    _list_context(app, filters, chosen, number, size)
                    | {
                        "static_list": {
                            "kind": kind,
                            "code": code,
                            "label": names[kind][code] if kind and code else None,
                            "links": links,
                            "all_url": root + list_path(),
                            "pager": _pager(kind, code, number, count, root),
                        }
                    }
                )
            writer.page(_prefix(language) + path, html)
            result.pages += 1
            key = kind or "all"
            result.list_pages[key] = result.list_pages.get(key, 0) + 1


def _template_context(app: Flask, context: dict[str, Any]) -> None:
    """Flask's template context (``request``, ``g``, …) as ``render_template`` adds it,
    with the request and ``g`` themselves in place of their proxies (the same values;
    the templates read them a dozen times a page)."""
    app.update_template_context(context)
    for name in ("request", "g"):
        proxy = context.get(name)
        if hasattr(proxy, "_get_current_object"):
            context[name] = proxy._get_current_object()  # type: ignore[union-attr]


def _list_context(
    app: Flask, filters: listing.Filters, chosen: list[dict[str, Any]], number: int, size: int
) -> dict[str, Any]:
    """What ``pages.entry_list`` gives ``list.html`` (the form and "next page" parts are
    replaced by ``list_static.html``), plus Flask's own template context."""
    context: dict[str, Any] = {}
    _template_context(app, context)
    context.update(
        filters=filters,
        total=len(chosen),
        rows=chosen[(number - 1) * size : number * size],
        next_url=None,
        first_url=None,
        paged=number > 1,
        groups=[],
    )
    return context


def _render_entries_in(job: _Job, writer: _Writer, language: str, result: BuildResult) -> None:
    app = job.app
    template = app.jinja_env.get_template("map/entry.html")
    prefix = _prefix(language)
    for row in job.rows:
        path = f"{prefix}entry/{row['id']}/"
        with _page_context(app, "/" + path):
            context: dict[str, Any] = {"entry": row}
            _template_context(app, context)
            html = template.render(context)
        writer.page(path, html)
        result.pages += 1


def _get(client: Any, url: str) -> bytes:
    response = client.get(url)
    if response.status_code != 200:
        raise BuildError(f"{url} answered {response.status_code}: the site cannot be built")
    return bytes(response.get_data())


def _copy_static(writer: _Writer) -> None:
    for folder, dirs, files in os.walk(STATIC_DIR):
        dirs.sort()
        rel = os.path.relpath(folder, STATIC_DIR)
        rel = "static" if rel == "." else f"static/{rel}"
        writer.mkdir(rel)
        for name in sorted(files):
            body = Path(folder, name).read_bytes()
            writer.write(f"{rel}/{name}", body, gz=name.endswith(GZIP_SUFFIXES))


def _sequence(instance: MapInstance) -> int:
    conn = store.connect(instance.db_path)
    try:
        return store.chain_state(conn, instance.verify_key_text).last_sequence
    finally:
        conn.close()


def _write_site(
    app: Flask, instance: MapInstance, root: Path, result: BuildResult, jobs: int
) -> None:
    writer = _Writer(root)
    writer.write(MARKER, MARKER_TEXT.encode("utf-8"))  # first: a killed build is ours too
    client = app.test_client()
    with app.app_context():  # the dictionary's labels are translated
        for name in sorted(data.DATA_FILES):  # the app's own cached bytes and gzip
            found = data.cached(instance, name)
            if found.sequence != result.sequence:
                raise BuildError("a bundle was ingested during the build: run it again")
            writer.write(f"data/{name}", found.body)
            writer.write(f"data/{name}.gz", found.gzip)
    conn = store.connect(instance.db_path)
    try:
        conn.execute("BEGIN")  # one snapshot for every page
        if store.chain_state(conn, instance.verify_key_text).last_sequence != result.sequence:
            raise BuildError("a bundle was ingested during the build: run it again")
        rows, by_filter = _read_rows(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
    result.entries = len(rows)
    for language in pages.LANGS:
        for _endpoint, path in FIXED_PAGES:
            url = "/" + _prefix(language) + path
            writer.page(_prefix(language) + path, _get(client, url).decode("utf-8"))
            result.pages += 1
        with app.app_context():  # numbered, from one query (INFO's)
            for url, html in info_pages.static_story_pages(language):
                writer.page(url.lstrip("/"), html)
                result.pages += 1
    size = int(app.config.get("SESIM_MAP_PAGE_SIZE", pages.PAGE_SIZE))
    job = _Job(app, root, rows, by_filter, size)
    for language in pages.LANGS:  # every language's folder before the workers start
        writer.mkdir(_prefix(language))
    writer.files += _run_parts(job, jobs, result)
    for language in pages.LANGS:  # 404.html, ru/404.html, en/404.html
        with _page_context(app, "/" + _prefix(language)):
            html, _status = pages.error_page(404)
        writer.write(f"{_prefix(language)}404.html", html.encode("utf-8"))
    if instance.pgp_key:  # the OpenPGP key for e-mail, at the same address as served
        writer.write("pgp-key.asc", instance.pgp_key.encode("ascii"))
    _copy_static(writer)
    result.files = writer.files


# -- serving the built site -------------------------------------------------------------

#: The map page: ``/``, ``/ru/``, ``/en/`` (and their ``index.html``, the name nginx's
#: index module turns them into).
MAP_PAGE = re.compile(r"^/(ru/|en/)?(index\.html)?$")
HTML_PAGE = re.compile(r"(/|\.html)$")


def csp_for(path: str, tile_url: str = "") -> str:
    """The Content-Security-Policy the dynamic app sends with the page or file at
    ``path``: the map page's own (its script, data and images), the no-script pages',
    or data's (nothing). ``nginx_example`` writes the same as an nginx ``map``."""
    if MAP_PAGE.match(path):
        return map_page.csp(tile_url)
    if HTML_PAGE.search(path):
        return pages.PAGE_CSP
    return DATA_CSP


def nginx_maps(tile_url: str = "") -> str:
    """nginx ``map`` blocks (http level) giving ``$sesim_csp``, the Content-Security-Policy
    ``csp_for`` gives for each address, and ``$sesim_404``, each language's 404 page.
    ``sesim map nginx-maps`` prints them for a map's own ``tile_url``; the ansible role
    includes them in its nginx configuration."""
    return f"""\
# The map's policy per address: the map page runs its own script; the other pages none;
# data, styles and scripts allow nothing (as `sesim serve map` sends them).
map $uri $sesim_csp {{
    "~{MAP_PAGE.pattern}"  "{map_page.csp(tile_url)}";
    "~{HTML_PAGE.pattern}"  "{pages.PAGE_CSP}";
    default  "{DATA_CSP}";
}}
map $uri $sesim_404 {{
    "~^/ru/"  /ru/404.html;
    "~^/en/"  /en/404.html;
    default   /404.html;
}}
"""


def nginx_example(root: str = "/srv/sesim-map", tile_url: str = "") -> str:
    """An nginx server block for a site built into ``root`` (README.md shows it; a test
    keeps the two the same)."""
    return (
        nginx_maps(tile_url)
        + f"""\

server {{
    listen 443 ssl;
    server_name map.example.org;             # and ssl_certificate … as usual
    root {root};
    access_log off;                          # readers' addresses are nobody's business
    # No cookie and no analytics, ever: nginx sets none; add none.
    server_tokens off;
    absolute_redirect off;                   # /list -> /list/ stays on the reader's host

    types {{
        text/html html;
        text/css css;
        text/javascript js;
        application/json json map;
        application/geo+json geojson;
        text/csv csv;
        text/plain txt;
        image/png png;
        image/svg+xml svg;
        application/gzip gz;
    }}
    default_type text/plain;                 # the vendored LICENSE files
    charset utf-8;
    charset_types text/css text/javascript application/json application/geo+json
                  text/csv text/plain image/svg+xml;
    gzip_static on;                          # data/*.gz and static/*.gz, written by the build
    gzip on;                                 # the pages
    gzip_types text/css text/javascript application/json application/geo+json text/csv;

    error_page 404 $sesim_404;
    location = /.sesim-map-build {{ return 404; }}
    location / {{
        try_files $uri $uri/ =404;
        add_header Content-Security-Policy $sesim_csp always;
        add_header Referrer-Policy no-referrer always;
        add_header X-Content-Type-Options nosniff always;
        add_header Cache-Control no-cache always;   # revalidate: a new build shows at once
    }}
    location = /data/entries.csv {{
        add_header Content-Disposition 'attachment; filename="sesim-entries.csv"' always;
        add_header Content-Security-Policy $sesim_csp always;
        add_header Referrer-Policy no-referrer always;
        add_header X-Content-Type-Options nosniff always;
        add_header Cache-Control no-cache always;
    }}
}}
"""
    )


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    kernel or C library has none."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(done == 0)


def _swap_into_place(built: Path, out: Path) -> Path | None:
    """Put the new site at ``out``; return the folder now holding the previous build
    (for the caller to delete once the new one is live), or None."""
    if not out.exists():
        os.rename(built, out)
        return None
    if _exchange(built, out):  # ``built`` now holds the old site
        return built
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    (old / MARKER).write_text(MARKER_TEXT, encoding="utf-8")  # ours, for a later sweep
    os.rename(out, old / "site")
    try:
        os.rename(built, out)
    except OSError:
        os.rename(old / "site", out)  # the old site back where it was
        shutil.rmtree(old)
        raise
    return old


# -- what a build leaves beside OUT -------------------------------------------------------
#
# A build writes into ``.OUT.build-XXXX`` beside OUT; after the swap that folder holds the
# previous site (``.OUT.old-XXXX/site`` where there is no atomic exchange) until it is
# deleted, which takes minutes at 100,000 entries. A build killed meanwhile, or a failed
# delete, leaves it there with entries retracted since. So every build first deletes such
# folders: only names of this form, holding our marker, and not locked by a build running
# now (each build holds an flock on its folders; the kernel drops it if it dies).


def _leftover_name(out: Path) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(out.name)}\.(build|old)-[A-Za-z0-9_]+$")


def _lock(path: Path) -> int | None:
    """An exclusive flock on the folder ``path`` (an open descriptor to close when done),
    or None if another process holds it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _remove(path: Path) -> str | None:
    """Delete the folder ``path``; None, or a warning naming it."""
    try:
        shutil.rmtree(path)
    except OSError as exc:
        if path.exists():
            return (
                f"could not delete {path} ({exc.strerror or exc}): it holds an earlier build"
                " of the site, maybe with retracted entries; delete it by hand (the next"
                " build tries again)"
            )
    return None


def sweep(out: Path, result: BuildResult) -> None:
    """Delete the folders earlier builds left beside ``out`` (see above)."""
    pattern = _leftover_name(out)
    for path in sorted(out.parent.iterdir()):
        if not pattern.match(path.name) or path.is_symlink() or not path.is_dir():
            continue
        if not ((path / MARKER).is_file() or (path / "site" / MARKER).is_file()):
            continue  # not ours (or a build that has not written its marker yet)
        fd = _lock(path)
        if fd is None:
            continue  # a build writing it now
        try:
            problem = _remove(path)
        finally:
            os.close(fd)
        if problem:
            result.warnings.append(problem)
        else:
            result.swept.append(path)


def default_jobs() -> int:
    return max(1, min(len(pages.LANGS) * 2, os.cpu_count() or 1))


def build_site(
    home: Path | MapInstance,
    out: Path,
    app_config: dict[str, Any] | None = None,
    jobs: int | None = None,
) -> BuildResult:
    """Build the static site of the map at ``home`` into ``out`` (the function the
    benchmark times). ``app_config`` is merged into the app's config (tests set the
    page size); ``jobs``: processes rendering the pages (default: one per core, at most
    6: each language's entry pages and lists are one part)."""
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise BuildError("--jobs must be 1 or more")
    started = time.monotonic()
    out = Path(out)
    instance = home if isinstance(home, MapInstance) else open_map(Path(home))
    check_out(out, instance.home)
    app = create_app(instance)
    app.config.update(app_config or {})
    app.config["SESIM_MAP_STATIC"] = True
    result = BuildResult(out=out, sequence=_sequence(instance), entries=0)
    sweep(out, result)
    built = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    locks = [fd for fd in (_lock(built),) if fd is not None]
    try:
        try:
            _write_site(app, instance, built, result, jobs)
            if _sequence(instance) != result.sequence:
                raise BuildError("a bundle was ingested during the build: run it again")
            _fix_modes(built)
            check_out(out, instance.home)  # still what it was
            if out.exists():  # the previous site: ours until deleted
                locks += [fd for fd in (_lock(out),) if fd is not None]
            previous = _swap_into_place(built, out)
        except BaseException:
            shutil.rmtree(built, ignore_errors=True)
            raise
        result.seconds = time.monotonic() - started  # the new site is live
        if previous is not None:  # deleting 100,000s of files takes a while on a slow disk
            problem = _remove(previous)
            if problem:
                result.warnings.append(problem)
            result.cleanup_seconds = time.monotonic() - started - result.seconds
    finally:
        for fd in locks:
            os.close(fd)
    return result
