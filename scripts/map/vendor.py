"""Refresh the map's vendored browser libraries from npm (``make vendor-map``).

Installs the exact versions pinned in ``public_map/vendor-src/package.json``
and ``package-lock.json`` with ``npm ci`` (integrity-checked), copies the files
the map page needs, unchanged, into ``public_map/static/vendor/<name>-<version>/``
with their licence files, and writes ``public_map/static/vendor/MANIFEST.txt``
(``sha256sum`` format). The copies are committed, so running the site needs no
npm; only this script does. To move to a new version: edit package.json, run
``npm install --package-lock-only`` in vendor-src, then ``make vendor-map``,
read the diff and run ``tests/unit/public_map/test_vendor.py``.

Usage: python scripts/map/vendor.py [--no-install]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "public_map" / "vendor-src"
VENDOR = ROOT / "public_map" / "static" / "vendor"
MANIFEST = VENDOR / "MANIFEST.txt"

# npm package -> files to copy (path in the package -> path in the vendor folder).
# Licence files are listed in LICENCES too, so the test can insist on them.
FILES: dict[str, dict[str, str]] = {
    "leaflet": {
        "LICENSE": "LICENSE",
        "dist/leaflet.js": "leaflet.js",
        "dist/leaflet.js.map": "leaflet.js.map",
        "dist/leaflet.css": "leaflet.css",
        "dist/images/layers.png": "images/layers.png",
        "dist/images/layers-2x.png": "images/layers-2x.png",
        "dist/images/marker-icon.png": "images/marker-icon.png",
        "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
        "dist/images/marker-shadow.png": "images/marker-shadow.png",
    },
    "leaflet.markercluster": {
        "MIT-LICENCE.txt": "MIT-LICENCE.txt",
        "dist/leaflet.markercluster.js": "leaflet.markercluster.js",
        "dist/leaflet.markercluster.js.map": "leaflet.markercluster.js.map",
        "dist/MarkerCluster.css": "MarkerCluster.css",
        "dist/MarkerCluster.Default.css": "MarkerCluster.Default.css",
    },
    "supercluster": {
        "LICENSE": "LICENSE",
        "dist/supercluster.min.js": "supercluster.min.js",
    },
    # supercluster's dist bundle includes kdbush; its licence travels with it.
    "kdbush": {"LICENSE": "LICENSE-kdbush-{version}"},
}
BUNDLED_INTO = {"kdbush": "supercluster"}


def package_version(name: str) -> str:
    data = json.loads((SRC / "node_modules" / name / "package.json").read_text(encoding="utf-8"))
    return str(data["version"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-install", action="store_true", help="use vendor-src/node_modules as is"
    )
    args = parser.parse_args(argv)
    if not args.no_install:
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("npm is needed to refresh the vendored files (apt-get install npm)")
        command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--silent"]
        subprocess.run(command, cwd=SRC, check=True)  # noqa: S603 - fixed arguments
    versions = {name: package_version(name) for name in FILES}
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for name, files in FILES.items():
        owner = BUNDLED_INTO.get(name, name)
        folder = VENDOR / f"{owner}-{versions[owner]}"
        for source, target in files.items():
            destination = folder / target.format(version=versions[name])
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SRC / "node_modules" / name / source, destination)
    lines = [
        f"{sha256(path)}  {path.relative_to(VENDOR).as_posix()}"
        for path in sorted(VENDOR.rglob("*"))
        if path.is_file()
    ]
    MANIFEST.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name in sorted(versions):
        print(f"{name} {versions[name]}")
    print(f"{len(lines)} files; manifest: {MANIFEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
