"""requirements-server.lock (what the server's virtualenv is installed from) is
requirements.lock's runtime subset: the same pins, every runtime dependency."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("server_lock", ROOT / "scripts/server_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["server_lock"] = module
    spec.loader.exec_module(module)
    return module


server_lock = _script()


def test_every_pin_is_requirements_lock_pin() -> None:
    full = server_lock.lock_pins(ROOT / "requirements.lock")
    server = server_lock.lock_pins(ROOT / "requirements-server.lock")
    assert server, "requirements-server.lock pins nothing"
    for name, (_, version) in server.items():
        assert name in full, f"{name} is not in requirements.lock"
        assert version == full[name][1], f"{name}: {version} here, {full[name][1]} in the lock"


def test_holds_every_runtime_dependency_and_nothing_else() -> None:
    server = set(server_lock.lock_pins(ROOT / "requirements-server.lock"))
    runtime = server_lock.closure(server_lock.install_requires(ROOT / "setup.cfg"))
    # install_requires itself, and what it pulls in (e.g. flask's werkzeug, pynacl's cffi).
    assert {"flask", "werkzeug", "pynacl", "cffi", "pycparser", "sqlcipher3"} <= runtime
    assert runtime - server == set(), "runtime dependencies missing from requirements-server.lock"
    assert server - runtime == set(), "requirements-server.lock holds more than the runtime needs"


def test_file_is_what_make_lock_writes() -> None:
    text = (ROOT / "requirements-server.lock").read_text(encoding="utf-8")
    assert text == server_lock.server_lock()


def test_runtime_imports_are_declared() -> None:
    # The staff interface draws TOTP QR codes with segno: the server needs it.
    names = {server_lock.canonical(r.name) for r in server_lock.install_requires()}
    assert "segno" in names
