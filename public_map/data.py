"""The open data: every published, non-retracted entry as JSON, CSV and GeoJSON, and the
data dictionary. Texts are written as they are, escaped only by each format's own rules
(JSON string escapes, CSV quoting): the format makes no HTML promise, and neither does
open data. Columns are always in ``COLUMNS`` order; entries in id order.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask_babel import force_locale

from securedrop_like import geo, grid, taxonomy
from securedrop_like.bundles.publication import MAX_STORY_CHARS, MAX_SUMMARY_CHARS

from . import store

if TYPE_CHECKING:
    from .instance import MapInstance

ENTRIES_LICENCE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
BASEMAP_LICENCE = f"ODbL (https://opendatacommons.org/licenses/odbl/): {geo.ATTRIBUTION}"
METRO_LICENCE = f"ODbL: {grid.METRO_ATTRIBUTION}"
#: CSV columns, in order; JSON and GeoJSON use the same names.
COLUMNS = (
    "id",
    "types",
    "district",
    "point_kind",
    "lat",
    "lon",
    "month",
    "perpetrator",
    "service",
    "language",
    "summary",
    "story",
)


def entries(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every entry on the map, in id order, with its types as a sorted list and its
    point in degrees (floats from the microdegrees) or None."""
    types: dict[str, list[str]] = {}
    for row in conn.execute("SELECT entry_id, type FROM entry_types ORDER BY entry_id, type"):
        types.setdefault(row[0], []).append(row[1])
    out = []
    for row in conn.execute(
        "SELECT id, district, point_kind, lat_e6, lon_e6, month, perpetrator, service,"
        " language, summary, story FROM entries ORDER BY id"
    ):
        has_point = row["point_kind"] is not None
        out.append(
            {
                "id": row["id"],
                "types": types.get(row["id"], []),
                "district": row["district"],
                "point_kind": row["point_kind"],
                "lat": grid.from_e6(row["lat_e6"]) if has_point else None,
                "lon": grid.from_e6(row["lon_e6"]) if has_point else None,
                "month": row["month"],
                "perpetrator": row["perpetrator"],
                "service": row["service"],
                "language": row["language"],
                "summary": row["summary"],
                "story": row["story"],
            }
        )
    return out


