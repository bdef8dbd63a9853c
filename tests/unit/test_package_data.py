"""The wheel the servers install (`make dist`, ansible's sesim_* roles) must hold every
file the code reads at run time: setup.cfg's package_data globs, applied the way
setuptools applies them (relative to each package's folder), cover every template, SQL
schema, static file, data file and catalogue in the source tree. The public map's
templates/map/ and the workstation's schema/ were once left out."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Folders whose files the code reads at run time, wherever they sit in a package.
RUNTIME_FOLDERS = {"templates", "schema", "migrations", "static", "data", "translations"}
SKIP_SUFFIXES = {".py", ".pyc", ".po"}


def _packages() -> list[Path]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    tops = [
        line.strip().removesuffix(".*")
        for line in config["options.packages.find"]["include"].splitlines()
        if line.strip()
    ]
    found: list[Path] = []
    for top in sorted(set(tops)):
        found += [p.parent for p in (ROOT / top).rglob("__init__.py") if "tests" not in p.parts]
    return found


def _patterns() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    return [p.strip() for p in config["options.package_data"]["*"].split(",") if p.strip()]


def test_package_data_covers_every_runtime_file() -> None:
    packages = _packages()
    assert ROOT / "public_map" in packages and ROOT / "sesim" in packages
    shipped: set[Path] = set()
    for package in packages:
        for pattern in _patterns():
            shipped.update(p for p in package.glob(pattern) if p.is_file())
    needed = {
        path
        for package in packages
        for folder in RUNTIME_FOLDERS
        if (package / folder).is_dir()
        for path in (package / folder).rglob("*")
        if path.is_file()
        and path.suffix not in SKIP_SUFFIXES
        and "__pycache__" not in path.parts
        and not any(
            (parent / "__init__.py").is_file()
            for parent in path.parents
            if parent != package and package in parent.parents
        )  # fmt: skip
    }
    assert ROOT / "public_map" / "templates" / "map" / "error.html" in needed
    missing = sorted(str(p.relative_to(ROOT)) for p in needed - shipped)
    assert not missing, f"setup.cfg's package_data leaves out: {missing[:20]}"
