"""Core dumps are off in every server process: master, writer and workers.

Checked from outside, in /proc, on a real server. The core limit is in
/proc/<pid>/limits. Dumpability shows in who owns /proc/<pid>/: the kernel
gives a non-dumpable process's /proc files to root. We run as root, so the
server runs as ``nobody`` here (setpriv), where root ownership can only mean
"not dumpable"; a plain process as ``nobody`` is the control that the check
can tell the difference.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from securedrop_like.demo import install_demo_reviewer
from securedrop_like.hardening import core_limit, harden_process, is_dumpable
from securedrop_like.instance import init_instance
from tests.conftest import FAST_ARGON2
from tests.integration.processes import server_processes
from tests.integration.server import running

NOBODY = 65534


def _core_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return " ".join(line.split()[4:6])
    raise AssertionError("no core limit line")


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[2])  # effective
    raise AssertionError("no Uid line")


def _proc_owner(pid: int) -> int:
    return os.stat(f"/proc/{pid}/status").st_uid


def test_harden_process_in_this_process_and_its_children() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            harden_process()
            child = os.fork()  # the flags pass to what it forks (gunicorn's workers)
            if child == 0:
                ok = core_limit() == (0, 0) and not is_dumpable()
                os._exit(0 if ok else 1)
            _, status = os.waitpid(child, 0)
            ok = core_limit() == (0, 0) and not is_dumpable() and status == 0
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert is_dumpable()  # the test process itself was left alone


@pytest.fixture
def nobody_home() -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a server as nobody")
    root = Path(tempfile.mkdtemp(prefix="sesim-harden-"))  # not under pytest's 0700 folder
    try:
        config = init_instance(root / "instance", dict(FAST_ARGON2))
        install_demo_reviewer(config)
        for path in [root, *root.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
        yield config.home
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_every_server_process_runs_with_core_dumps_off(nobody_home: Path, tmp_path: Path) -> None:
    # CAP_DAC_READ_SEARCH (inherited, ambient): nobody may read the checkout even
    # where it lies in a 0700 folder of root's, as a CI clone may.
    as_nobody = [
        "setpriv",
        f"--reuid={NOBODY}",
        f"--regid={NOBODY}",
        "--clear-groups",
        "--inh-caps=+dac_read_search",
        "--ambient-caps=+dac_read_search",
    ]
    control = subprocess.Popen([*as_nobody, "sleep", "60"])
    try:
        # The control: a process of nobody that did not harden itself is nobody's in /proc.
        for _ in range(100):
            if _uid(control.pid) == NOBODY:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert _proc_owner(control.pid) == NOBODY
    finally:
        control.kill()
        control.wait()
    cmd = [
        *as_nobody,
        sys.executable,
        "-m",
        "sesim",
        "serve",
        "source",
        "--home",
        str(nobody_home),
        "--workers",
        "2",
    ]
    log = tmp_path / "server.log"
    with running(cmd, log) as (_base, setpriv_pid):
        master = setpriv_pid  # setpriv execs the server in place
        writer, workers = server_processes(master, nobody_home, 2)
        for pid in (master, writer, *workers):
            assert _uid(pid) == NOBODY
            assert _core_limit(pid) == "0 0", pid
            assert _proc_owner(pid) == 0, pid  # not dumpable
