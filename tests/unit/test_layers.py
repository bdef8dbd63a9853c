"""The layers of the code: each imports only those below it.

crypto/ <- securedrop_like/ (the core) <- the apps <- sesim/ (the command and the
demo). The online apps never import the offline workstation, where the private
keys live: checked both in the source text (every import statement, lazy ones
inside functions included) and in a fresh interpreter that builds both online
apps and lists what it loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST_ARGON2

ROOT = Path(__file__).resolve().parents[2]
APPS = ("source_interface", "journalist_interface", "tor_config", "public_map", "intake")
WORKSTATION = "journalist_interface.workstation"


def _imports(path: Path) -> set[str]:
    """Every module an import statement in ``path`` names, resolved to absolute names."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _offenders(folder: str, forbidden: tuple[str, ...], skip: str | None = None) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        if skip and skip in path.relative_to(ROOT).parts:
            continue
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_the_parser_sees_relative_and_lazy_imports(tmp_path: Path) -> None:
    """The checker itself can fail: a lazy relative import inside a function counts."""
    sample = ROOT / "journalist_interface" / "_layers_probe.py"
    sample.write_text("def f():\n    from .workstation import keys\n", "utf-8")
    try:
        assert "journalist_interface.workstation" in _imports(sample)
        assert _offenders("journalist_interface", (WORKSTATION,), skip="workstation")
    finally:
        sample.unlink()


def test_crypto_imports_nothing_of_ours() -> None:
    assert _offenders("crypto", ("securedrop_like", *APPS, "sesim")) == []


def test_the_core_imports_no_app_and_not_the_command() -> None:
    assert _offenders("securedrop_like", (*APPS, "sesim")) == []


@pytest.mark.parametrize(
    "app", ["source_interface", "journalist_interface", "tor_config", "public_map"]
)
def test_no_app_imports_the_command(app: str) -> None:
    assert _offenders(app, ("sesim",)) == []


def test_the_online_apps_never_import_the_workstation() -> None:
    assert _offenders("source_interface", (WORKSTATION,)) == []
    assert _offenders("journalist_interface", (WORKSTATION,), skip="workstation") == []


def test_the_public_map_imports_no_other_app() -> None:
    """The map runs on its own host: the core and crypto only, never the reporting apps
    (nor the workstation inside journalist_interface)."""
    assert _offenders("public_map", ("journalist_interface", "source_interface", "tor_config",
                                     "intake")) == []  # fmt: skip


def test_the_public_map_loads_no_other_app(tmp_path: Path) -> None:
    """Build the map app and ingest a bundle in a fresh interpreter; list what it loaded."""
    key = tmp_path / "publication.verify"
    key.write_text("sesim-ed25519-verify:" + "A" * 43 + "\n")
    script = f"""
import json, sys
from pathlib import Path
from public_map.instance import init_map
from public_map.app import create_app
import public_map.cli
app = create_app(init_map(Path({str(tmp_path / "map")!r}), Path({str(key)!r})))
app.test_client().post("/ingest", data=b"{{}}")
app.test_client().get("/data/dictionary")
print(json.dumps(sorted(sys.modules)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert "public_map.app" in loaded
    others = ("journalist_interface", "source_interface", "tor_config", "intake")
    assert [m for m in loaded if m.split(".")[0] in others] == []


def test_the_online_apps_load_no_workstation_module(tmp_path: Path) -> None:
    """Build both online apps in a fresh interpreter, as a server worker does."""
    script = f"""
import json, sys
from pathlib import Path
from securedrop_like.instance import init_instance
import source_interface, journalist_interface, journalist_interface.app
config = init_instance(Path({str(tmp_path / "instance")!r}), {FAST_ARGON2!r})
source_interface.create_app(config)
journalist_interface.create_app(config)
print(json.dumps(sorted(sys.modules)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"SESIM_TESTING_ALLOW_WEAK_KDF": "1", "PATH": "/usr/bin:/bin"},
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert "journalist_interface.app" in loaded and "source_interface" in loaded
    assert [m for m in loaded if m == WORKSTATION or m.startswith(WORKSTATION + ".")] == []
