"""`make dist` (scripts/dist.sh) builds the same wheel twice, byte for byte, and the
wheel carries what the apps read at run time."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def build(out: Path) -> Path:
    env = {**os.environ, "PYTHON_DIST": sys.executable}
    env.pop("SOURCE_DATE_EPOCH", None)
    subprocess.run(
        ["bash", str(ROOT / "scripts/dist.sh"), "--wheel-only", "--out", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=240,
    )
    [wheel] = out.glob("sesim-*-py3-none-any.whl")
    return wheel


@pytest.mark.slow
def test_two_builds_give_the_same_wheel(tmp_path: Path) -> None:
    first = build(tmp_path / "one")
    second = build(tmp_path / "two")
    assert first.name == second.name
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second)]
    assert digest[0] == digest[1]
    names = zipfile.ZipFile(first).namelist()
    for lang in ("az", "ru", "en"):
        assert f"securedrop_like/translations/{lang}/LC_MESSAGES/messages.mo" in names
    assert any(n.startswith("securedrop_like/migrations/") and n.endswith(".sql") for n in names)
    assert any(n.startswith("source_interface/static/") for n in names)
    assert any(n.startswith("journalist_interface/templates/") for n in names)
    assert "sesim/cli.py" in names
    # Every file carries the fixed time, none the time of the build.
    times = {info.date_time for info in zipfile.ZipFile(first).infolist()}
    assert len(times) == 1