def to_json(rows: list[dict[str, Any]]) -> str:
    doc = {"licence": ENTRIES_LICENCE, "count": len(rows), "columns": list(COLUMNS),
           "entries": rows}  # fmt: skip
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def to_csv(rows: list[dict[str, Any]]) -> str:
    """RFC 4180: a header, CRLF line ends, fields quoted when they need it (a story's
    newlines and quotes stay inside its quoted field); types joined with ``;``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for row in rows:
        values = dict(row, types=";".join(row["types"]))
        writer.writerow(["" if values[c] is None else values[c] for c in COLUMNS])
    return buffer.getvalue()


def to_geojson(rows: list[dict[str, Any]]) -> str:
    """A FeatureCollection with one Feature per entry (RFC 7946): a Point at
    [lon, lat], or ``"geometry": null`` for an entry online or with no place, so the
    count is the same as in the other files."""
    features = []
    for row in rows:
        geometry = (
            {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
            if row["point_kind"] is not None
            else None
        )
        props = {k: row[k] for k in COLUMNS if k not in ("lat", "lon")}
        features.append(
            {"type": "Feature", "id": row["id"], "geometry": geometry, "properties": props}
        )
    doc = {"type": "FeatureCollection", "licence": ENTRIES_LICENCE, "features": features}
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _labels(choices: tuple[taxonomy.Choice, ...]) -> list[dict[str, Any]]:
    out = []
    for choice in choices:
        label = {}
        for lang in ("az", "ru", "en"):
            with force_locale(lang):
                label[lang] = str(choice.label)
        out.append({"code": choice.code, "label": label})
    return out


def dictionary() -> dict[str, Any]:
    """What every column means and the codes it may hold (needs an app context: the
    labels are given in az, ru and en)."""
    districts = [
        {"code": d.code, "label": {"az": d.name_az, "ru": d.name_ru, "en": d.name_en}}
        for d in geo.load_districts()
    ]
    return {
        "title": "Səsim public map: open data dictionary",
        "files": {
            "/data/entries.json": "JSON: {licence, count, columns, entries: [object]}",
            "/data/entries.csv": "CSV (RFC 4180, UTF-8, CRLF), header row, columns below",
            "/data/entries.geojson": "GeoJSON FeatureCollection; geometry null if no place",
            "/data/map.json": "the map page's compact form (no texts, no ids): see "
            f"public_map/static/README.md, format {MAP_FORMAT}",
            "/data/map-ids.json": "the ids of map.json's entries, in its order: see "
            f"public_map/static/README.md, format {MAP_FORMAT}",
        },
        "licence": {"entries": ENTRIES_LICENCE, "basemap": BASEMAP_LICENCE,
                    "metro": METRO_LICENCE},  # fmt: skip
        "columns": [
            {"name": "id", "meaning": "random public id of the entry (32 hex digits); "
             "chosen when a reviewer accepted it, not derived from the report"},
            {"name": "types", "meaning": "kinds of harassment, one or more "
             "(CSV: joined with ';')", "codes": _labels(taxonomy.HARASSMENT_TYPES)},
            {"name": "district", "meaning": f"Baku district, '{geo.ONLINE}' (online or by "
             "phone), or empty (not said)", "codes": districts},
            {"name": "point_kind", "meaning": "'cell': the centre of a ~500 m grid cell; "
             "'station': a metro station; empty: no point (never her exact place)"},
            {"name": "lat", "meaning": "latitude, WGS 84 degrees (6 decimals at most)"},
            {"name": "lon", "meaning": "longitude, WGS 84 degrees (6 decimals at most)"},
            {"name": "month", "meaning": "YYYY-MM the harassment happened (never a day); "
             "empty if unknown"},
            {"name": "perpetrator", "meaning": "who did it, or empty",
             "codes": _labels(taxonomy.PERPETRATOR_TYPES)},
            {"name": "service", "meaning": "the service involved, or empty",
             "codes": _labels(taxonomy.SERVICES)},
            {"name": "language", "meaning": "language of summary and story: az, en or ru"},
            {"name": "summary", "meaning": "a reviewer's short summary, at most "
             f"{MAX_SUMMARY_CHARS} characters, plain text (not HTML)"},
            {"name": "story", "meaning": "her story, edited, only where she consented; at "
             f"most {MAX_STORY_CHARS} characters, plain text (not HTML); may hold newlines"},
        ],
        "retractions": "an entry retracted by the reviewers (for instance because she "
        "withdrew her consent) is removed from every file",
    }  # fmt: skip


# -- the map's own documents (/data/map.json, /data/map-ids.json) --------------------------

#: Version of /data/map.json's and /data/map-ids.json's layout (public_map/static/README.md
#: describes it); a change a reader of an older version would misread gets a new number.
#: 2: the ids moved to map-ids.json, entries in place order (1: ids in map.json, id order).
MAP_FORMAT = 2
MAP_COLUMNS = ("point", "types", "district", "month", "service", "perpetrator", "story")
ID_HEX = 32


def _map_table(conn: sqlite3.Connection) -> tuple[dict[str, Any], list[str]]:
    """map.json's document (without format and sequence) and the ids, in one order:
    entries sorted by their columns' values (district, point, month, types, service,
    perpetrator, story), then id. Neighbours then share values, so each column is long
    runs that gzip squeezes (in id order, which is random, they do not); the order says
    nothing an entry's own values do not already say."""
    types = [c.code for c in taxonomy.HARASSMENT_TYPES]
    districts = [d.code for d in geo.load_districts()] + [geo.ONLINE]
    services = [c.code for c in taxonomy.SERVICES]
    perpetrators = [c.code for c in taxonomy.PERPETRATOR_TYPES]
    type_bit = {code: 1 << n for n, code in enumerate(types)}
    masks: dict[str, int] = {}
    for entry_id, code in conn.execute("SELECT entry_id, type FROM entry_types"):
        masks[entry_id] = masks.get(entry_id, 0) | type_bit.get(code, 0)
    months = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT month FROM entries WHERE month IS NOT NULL ORDER BY month"
        )
    ]
    month_at = {m: n for n, m in enumerate(months)}
    district_at = {c: n for n, c in enumerate(districts)}
    service_at = {c: n for n, c in enumerate(services)}
    perpetrator_at = {c: n for n, c in enumerate(perpetrators)}
    # Points are numbered in (lat, lon) order, so sorting by the index sorts by place.
    places = sorted(
        {
            (r[0], r[1])
            for r in conn.execute("SELECT lat_e6, lon_e6 FROM entries WHERE point_kind IS NOT NULL")
        }
    )
    point_at = {key: n for n, key in enumerate(places)}
    rows: list[tuple[int, int, int, int, int, int, int, str]] = []
    for row in conn.execute(
        "SELECT id, district, point_kind, lat_e6, lon_e6, month, service, perpetrator,"
        " story IS NOT NULL FROM entries"
    ):
        if len(row[0]) != ID_HEX:  # the bundle reader allows nothing else
            raise ValueError("an entry id is not 32 hex digits")
        rows.append(
            (
                district_at.get(row[1], -1),
                point_at[(row[3], row[4])] if row[2] is not None else -1,
                month_at.get(row[5], -1),
                masks.get(row[0], 0),
                service_at.get(row[6], -1),
                perpetrator_at.get(row[7], -1),
                int(row[8]),
                row[0],
            )
        )
    rows.sort()
    columns = {
        "point": [r[1] for r in rows],
        "types": [r[3] for r in rows],
        "district": [r[0] for r in rows],
        "month": [r[2] for r in rows],
        "service": [r[4] for r in rows],
        "perpetrator": [r[5] for r in rows],
        "story": [r[6] for r in rows],
    }
    doc = {
        "count": len(rows),
        "licence": ENTRIES_LICENCE,
        "types": types,
        "districts": districts,
        "months": months,
        "services": services,
        "perpetrators": perpetrators,
        "points": [list(p) for p in places],
        "columns": columns,
    }
    return doc, [r[7] for r in rows]


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def map_documents(conn: sqlite3.Connection, sequence: int | None = None) -> tuple[str, str]:
    """``map.json`` and ``map-ids.json`` from one table (so from one read, in one order):
    the two always agree for a sequence.

    ``map.json``: every entry, compactly, for the map page to filter, count and cluster
    in the browser (no id, no summary, no story text). Column by column: each column an
    array of small numbers, -1 for "none": the point as an index into ``points``
    (``[lat_e6, lon_e6]``, each place once, sorted), the types as a bit mask over
    ``types``, indexes into ``districts``, ``months`` (sorted, so a period is a range of
    indexes), ``services`` and ``perpetrators``, and 1 if the entry has a story.

    ``map-ids.json``: the ids of map.json's entries (32 hex digits each), in map.json's
    order, in one string: entry *i* is ``ids[32*i : 32*i+32]``. Random, so
    incompressible (16 bytes an entry gzipped): the map page fetches them only when a
    popup needs a link."""
    doc, ids = _map_table(conn)
    return (
        _dump({"format": MAP_FORMAT, "sequence": sequence, **doc}),
        _dump({"format": MAP_FORMAT, "sequence": sequence, "count": len(ids),
               "ids": "".join(ids)}),
    )  # fmt: skip


