"""The public map's places: a fixed ~500 m grid over Baku, the districts' polygons and the
metro stations, all in integer microdegrees so every reader computes the same answer.

Published entries never carry the place a woman gave. They carry either the centre of a
grid cell (``kind = "cell"``) or a metro station (``kind = "station"``), inside the entry's
district. This module defines both, for the workstation that chooses the point
(``journalist_interface/workstation/places.py``) and for every reader that checks it
(``securedrop_like/bundles/publication.py``, the public map).

**Coordinates** are integers in microdegrees (``lat_e6 = round(lat * 10**6)``), WGS 84.
A microdegree is about 0.1 m here, far finer than anything published.

**The grid** is an equirectangular grid at Baku's latitude, fixed in degrees so that it
needs no trigonometry (and no floating point) to check:

- origin (south-west corner of cell (0, 0)): 39.500000° N, 49.000000° E;
- a cell is :data:`CELL_LAT_E6` = 4,492 µ° of latitude (≈ 498.8 m) by
  :data:`CELL_LON_E6` = 5,898 µ° of longitude (≈ 500.1 m at 40.4° N, Baku's centre);
- cell (row, col) covers ``ORIGIN + row * CELL_LAT_E6 <= lat_e6 < … + CELL_LAT_E6`` and
  the same for longitude; its centre is the corner plus half a cell (2,246 µ° and 2,949 µ°,
  whole numbers because both sizes are even).

A point is at most half a cell diagonal (≈ 353 m) from the centre of its cell.

**Districts** are the twelve polygons of ``data/geo/baku_raions.geojson``
(:mod:`securedrop_like.geo`), rounded to microdegrees. A point is inside a district when a
ray cast towards the east crosses its rings an odd number of times (holes included), with
the half-open rule for vertices, in exact integer arithmetic.

**Metro stations** are the 20 station points (``role = stop`` members of the Line 1 and
Line 2 routes) of ``data/geo/baku_metro_lines_osm2016.geojson`` (OpenStreetMap, 2016). The
file names no station, so a station's code is its OpenStreetMap node id
(``osm-node-670198805``). Stations outside every district polygon (the coastline is
coarse) are left out, since an entry's point must lie inside its district.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import geo

ORIGIN_LAT_E6 = 39_500_000
ORIGIN_LON_E6 = 49_000_000
CELL_LAT_E6 = 4_492
CELL_LON_E6 = 5_898
_HALF_LAT = CELL_LAT_E6 // 2
_HALF_LON = CELL_LON_E6 // 2

# Metres per microdegree at Baku's latitude (40.4° N), for distances only (never for
# deciding what is published, which stays in integers).
_M_PER_E6_LAT = 0.111034
_M_PER_E6_LON = 0.111320 * math.cos(math.radians(40.4))

METRO_PATH = Path(__file__).parent / "data" / "geo" / "baku_metro_lines_osm2016.geojson"
METRO_ATTRIBUTION = "Metro © OpenStreetMap contributors (ODbL)"

Point = tuple[int, int]  # (lat_e6, lon_e6)


def to_e6(degrees: float) -> int:
    """Degrees to integer microdegrees (round half to even, as :func:`round` does)."""
    if not math.isfinite(degrees):
        raise ValueError("a coordinate must be a finite number")
    return round(degrees * 1_000_000)


def from_e6(value: int) -> float:
    return value / 1_000_000


def cell_of(lat_e6: int, lon_e6: int) -> tuple[int, int]:
    """The (row, col) of the cell holding this point."""
    return (lat_e6 - ORIGIN_LAT_E6) // CELL_LAT_E6, (lon_e6 - ORIGIN_LON_E6) // CELL_LON_E6


def cell_centre(row: int, col: int) -> Point:
    return (
        ORIGIN_LAT_E6 + row * CELL_LAT_E6 + _HALF_LAT,
        ORIGIN_LON_E6 + col * CELL_LON_E6 + _HALF_LON,
    )


def is_cell_centre(lat_e6: int, lon_e6: int) -> bool:
    return (lat_e6 - ORIGIN_LAT_E6 - _HALF_LAT) % CELL_LAT_E6 == 0 and (
        lon_e6 - ORIGIN_LON_E6 - _HALF_LON
    ) % CELL_LON_E6 == 0


def distance_m(a: Point, b: Point) -> float:
    """Approximate distance in metres (equirectangular at 40.4° N; good to ~1 % here)."""
    return math.hypot((a[0] - b[0]) * _M_PER_E6_LAT, (a[1] - b[1]) * _M_PER_E6_LON)


# -- districts -------------------------------------------------------------------------

Ring = tuple[Point, ...]


@dataclass(frozen=True)
class DistrictShape:
    code: str
    rings: tuple[Ring, ...]  # outer rings and holes alike: even-odd rule
    south: int
    west: int
    north: int
    east: int

    def contains(self, lat_e6: int, lon_e6: int) -> bool:
        if not (self.south <= lat_e6 <= self.north and self.west <= lon_e6 <= self.east):
            return False
        inside = False
        for ring in self.rings:
            if _ring_crossings(ring, lat_e6, lon_e6) % 2:
                inside = not inside
        return inside

    def cells(self) -> Iterator[tuple[int, int]]:
        """Every cell whose centre lies inside the district, row by row."""
        row0, col0 = cell_of(self.south, self.west)
        row1, col1 = cell_of(self.north, self.east)
        for row in range(row0, row1 + 1):
            for col in range(col0, col1 + 1):
                if self.contains(*cell_centre(row, col)):
                    yield row, col


def _ring_crossings(ring: Ring, y: int, x: int) -> int:
    """How many edges of ``ring`` a ray from (y, x) towards +x crosses (half-open in y)."""
    count = 0
    n = len(ring)
    for i in range(n):
        y1, x1 = ring[i]
        y2, x2 = ring[(i + 1) % n]
        if (y1 > y) == (y2 > y):
            continue
        # x of the edge at height y, compared exactly: x < x1 + (y - y1)(x2 - x1)/(y2 - y1)
        lhs = (x - x1) * (y2 - y1)
        rhs = (y - y1) * (x2 - x1)
        if (lhs < rhs) if y2 > y1 else (lhs > rhs):
            count += 1
    return count


def _rings(geometry: dict[str, Any]) -> list[Ring]:
    kind = geometry["type"]
    coordinates = geometry["coordinates"]
    polygons = coordinates if kind == "MultiPolygon" else [coordinates]
    rings: list[Ring] = []
    for polygon in polygons:
        for ring in polygon:
            points = tuple((to_e6(lat), to_e6(lon)) for lon, lat in ring)
            if points and points[0] == points[-1]:
                points = points[:-1]
            rings.append(points)
    return rings


@functools.cache
def district_shapes() -> dict[str, DistrictShape]:
    """The twelve districts' shapes by code (read once)."""
    data = json.loads(geo.GEOJSON_PATH.read_text(encoding="utf-8"))
    codes = {d.name_en: d.code for d in geo.load_districts()}
    shapes: dict[str, DistrictShape] = {}
    for feature in data["features"]:
        code = codes[str(feature["properties"]["name_en"]).strip()]
        rings = _rings(feature["geometry"])
        lats = [p[0] for ring in rings for p in ring]
        lons = [p[1] for ring in rings for p in ring]
        shapes[code] = DistrictShape(code, tuple(rings), min(lats), min(lons), max(lats), max(lons))
    return shapes


