"""The public map's vendored libraries: pinned, unchanged, licensed, fetching from nowhere else.

The map page promises that every request it makes goes to its own origin.
These tests read the vendored files where a browser would act on them: CSS
``url(...)`` values and absolute URLs in the JavaScript.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
VENDOR = ROOT / "public_map" / "static" / "vendor"
MANIFEST = VENDOR / "MANIFEST.txt"
LOCK = ROOT / "public_map" / "vendor-src" / "package-lock.json"

# Libraries the map may use, each in <name>-<version>/ with its licence file(s).
LICENCES = {
    "leaflet": ["LICENSE"],
    "leaflet.markercluster": ["MIT-LICENCE.txt"],
    "supercluster": ["LICENSE", "LICENSE-kdbush-{kdbush}"],
}
REQUIRED = {
    "leaflet": [
        "leaflet.js",
        "leaflet.css",
        "images/marker-icon.png",
        "images/marker-icon-2x.png",
        "images/marker-shadow.png",
        "images/layers.png",
        "images/layers-2x.png",
    ],
    "leaflet.markercluster": [
        "leaflet.markercluster.js",
        "MarkerCluster.css",
        "MarkerCluster.Default.css",
    ],
    "supercluster": ["supercluster.min.js"],
}
# Absolute URLs in the vendored JS that no browser fetches, each with why.
HARMLESS_URLS = {
    # XML namespace passed to createElementNS, never requested.
    "http://www.w3.org/2000/svg",
    # Leaflet's attribution prefix: a link, followed only if clicked. The page
    # sets attributionControl.setPrefix(...) so it is not shown (see static/README.md).
    "https://leafletjs.com",
}


def locked_versions() -> dict[str, str]:
    packages = json.loads(LOCK.read_text(encoding="utf-8"))["packages"]
    return {
        key.removeprefix("node_modules/"): value["version"]
        for key, value in packages.items()
        if key
    }


def manifest() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        assert re.fullmatch(r"[0-9a-f]{64}", digest), line
        assert name not in entries, f"listed twice: {name}"
        entries[name] = digest
    return entries


def vendored_files() -> list[Path]:
    return sorted(p for p in VENDOR.rglob("*") if p.is_file() and p != MANIFEST)


def folder(name: str) -> Path:
    return VENDOR / f"{name}-{locked_versions()[name]}"


def test_every_file_matches_the_manifest_and_nothing_is_unlisted() -> None:
    listed = manifest()
    on_disk = {p.relative_to(VENDOR).as_posix(): p for p in vendored_files()}
    assert sorted(on_disk) == sorted(listed)
    for name, path in on_disk.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed[name], f"{name} was changed"


def test_folders_are_the_pinned_versions() -> None:
    versions = locked_versions()
    expected = {f"{name}-{versions[name]}" for name in LICENCES}
    assert {p.name for p in VENDOR.iterdir() if p.is_dir()} == expected
    package = json.loads((LOCK.parent / "package.json").read_text(encoding="utf-8"))
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly: {version}"
        assert versions[name] == version


@pytest.mark.parametrize("name", sorted(LICENCES))
def test_licence_files_are_present(name: str) -> None:
    versions = locked_versions()
    for licence in LICENCES[name]:
        path = folder(name) / licence.format(
            **{k.replace(".", "_"): v for k, v in versions.items()}
        )
        text = path.read_text(encoding="utf-8")
        assert "copyright" in text.lower(), path
        assert "permission" in text.lower() or "redistribution" in text.lower(), path


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_the_files_the_page_needs_are_there(name: str) -> None:
    for file in REQUIRED[name]:
        assert (folder(name) / file).stat().st_size > 0, f"{name}: {file}"


def test_css_fetches_only_files_beside_it() -> None:
    sheets = list(VENDOR.rglob("*.css"))
    assert len(sheets) == 3
    for sheet in sheets:
        for target in re.findall(r"url\(\s*['\"]?([^'\")]*)", sheet.read_text(encoding="utf-8")):
            if target == "#default#VML":  # an old-IE behaviour name, not a request
                continue
            assert not re.match(r"^([a-z][a-z0-9+.-]*:|//|/)", target, re.I), (
                f"{sheet.name}: {target}"
            )
            assert (sheet.parent / target).is_file(), f"{sheet.name}: {target} is not vendored"
        assert "@import" not in sheet.read_text(encoding="utf-8")


def test_javascript_names_no_host_it_would_fetch() -> None:
    scripts = list(VENDOR.rglob("*.js"))
    assert len(scripts) == 3
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"'`)<>]*", text, re.I))
        # "//foo.bar" inside minified code can only be a URL; comments are stripped.
        unexpected = {u for u in urls if u.rstrip("/") not in HARMLESS_URLS}
        assert not unexpected, f"{script.name}: {sorted(unexpected)}"
        tiles = re.search(r"\{s\}\.|\{z\}/\{x\}/\{y\}|openstreetmap\.org|tile\.osm", text)
        assert not tiles, f"{script.name} names a tile server"


def test_source_maps_named_by_the_scripts_are_vendored() -> None:
    for script in VENDOR.rglob("*.js"):
        for target in re.findall(r"sourceMappingURL=(\S+)", script.read_text(encoding="utf-8")):
            assert "/" not in target and (script.parent / target).is_file(), (
                f"{script.name}: {target}"
            )