def map_document(conn: sqlite3.Connection, sequence: int | None = None) -> str:
    """``map.json`` alone (see :func:`map_documents`)."""
    return map_documents(conn, sequence)[0]


def map_ids_document(conn: sqlite3.Connection, sequence: int | None = None) -> str:
    """``map-ids.json`` alone (see :func:`map_documents`)."""
    return map_documents(conn, sequence)[1]


# -- one copy of every data file per chain sequence ---------------------------------------

_JSON_TYPE = "application/json; charset=utf-8"
#: name -> content type; every file is served at /data/<name> and written there by
#: ``sesim map build``.
DATA_FILES = {
    "map.json": _JSON_TYPE,
    "map-ids.json": _JSON_TYPE,
    "entries.json": _JSON_TYPE,
    "entries.csv": "text/csv; charset=utf-8",
    "entries.geojson": "application/geo+json",
    "dictionary.json": _JSON_TYPE,
}


@dataclass(frozen=True)
class Cached:
    """One data file as of one chain sequence: its bytes, the same gzipped (level 9, no
    time or name in the header, so the same bytes every time), and a strong ETag per
    representation."""

    name: str
    sequence: int
    body: bytes
    gzip: bytes
    etag: str  # of ``body``, quoted
    gzip_etag: str  # of ``gzip``, quoted
    content_type: str


#: Files made together, from one read (one snapshot) of the database: map.json and
#: map-ids.json always agree; the open data's three files share one ``entries()``.
GROUPS = {
    "map": ("map.json", "map-ids.json"),
    "entries": ("entries.json", "entries.csv", "entries.geojson"),
    "dictionary": ("dictionary.json",),
}
GROUP_OF = {name: group for group, names in GROUPS.items() for name in names}


