"""The open data: every published, non-retracted entry as JSON, CSV and GeoJSON, and the
data dictionary. Texts are written as they are, escaped only by each format's own rules
(JSON string escapes, CSV quoting): the format makes no HTML promise, and neither does
open data. Columns are always in ``COLUMNS`` order; entries in id order.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from typing import Any

from flask_babel import force_locale

from securedrop_like import geo, grid, taxonomy
from securedrop_like.bundles.publication import MAX_STORY_CHARS, MAX_SUMMARY_CHARS

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
