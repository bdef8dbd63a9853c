"""The public map's offline basemap: 12 valid districts, deterministic, coded as the core."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from securedrop_like import geo, grid

ROOT = Path(__file__).resolve().parents[3]
BASEMAP = ROOT / "public_map" / "static" / "basemap"
# Generous box around Baku's land districts (lon, lat).
LON, LAT = (49.1, 50.7), (39.5, 40.8)


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "basemap", ROOT / "scripts" / "map" / "basemap.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((BASEMAP / name).read_text(encoding="utf-8"))
    return data


def check_position(position: list[float]) -> None:
    assert len(position) == 2 and all(isinstance(v, float | int) for v in position)
    lon, lat = position
    assert LON[0] < lon < LON[1] and LAT[0] < lat < LAT[1], position
    for value in position:
        assert re.fullmatch(r"-?\d+(\.\d{1,5})?", repr(value)), f"more than 5 decimals: {value}"


def test_regenerating_gives_the_committed_bytes(tmp_path: Path) -> None:
    module = script()
    assert module.main(["--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["attribution.json", "districts.geojson", "metro.geojson"]
    for name in written:
        assert (tmp_path / name).read_bytes() == (BASEMAP / name).read_bytes(), (
            f"{name} is stale: run make basemap"
        )


def test_twelve_valid_districts_with_the_cores_codes_and_names() -> None:
    data = load("districts.geojson")
    assert data["type"] == "FeatureCollection"
    features = data["features"]
    assert len(features) == geo.DISTRICT_COUNT == 12
    by_code = {d.code: d for d in geo.load_districts()}
    assert (
        {f["properties"]["code"] for f in features}
        == set(by_code)
        == geo.location_codes() - {geo.ONLINE}
    )
    for feature in features:
        props = feature["properties"]
        assert feature["type"] == "Feature"
        assert set(props) == {"code", "name_az", "name_ru", "name_en"}
        district = by_code[props["code"]]
        assert (props["name_az"], props["name_ru"], props["name_en"]) == (
            district.name_az,
            district.name_ru,
            district.name_en,
        )
        geometry = feature["geometry"]
        assert geometry["type"] == "MultiPolygon" and geometry["coordinates"]
        for polygon in geometry["coordinates"]:
            assert polygon
            for ring in polygon:
                assert len(ring) >= 4 and ring[0] == ring[-1]
                for position in ring:
                    check_position(position)


def test_the_districts_still_contain_the_points_the_core_puts_in_them() -> None:
    """Rounding to 5 decimals (~1 m) moves no station across a district boundary."""
    shapes = {
        f["properties"]["code"]: f["geometry"]["coordinates"]
        for f in load("districts.geojson")["features"]
    }

    def inside(lon: float, lat: float, polygons: list[list[list[list[float]]]]) -> bool:
        crossings = 0
        for polygon in polygons:
            for ring in polygon:
                for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
                    if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                        crossings += 1
        return crossings % 2 == 1

    stations = grid.metro_stations()
    assert stations
    for station in stations:
        lon, lat = station.lon_e6 / 1e6, station.lat_e6 / 1e6
        assert inside(lon, lat, shapes[station.district]), station.code


def test_metro_lines_and_stations() -> None:
    data = load("metro.geojson")
    lines = [f for f in data["features"] if f["geometry"]["type"] == "LineString"]
    points = [f for f in data["features"] if f["geometry"]["type"] == "Point"]
    assert len(lines) == 7 and {f["properties"]["line"] for f in lines} == {"1", "2"}
    assert [f["properties"]["code"] for f in points] == [s.code for s in grid.metro_stations()]
    for feature in lines:
        assert len(feature["geometry"]["coordinates"]) >= 2
        for position in feature["geometry"]["coordinates"]:
            check_position(position)
    for feature in points:
        check_position(feature["geometry"]["coordinates"])
        assert feature["properties"]["district"] in geo.location_codes()


@pytest.mark.parametrize("name", ["districts.geojson", "metro.geojson"])
def test_no_source_property_leaks_into_the_basemap(name: str) -> None:
    text = (BASEMAP / name).read_text(encoding="utf-8")
    for key in ("@relations", "@id", "wikidata", "source", "http"):
        assert key not in text, f"{name} carries {key}"


def test_attribution_is_beside_the_data() -> None:
    attribution = load("attribution.json")
    assert attribution["districts"]["text"] == geo.ATTRIBUTION
    assert attribution["metro"]["text"] == grid.METRO_ATTRIBUTION
    assert load("districts.geojson")["attribution"] == geo.ATTRIBUTION
    assert load("metro.geojson")["attribution"] == grid.METRO_ATTRIBUTION
    assert "ODbL" in attribution["districts"]["licence"]
