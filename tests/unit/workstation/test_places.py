"""Coarsening: a published point is a grid centre inside the district, never her place."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from journalist_interface.workstation import places
from securedrop_like import geo, grid

SHAPES = grid.district_shapes()
CODES = sorted(SHAPES)
CELLS = {code: sorted(SHAPES[code].cells()) for code in CODES}


@st.composite
def place_in_a_district(draw: st.DrawFn) -> tuple[str, int, int]:
    """A district and a point inside it (drawn in its bounding box until one falls in)."""
    code = draw(st.sampled_from(CODES))
    shape = SHAPES[code]
    lat = draw(st.integers(shape.south, shape.north))
    lon = draw(st.integers(shape.west, shape.east))
    if not shape.contains(lat, lon):
        # Fall back to a point near one of its cell centres, which is inside.
        row, col = draw(st.sampled_from(CELLS[code]))
        c_lat, c_lon = grid.cell_centre(row, col)
        lat = c_lat + draw(st.integers(-grid.CELL_LAT_E6 // 2, grid.CELL_LAT_E6 // 2 - 1))
        lon = c_lon + draw(st.integers(-grid.CELL_LON_E6 // 2, grid.CELL_LON_E6 // 2 - 1))
        assume(shape.contains(lat, lon))
    return code, lat, lon


@settings(max_examples=150, deadline=None)
@given(place_in_a_district())
def test_coarse_point_properties(place: tuple[str, int, int]) -> None:
    code, lat, lon = place
    published = places.coarse_point_e6(code, lat, lon)
    assert grid.is_cell_centre(*published)
    assert grid.district_contains(code, *published)
    own_centre = grid.cell_centre(*grid.cell_of(lat, lon))
    if published == own_centre:
        # In her cell: at most half a cell diagonal away.
        assert grid.distance_m((lat, lon), published) <= 360
    else:
        # Moved because her cell's centre is outside the district: to the nearest
        # centre that is inside (none of her cell's neighbours inside is nearer).
        assert not grid.district_contains(code, *own_centre)
        for d_row in (-1, 0, 1):
            for d_col in (-1, 0, 1):
                row, col = grid.cell_of(*own_centre)
                other = grid.cell_centre(row + d_row, col + d_col)
                if grid.district_contains(code, *other):
                    assert grid.distance_m((lat, lon), published) <= grid.distance_m(
                        (lat, lon), other
                    )
    # Never the exact place, unless she stood exactly on a centre (which then says nothing
    # more than the cell does).
    assert published != (lat, lon) or grid.is_cell_centre(lat, lon)
    # Deterministic, and the float interface agrees.
    assert places.coarse_point_e6(code, lat, lon) == published
    as_float = places.coarse_point(code, grid.from_e6(lat), grid.from_e6(lon))
    assert (grid.to_e6(as_float[0]), grid.to_e6(as_float[1])) == published


@settings(max_examples=50, deadline=None)
@given(place_in_a_district())
def test_without_a_district_the_point_s_own_district_is_used(
    place: tuple[str, int, int],
) -> None:
    _code, lat, lon = place
    published = places.coarse_point_e6(None, lat, lon)
    assert grid.district_contains(grid.district_at(lat, lon) or "", *published)


def test_every_district_has_a_representative_point_inside_it() -> None:
    assert len(CODES) == geo.DISTRICT_COUNT
    for code in CODES:
        lat, lon = places.district_point(code)
        point = grid.to_e6(lat), grid.to_e6(lon)
        assert grid.is_cell_centre(*point)
        assert grid.district_contains(code, *point)
        assert places.district_point(code) == (lat, lon)


def test_a_crescent_district_gets_a_point_inside_even_if_its_centroid_is_not() -> None:
    # Whatever the shape: the answer is always a centre inside, checked for all twelve.
    for code in CODES:
        assert grid.district_contains(code, *places.district_point_e6(code))


def test_refusals() -> None:
    with pytest.raises(places.PlaceError):
        places.coarse_point(geo.ONLINE, 40.4, 49.85)
    with pytest.raises(places.PlaceError):
        places.coarse_point(None, 41.5, 47.0)  # far outside Baku
    with pytest.raises(places.PlaceError):
        places.coarse_point("atlantis", 40.4, 49.85)
    with pytest.raises(places.PlaceError):
        places.station_point("osm-node-1")


def test_metro_stations_are_in_their_districts() -> None:
    stations = places.metro_stations()
    assert len(stations) == 20
    assert {line for s in stations for line in s.lines} == {"1", "2"}
    for station in stations:
        assert grid.district_contains(station.district, *station.point)
        assert station in places.metro_stations(station.district)
    assert places.station_point(stations[0].code) == stations[0]


def test_the_grid_is_500_metres() -> None:
    a = grid.cell_centre(100, 100)
    assert 495 <= grid.distance_m(a, grid.cell_centre(101, 100)) <= 505
    assert 495 <= grid.distance_m(a, grid.cell_centre(100, 101)) <= 505
    assert grid.cell_of(*a) == (100, 100)


def test_a_place_far_outside_the_given_district_is_refused() -> None:
    deep_in_karadag = places.district_point_e6("karadag")
    with pytest.raises(places.PlaceError, match="not in district 'sabail'"):
        places.coarse_point_e6("sabail", *deep_in_karadag)


def test_a_place_just_across_the_edge_is_moved_in() -> None:
    moved = 0
    for code in ("sabail", "nasimi", "yasamal"):
        inside = set(CELLS[code])
        for row, col in sorted(inside):
            outside = (row, col + 1)
            if outside in inside:
                continue
            point = grid.cell_centre(*outside)
            if grid.district_contains(code, *point):
                continue
            published = places.coarse_point_e6(code, *point)
            assert grid.district_contains(code, *published)
            assert grid.distance_m(point, published) <= places.MAX_OUTSIDE_M
            moved += 1
    assert moved > 10
