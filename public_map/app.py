"""The map's web app: the upload endpoint, the open data and the no-JavaScript pages
(``pages.py``).

No cookie is ever set (no session, no language cookie); every response carries a CSP:
for data, one that allows nothing (``default-src 'none'``); for HTML pages, only the
site's own style sheet and images (``pages.PAGE_CSP``: no script, no inline style); and
``Referrer-Policy: no-referrer``. ``POST /ingest`` needs no login: the bundle's own
signature is the authentication — anyone may post, only a correctly signed next bundle
changes anything.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO, Any

from flask import Flask, Response, abort, g, request
from flask_babel import Babel
from werkzeug.exceptions import ClientDisconnected, HTTPException

from securedrop_like.bundles.publication import MAX_PUBLICATION_BYTES
from securedrop_like.i18n import TRANSLATIONS

from . import data, map_page, pages, store
from .ingest import BAD_BUNDLE, BUSY, CONFLICT, OUT_OF_ORDER, IngestRefused, ingest
from .instance import MapInstance, open_map

#: Uploads being received at once: each holds up to 16 MiB, and anyone may post. The
#: server cuts off a sender that is too slow (securedrop_like.serve.QuietRequestHandler),
#: so idle connections hold these only for a while. More get 503 and may try again.
MAX_READING_AT_ONCE = 8
#: Uploads verified and applied at once, taken only once the body is whole (a slow sender
#: never holds one); ingest is one writer at a time anyway.
MAX_UPLOADS_AT_ONCE = 2
_BUSY = "busy with other uploads: try again in a minute"
_STATUS = {BAD_BUNDLE: 400, CONFLICT: 409, OUT_OF_ORDER: 409, BUSY: 503}
_JSON = "application/json; charset=utf-8"
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"


def _json(doc: Any, status: int = 200) -> Response:
    body = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(body, status=status, content_type=_JSON)


def _read_capped(stream: IO[bytes], cap: int) -> bytes | None:
    """The whole body, or None as soon as it is longer than ``cap`` (memory stays bounded:
    a chunked upload has no length to check first)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(1 << 20, cap + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)


def _mistyped_page(status: int) -> bool:
    """A 404 for an address no route knows, outside the data files, the static files and
    the upload: a reader's mistyped or old link. She gets the site's own 404 page in the
    language of the address's prefix (as the static site's per-language 404.html)."""
    if status != 404 or request.url_rule is not None:
        return False
    first = request.path.lstrip("/").split("/", 1)[0]
    if first in ("data", "static", "ingest"):
        return False
    if first in pages.LANGS:
        g.map_lang = first
    return True


