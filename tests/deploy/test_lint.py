"""The playbook is clean: ansible-lint's production profile and ansible-playbook's syntax check."""

from __future__ import annotations

import time
from pathlib import Path

from tests.deploy import harness
from tests.deploy.conftest import timed


def test_ansible_lint_production_profile_is_clean(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = harness.run(
        [
            str(harness.ansible_bin("ansible-lint")),
            "--offline",
            "--profile",
            "production",
            "--nocolor",
        ],
        cwd=harness.ANSIBLE_DIR,
        env=harness.ansible_env(tmp_path),
        timeout=300,
        check=False,
    )
    timed("ansible-lint", time.monotonic() - started)
    assert proc.returncode == 0, f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert "Passed" in proc.stdout + proc.stderr


def test_the_playbook_passes_the_syntax_check(tmp_path: Path) -> None:
    example = harness.ANSIBLE_DIR / "inventory.example.yml"
    assert example.exists(), "ansible/inventory.example.yml is missing"
    proc = harness.run(
        [
            str(harness.ansible_bin("ansible-playbook")),
            "--syntax-check",
            "-i",
            str(example),
            str(harness.SITE),
        ],
        cwd=harness.ANSIBLE_DIR,
        env=harness.ansible_env(tmp_path),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
