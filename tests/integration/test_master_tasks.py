"""The master runs periodic tasks (the hook for e.g. the session sweeper): in the
master process, on time, and a failing task is logged by its type only and
never stops the master or the other tasks."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import requests

from securedrop_like.writer_process import WriterProcess, WriterUnavailable
from source_interface.master import MASTER_WRITER_TIMEOUT, master_service
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
    # L8: the weak-KDF test flag (tests/conftest.py sets it) shows at every start.
    assert (
        "WARNING securedrop_like.config: the Argon2id floor is OFF: the test-only variable" in text
    )


def test_a_master_task_waits_for_a_stalled_writer_a_few_seconds_only(
    instance: Instance,
) -> None:
    """M4: the tasks run in the arbiter's loop; a writer busy with a VACUUM (here:
    stopped) costs them MASTER_WRITER_TIMEOUT, then WriterUnavailable."""
    writer = WriterProcess(instance.config)
    writer.start()
    assert writer.pid is not None
    shared = SimpleNamespace(writer_address=writer.address, writer_authkey=writer.authkey)
    service = master_service(instance.config, shared)  # type: ignore[arg-type]
    assert service.discard_uploads(["0" * 32]) == 0  # connected
    outcome: list[BaseException] = []
    done = threading.Event()

    def task() -> None:
        try:
            service.discard_uploads(["1" * 32])
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome.append(exc)
        done.set()

    os.kill(writer.pid, signal.SIGSTOP)
    try:
        threading.Thread(target=task, daemon=True).start()
        assert done.wait(60), "the master's task waited for ever"
    finally:
        os.kill(writer.pid, signal.SIGCONT)
        service.close()
        writer.stop()
    assert [type(e) for e in outcome] == [WriterUnavailable]
    assert MASTER_WRITER_TIMEOUT < instance.config.writer_reply_timeout_seconds
