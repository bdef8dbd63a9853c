"""Where a published entry is put on the map: never where she said it happened.

A published point is one of two things (``securedrop_like/grid.py`` defines both, so the
public map can check them):

- the centre of the ~500 m grid cell holding the place the reviewer marked, moved to the
  nearest cell centre *inside the district* when that centre falls outside it (a cell on
  a district's edge, or over the sea);
- a metro station in the district, when the place was in or at the metro.

A report gives only a district (the form asks for no address; her landmark is free text
the reviewer reads), so :func:`district_point` gives a district's representative point: the
cell centre inside the district nearest to the district's centroid (never the centroid
itself, which for a crescent-shaped district can lie outside it). Every answer is
deterministic: the same input gives the same point, so re-publishing moves nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from securedrop_like import geo, grid
from securedrop_like.grid import Point, Station

from .keys import WorkstationError

__all__ = [
    "PlaceError",
    "Station",
    "coarse_point",
    "district_point",
    "metro_stations",
    "station_point",
]


# How far outside its district's polygon a marked place may be and still be moved into
# it (the polygons are schematic at street scale, the coast especially).
MAX_OUTSIDE_M = 1000.0


class PlaceError(WorkstationError):
    """No point can be published for this place (outside Baku, unknown district, …)."""


def _shape(code: str) -> grid.DistrictShape:
    shape = grid.district_shapes().get(code)
    if shape is None:
        raise PlaceError(f"Unknown district {code!r}: choose one of Baku's twelve districts.")
    return shape


def _ring(row: int, col: int, k: int) -> Iterator[tuple[int, int]]:
    """The cells at Chebyshev distance exactly ``k`` from (row, col)."""
    if k == 0:
        yield row, col
        return
    for c in range(col - k, col + k + 1):
        yield row - k, c
        yield row + k, c
    for r in range(row - k + 1, row + k):
        yield r, col - k
        yield r, col + k


def _nearest_centre_inside(
    shape: grid.DistrictShape, point: Point, *, max_ring: int = 1000
) -> Point | None:
    """The cell centre inside ``shape`` nearest to ``point`` (ties: lowest row, then col),
    looking at most ``max_ring`` cells away; None if there is none that near."""
    row, col = grid.cell_of(*point)
    best: tuple[float, int, int] | None = None
    for k in range(max_ring + 1):
        for r, c in _ring(row, col, k):
            centre = grid.cell_centre(r, c)
            if shape.contains(*centre):
                candidate = (grid.distance_m(point, centre), r, c)
                if best is None or candidate < best:
                    best = candidate
        # A centre k + 1 or more cells away is at least (k + 0.5) cells (> 498 m each)
        # from any point of the middle cell: stop once that is farther than the best.
        if best is not None and (k + 0.5) * 498.0 > best[0]:
            break
    return None if best is None else grid.cell_centre(best[1], best[2])


def coarse_point(district_code: str | None, lat: float, lon: float) -> tuple[float, float]:
    """The published (lat, lon) for a place marked at (lat, lon) in ``district_code``.

    The centre of the grid cell holding the place, or the nearest cell centre inside the
    district if that centre is outside it. Without a district, the district holding the
    place is used. Raises :class:`PlaceError` for a place outside every district, or for
    ``"online"``.
    """
    lat_e6, lon_e6 = coarse_point_e6(district_code, grid.to_e6(lat), grid.to_e6(lon))
    return grid.from_e6(lat_e6), grid.from_e6(lon_e6)


def coarse_point_e6(district_code: str | None, lat_e6: int, lon_e6: int) -> Point:
    """:func:`coarse_point` in integer microdegrees (what the bundle carries)."""
    if district_code == geo.ONLINE:
        raise PlaceError("Harassment online or by phone has no place on the map.")
    code = district_code or grid.district_at(lat_e6, lon_e6)
    if code is None:
        raise PlaceError("This place is outside Baku's districts: choose a district instead.")
    shape = _shape(code)
    centre = grid.cell_centre(*grid.cell_of(lat_e6, lon_e6))
    if shape.contains(*centre):
        return centre
    point = (lat_e6, lon_e6)
    if shape.contains(*point):
        found = _nearest_centre_inside(shape, point)
    else:
        # Outside the district's (schematic) polygon: only a place just across its edge
        # is moved in; anything farther is a mistaken district or place.
        found = _nearest_centre_inside(shape, point, max_ring=2)
        if found is not None and grid.distance_m(point, found) > MAX_OUTSIDE_M:
            found = None
    if found is None:
        raise PlaceError(
            f"This place is not in district {code!r}: check the district or the place."
        )
    return found


@functools.cache
def district_point_e6(district_code: str) -> Point:
    """A district's representative point: the cell centre inside it nearest its centroid."""
    shape = _shape(district_code)
    cells = list(shape.cells())
    if not cells:
        raise PlaceError(f"District {district_code!r} holds no grid cell centre.")
    # The centroid of the district's cell centres (an area-weighted centroid of the
    # district at grid resolution), then the nearest centre inside the district.
    centres = [grid.cell_centre(r, c) for r, c in cells]
    mean = (
        sum(p[0] for p in centres) // len(centres),
        sum(p[1] for p in centres) // len(centres),
    )
    found = _nearest_centre_inside(shape, mean)
    assert found is not None  # noqa: S101 - the district holds centres (checked above)
    return found


def district_point(district_code: str) -> tuple[float, float]:
    lat_e6, lon_e6 = district_point_e6(district_code)
    return grid.from_e6(lat_e6), grid.from_e6(lon_e6)


def metro_stations(district_code: str | None = None) -> tuple[Station, ...]:
    """The metro stations (all, or those in one district). The 2016 OpenStreetMap data
    names no station, so they are offered by line and place (code ``osm-node-…``)."""
    stations = grid.metro_stations()
    if district_code is None:
        return stations
    return tuple(s for s in stations if s.district == district_code)


def station_point(code: str) -> Station:
    try:
        return grid.station_by_code(code)
    except KeyError:
        raise PlaceError(f"Unknown metro station {code!r}.") from None
