"""Write the public map's offline basemap from the core's geographic data (``make basemap``).

Reads ``securedrop_like/data/geo/baku_raions.geojson`` and
``baku_metro_lines_osm2016.geojson`` and writes, into
``public_map/static/basemap/``:

- ``districts.geojson``: the 12 districts, coordinates rounded to 5 decimals
  (about 1 m, far finer than the boundaries' own accuracy), properties
  ``code`` (as in :mod:`securedrop_like.geo`), ``name_az``, ``name_ru``,
  ``name_en`` only;
- ``metro.geojson``: the metro lines (``line``, ``colour``) and the stations
  :func:`securedrop_like.grid.metro_stations` accepts (``code``, ``lines``,
  ``district``), same rounding;
- ``attribution.json``: the attribution lines the page must show (ODbL).

The output is deterministic (sorted keys, compact separators, trailing
newline), so re-running the script gives the same bytes; a test checks that.

Usage: python scripts/map/basemap.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from securedrop_like import geo, grid

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "public_map" / "static" / "basemap"
DECIMALS = 5
LICENCE = "Open Database License 1.0 (ODbL), https://opendatacommons.org/licenses/odbl/1-0/"

Position = list[float]


def _point(position: list[float]) -> Position:
    # round() then +0.0 turns -0.0 into 0.0, so output never depends on sign of zero.
    return [round(float(position[0]), DECIMALS) + 0.0, round(float(position[1]), DECIMALS) + 0.0]


def _line(positions: list[list[float]]) -> list[Position]:
    """Rounded positions with consecutive duplicates (made by rounding) dropped."""
    out: list[Position] = []
    for position in positions:
        point = _point(position)
        if not out or out[-1] != point:
            out.append(point)
    return out


def _ring(positions: list[list[float]]) -> list[Position] | None:
    ring = _line(positions)
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring if len(ring) >= 4 else None


def _polygon(rings: list[list[list[float]]]) -> list[list[Position]] | None:
    rounded = [_ring(ring) for ring in rings]
    if rounded[0] is None:
        return None
    return [ring for ring in rounded if ring is not None]


def district_geometry(geometry: dict[str, Any]) -> dict[str, Any]:
    if geometry["type"] == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        raise RuntimeError(f"unexpected district geometry {geometry['type']}")
    kept = [p for p in (_polygon(polygon) for polygon in polygons) if p is not None]
    if not kept:
        raise RuntimeError("a district vanished when rounded")
    return {"type": "MultiPolygon", "coordinates": kept}


def districts() -> dict[str, Any]:
    source = json.loads(geo.GEOJSON_PATH.read_text(encoding="utf-8"))
    by_english = {district.name_en: district for district in geo.load_districts()}
    features: list[dict[str, Any]] = []
    for feature in source["features"]:
        district = by_english[str(feature["properties"]["name_en"]).strip()]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": district.code,
                    "name_az": district.name_az,
                    "name_ru": district.name_ru,
                    "name_en": district.name_en,
                },
                "geometry": district_geometry(feature["geometry"]),
            }
        )
    features.sort(key=lambda f: f["properties"]["code"])
    return {"type": "FeatureCollection", "attribution": geo.ATTRIBUTION, "features": features}


def metro() -> dict[str, Any]:
    source = json.loads(grid.METRO_PATH.read_text(encoding="utf-8"))
    features: list[dict[str, Any]] = []
    for feature in source["features"]:
        geometry, props = feature["geometry"], feature["properties"]
        if geometry["type"] != "LineString":
            continue
        routes = [
            r["reltags"] for r in props.get("@relations", []) if r.get("reltags", {}).get("ref")
        ]
        if not routes:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "line": str(routes[0]["ref"]),
                    "colour": str(routes[0].get("colour", "")),
                },
                "geometry": {"type": "LineString", "coordinates": _line(geometry["coordinates"])},
            }
        )
    features.sort(key=lambda f: (f["properties"]["line"], f["geometry"]["coordinates"]))
    for station in grid.metro_stations():
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": station.code,
                    "lines": list(station.lines),
                    "district": station.district,
                },
                "geometry": {
                    "type": "Point",
                    "coordinates": _point([station.lon_e6 / 1e6, station.lat_e6 / 1e6]),
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "attribution": grid.METRO_ATTRIBUTION,
        "features": features,
    }


def attribution() -> dict[str, Any]:
    return {
        "districts": {"text": geo.ATTRIBUTION, "licence": LICENCE, "file": "districts.geojson"},
        "metro": {"text": grid.METRO_ATTRIBUTION, "licence": LICENCE, "file": "metro.geojson"},
        "source": (
            "securedrop_like/data/geo/ (see its README.md);"
            " rounded to 5 decimals by scripts/map/basemap.py"
        ),
    }


def dumps(data: dict[str, Any]) -> bytes:
    return (
        json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    ).encode("utf-8")


def pretty(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")


def outputs() -> dict[str, bytes]:
    """File name -> exact bytes the script writes."""
    return {
        "districts.geojson": dumps(districts()),
        "metro.geojson": dumps(metro()),
        "attribution.json": pretty(attribution()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in outputs().items():
        (args.out / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