def _build(conn: sqlite3.Connection, group: str, sequence: int) -> dict[str, str]:
    """Every file of ``group`` (a key of GROUPS), by name."""
    if group == "map":
        return dict(zip(GROUPS["map"], map_documents(conn, sequence), strict=True))
    if group == "dictionary":
        return {"dictionary.json": json.dumps(dictionary(), ensure_ascii=False,
                                              allow_nan=False, separators=(",", ":"))}  # fmt: skip
    rows = entries(conn)
    return {"entries.json": to_json(rows), "entries.csv": to_csv(rows),
            "entries.geojson": to_geojson(rows)}  # fmt: skip


class _Files:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards ``files`` and ``newest``
        self.files: dict[str, Cached] = {}
        self.newest = 0  # the newest sequence any request has seen
        self.building: dict[str, threading.Lock] = {group: threading.Lock() for group in GROUPS}

    def seen(self, sequence: int) -> None:
        """A request saw ``sequence``: if it is new, every file of an older sequence goes
        at once (a retracted entry must not stay in memory until its own file is asked
        for again). Call with ``lock`` held."""
        if sequence > self.newest:
            self.newest = sequence
            self.files = {k: v for k, v in self.files.items() if v.sequence >= sequence}


_CACHES: dict[tuple[str, str], _Files] = {}
_CACHES_LOCK = threading.Lock()


def _files(db_path: Path, verify_key_text: str) -> _Files:
    key = (str(db_path), verify_key_text)
    with _CACHES_LOCK:
        found = _CACHES.get(key)
        if found is None:
            found = _CACHES[key] = _Files()
        return found


def _sequence(conn: sqlite3.Connection, verify_key_text: str) -> int:
    return store.chain_state(conn, verify_key_text).last_sequence


def cached(instance: MapInstance, name: str) -> Cached:
    """The data file ``name`` (a key of DATA_FILES) as of the map's last bundle: made once
    per chain sequence and kept in memory (one copy per file; thread-safe: a second
    request for a file being made waits for it). ``sesim map build`` writes these same
    bytes. ``dictionary.json`` needs an app context (its labels are translated)."""
    if name not in DATA_FILES:
        raise KeyError(name)
    files = _files(instance.db_path, instance.verify_key_text)
    group = GROUP_OF[name]
    conn = store.connect(instance.db_path)
    try:
        sequence = _sequence(conn, instance.verify_key_text)
        with files.lock:
            files.seen(sequence)
            found = files.files.get(name)
        if found is not None and found.sequence == sequence:
            return found
        with files.building[group]:
            with files.lock:
                found = files.files.get(name)
            # Read the data and its sequence in one read transaction (a snapshot): a
            # bundle applied meanwhile cannot be labelled with the sequence before it.
            conn.execute("BEGIN")
            try:
                sequence = _sequence(conn, instance.verify_key_text)
                if found is not None and found.sequence == sequence:
                    return found
                texts = _build(conn, group, sequence)
            finally:
                conn.execute("COMMIT")
            made = {key: _cached(key, sequence, text) for key, text in texts.items()}
            with files.lock:
                files.seen(sequence)
                for key, item in made.items():
                    current = files.files.get(key)
                    if current is None or current.sequence <= sequence:
                        files.files[key] = item
            return made[name]
    finally:
        conn.close()


def seen_sequence(instance: MapInstance, sequence: int) -> None:
    """Tell the data cache that ``sequence`` is current (for another per-sequence cache,
    e.g. the statistics, that reads the sequence anyway): the files of older sequences
    are dropped at once. :func:`cached` does this itself on every call."""
    files = _files(instance.db_path, instance.verify_key_text)
    with files.lock:
        files.seen(sequence)


def _cached(name: str, sequence: int, text: str) -> Cached:
    body = text.encode("utf-8")
    packed = gzip.compress(body, compresslevel=9, mtime=0)
    return Cached(
        name=name,
        sequence=sequence,
        body=body,
        gzip=packed,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        gzip_etag='"' + hashlib.sha256(packed).hexdigest()[:32] + '-gz"',
        content_type=DATA_FILES[name],
    )


#: What the map page fetches: made ahead by ``warm`` (one group: one call makes both).
MAP_FILES = ("map.json",)


def warm(instance: MapInstance, names: tuple[str, ...] = MAP_FILES) -> None:
    """Make ``names`` for the current sequence now (after a bundle, in a background
    thread): a failure here is only a missed head start, the next request makes it."""
    for name in names:
        try:
            cached(instance, name)
        except Exception:  # noqa: BLE001, S110 - best effort; the request path reports errors
            pass