def district_at(lat_e6: int, lon_e6: int) -> str | None:
    """The code of the district holding this point, or None (the sea, outside Baku)."""
    for code, shape in sorted(district_shapes().items()):
        if shape.contains(lat_e6, lon_e6):
            return code
    return None


def district_contains(code: str, lat_e6: int, lon_e6: int) -> bool:
    shape = district_shapes().get(code)
    return shape is not None and shape.contains(lat_e6, lon_e6)


# -- metro stations ----------------------------------------------------------------------


@dataclass(frozen=True)
class Station:
    code: str  # "osm-node-<id>": the file names no station
    lines: tuple[str, ...]  # "1", "2"
    lat_e6: int
    lon_e6: int
    district: str

    @property
    def point(self) -> Point:
        return self.lat_e6, self.lon_e6


@functools.cache
def metro_stations() -> tuple[Station, ...]:
    """The metro stations inside a district, sorted by code."""
    data = json.loads(METRO_PATH.read_text(encoding="utf-8"))
    stations: list[Station] = []
    for feature in data["features"]:
        geometry, props = feature["geometry"], feature["properties"]
        relations = [r for r in props.get("@relations", []) if r.get("role") == "stop"]
        if geometry["type"] != "Point" or not relations:
            continue
        lon, lat = geometry["coordinates"]
        point = to_e6(lat), to_e6(lon)
        district = district_at(*point)
        if district is None:
            continue
        lines = tuple(sorted({str(r["reltags"]["ref"]) for r in relations}))
        node = str(props["@id"]).removeprefix("node/")
        stations.append(Station(f"osm-node-{node}", lines, *point, district))
    return tuple(sorted(stations, key=lambda s: s.code))


def station_by_code(code: str) -> Station:
    for station in metro_stations():
        if station.code == code:
            return station
    raise KeyError(code)


def station_at(lat_e6: int, lon_e6: int) -> Station | None:
    for station in metro_stations():
        if station.point == (lat_e6, lon_e6):
            return station
    return None