def create_app(home: Path | MapInstance) -> Flask:
    instance = home if isinstance(home, MapInstance) else open_map(Path(home))
    app = Flask(__name__)
    # No MAX_CONTENT_LENGTH: werkzeug would cut a chunked upload at the limit without a
    # word; /ingest reads at most one byte over the limit itself and answers 413.
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = pages.DEFAULT_LANG
    Babel(app, locale_selector=pages.select_locale)  # from the URL: no session, no cookie
    pages.init_pages(app)
    app.extensions["sesim_map"] = instance
    reading = threading.BoundedSemaphore(MAX_READING_AT_ONCE)
    uploads = threading.BoundedSemaphore(MAX_UPLOADS_AT_ONCE)
    app.extensions["sesim_map_reading"] = reading
    app.extensions["sesim_map_uploads"] = uploads  # tests hold it to see the 503

    @app.post("/ingest")
    def ingest_bundle() -> Response:
        if (request.content_length or 0) > MAX_PUBLICATION_BYTES:
            abort(413)
        if not reading.acquire(blocking=False):
            return _json({"error": _BUSY}, 503)
        try:
            body = _read_capped(request.stream, MAX_PUBLICATION_BYTES)
        except ClientDisconnected as exc:  # 400, or 408 if the server cut a slow sender off
            if isinstance(exc.__context__, TimeoutError):
                abort(408)
            raise
        finally:
            reading.release()
        if body is None:
            abort(413)
        if not uploads.acquire(blocking=False):
            return _json({"error": _BUSY}, 503)
        try:
            result = ingest(instance, body)
        except IngestRefused as exc:
            return _json({"error": str(exc), "kind": exc.kind}, _STATUS.get(exc.kind, 400))
        finally:
            uploads.release()
        if result.retracted:  # her text out of the WAL file too, before we say done
            store.truncate_wal(instance.db_path)
        # The map page's data for the new sequence, made now rather than by the next
        # reader's request (it takes seconds at 100,000 entries).
        threading.Thread(target=data.warm, args=(instance,), name="warm-map-json",
                         daemon=True).start()  # fmt: skip
        return _json(
            {
                "sequence": result.sequence,
                "sha256": result.sha256,
                "added": result.added,
                "retracted": result.retracted,
                "retracted_unknown": result.retracted_unknown,
            }
        )

    def _data_file(name: str) -> Response:
        """A data file from the per-sequence cache: gzip if the client takes it, 304 if
        it already holds this version (strong ETag), revalidated on every use."""
        found = data.cached(instance, name)
        packed = request.accept_encodings["gzip"] > 0
        etag = found.gzip_etag if packed else found.etag
        held = request.if_none_match  # weak comparison (RFC 9110 13.1.2)
        if any(held.contains_weak(t.strip('"')) for t in (found.etag, found.gzip_etag)):
            response = Response(status=304, content_type=found.content_type)
        else:
            response = Response(found.gzip if packed else found.body,
                                content_type=found.content_type)  # fmt: skip
            if packed:
                response.headers["Content-Encoding"] = "gzip"
            if name == "entries.csv":
                response.headers["Content-Disposition"] = 'attachment; filename="sesim-entries.csv"'
        response.headers["ETag"] = etag
        response.headers["Vary"] = "Accept-Encoding"
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/data/map.json")
    def map_json() -> Response:
        return _data_file("map.json")

    @app.get("/data/map-ids.json")
    def map_ids_json() -> Response:
        return _data_file("map-ids.json")

    @app.get("/data/entries.json")
    def entries_json() -> Response:
        return _data_file("entries.json")

    @app.get("/data/entries.csv")
    def entries_csv() -> Response:
        return _data_file("entries.csv")

    @app.get("/data/entries.geojson")
    def entries_geojson() -> Response:
        return _data_file("entries.geojson")

    @app.get("/data/dictionary")
    @app.get("/data/dictionary.json")
    def dictionary() -> Response:
        return _data_file("dictionary.json")

    @app.get("/pgp-key.asc")
    def pgp_key() -> Response:
        """The OpenPGP key for encrypted e-mail (pgp-key.asc beside map.toml)."""
        if not instance.pgp_key:
            abort(404)
        response = Response(instance.pgp_key, mimetype="application/pgp-keys")
        response.headers["Content-Disposition"] = 'attachment; filename="pgp-key.asc"'
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        if request.blueprint in pages.PAGE_BLUEPRINTS or _mistyped_page(status):
            return pages.error_page(status)
        reason = (
            f"a publication bundle is at most {MAX_PUBLICATION_BYTES} bytes"
            if status == 413
            else exc.name
        )
        return _json({"error": reason}, status)

    @app.errorhandler(Exception)
    def any_error(exc: Exception) -> Response | tuple[str, int]:  # never a bare 500 page
        app.logger.error("unexpected %s", type(exc).__name__)
        if request.blueprint in pages.PAGE_BLUEPRINTS:
            return pages.error_page(500)
        return _json({"error": "internal error"}, 500)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.pop("Set-Cookie", None)
        if request.endpoint in map_page.ENDPOINTS:  # the one page with a script
            csp = map_page.csp(instance.settings.tile_url)
        else:
            csp = pages.PAGE_CSP if response.mimetype == "text/html" else DATA_CSP
        response.headers["Content-Security-Policy"] = csp
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app
