"""The master runs periodic tasks (the hook for e.g. the session sweeper): in the
master process, on time, and a failing task is logged by its type only and
never stops the master or the other tasks."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import requests

from tests.conftest import Instance
from tests.integration.server import running

SCRIPT = """
import os, sys
from securedrop_like.config import load_config
from securedrop_like.serve import serve
from source_interface import create_app

home, ticks, port = sys.argv[1], sys.argv[2], int(sys.argv[-1])
config = load_config(home)

def tick(shared):
    assert shared.segment.slots == config.max_sessions  # it gets the server's shared state
    with open(ticks, "a") as fh:
        fh.write(f"{os.getpid()}\\n")

def broken(shared):
    raise ValueError("secret canary 5f1d in an exception message")

serve(lambda shared: create_app(config, shared=shared), config, "127.0.0.1", port,
      tasks=[(0.2, broken), (0.2, tick)])
"""


def test_tasks_run_in_the_master_and_a_failing_one_does_not_stop_it(
    instance: Instance, tmp_path: Path
) -> None:
    ticks = tmp_path / "ticks"
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-c", SCRIPT, str(instance.home), str(ticks)]
    with running(cmd, log) as (base, master):
        deadline = time.monotonic() + 30
        while len(ticks.read_text().split() if ticks.exists() else []) < 5:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert set(ticks.read_text().split()) == {str(master)}
        assert requests.get(base + "/", timeout=10).status_code == 200
    text = log.read_text()
    assert "a periodic task failed: ValueError" in text
    assert "canary" not in text and "Traceback" not in text
