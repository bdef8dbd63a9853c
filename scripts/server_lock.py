"""Print requirements-server.lock: the runtime subset of requirements.lock.

The server's virtualenv holds only what ``sesim`` needs to run: setup.cfg's
``install_requires`` and everything they pull in, with requirements.lock's pins
(nothing of the test and development tools). The dependencies are read from
the metadata of the packages installed in the Python that runs this script, so
run it with a virtualenv made from requirements.lock (``make lock`` does).

    python scripts/server_lock.py > requirements-server.lock
"""

from __future__ import annotations

import configparser
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "# The server's runtime dependencies: setup.cfg's install_requires and what they pull in,\n"
    "# with requirements.lock's pins. Made by `make lock` (scripts/server_lock.py); `make dist`\n"
    "# downloads these wheels into dist/wheelhouse/ for the ansible role.\n"
)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_requires(setup_cfg: Path = ROOT / "setup.cfg") -> list[Requirement]:
    parser = configparser.ConfigParser()
    parser.read(setup_cfg, encoding="utf-8")
    lines = parser["options"]["install_requires"].strip().splitlines()
    return [Requirement(line.strip()) for line in lines if line.strip()]


def lock_pins(lock: Path = ROOT / "requirements.lock") -> dict[str, tuple[str, str]]:
    """canonical name -> (name as written, version) for every ``name==version`` line."""
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonical(name)] = (name.strip(), version.strip())
    return pins


def closure(roots: list[Requirement]) -> set[str]:
    """The canonical names of ``roots`` and of every dependency they pull in on this
    Python (markers evaluated, no extras), from the installed packages' metadata."""
    seen: set[str] = set()
    todo = [r for r in roots if r.marker is None or r.marker.evaluate()]
    while todo:
        req = todo.pop()
        name = canonical(req.name)
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(req.name) or []:
            dep = Requirement(line)
            if dep.marker is None or dep.marker.evaluate({"extra": ""}):
                todo.append(dep)
    return seen


def server_lock() -> str:
    pins = lock_pins()
    names = closure(install_requires())
    missing = sorted(names - set(pins))
    if missing:
        raise SystemExit(f"not pinned in requirements.lock: {', '.join(missing)}")
    lines = [f"{pins[n][0]}=={pins[n][1]}" for n in names]
    return HEADER + "".join(line + "\n" for line in sorted(lines, key=str.lower))


if __name__ == "__main__":
    sys.stdout.write(server_lock())
