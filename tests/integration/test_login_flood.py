"""A flood of log-ins cannot take the server's threads: beyond the slots and a
short queue, a log-in is refused at once, and the other pages keep answering.

The test holds every derivation slot itself — they are lock files in the
instance's run/ folder, as any process of the instance sees them — and lets
waiters wait for ten minutes, so a log-in that waited instead of being refused
would hold its server thread until the end of the test.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import CSRF_RE, Instance
from tests.integration.server import running

LOGINS = 50
PLAUSIBLE = "abacus ladder orbit candle meadow violet harbor"  # seven words, nobody's


def _hold(paths: list[Path]) -> list[int]:
    held = []
    for path in paths:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.append(fd)
    return held


def test_fifty_logins_on_taken_slots_leave_the_start_page_answering(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESIM_DERIVATION_WAIT_SECONDS", "600")
    cmd = [sys.executable, "-m", "sesim", "serve", "source", "--home", str(instance.home)]
    run = instance.home / "run"
    with running(cmd, tmp_path / "server.log") as (base, _pid):
        held = _hold(sorted(run.glob("derive-slot-*.lock")))
        assert len(held) == instance.config.max_concurrent_derivations
        statuses: list[int] = []
        lock = threading.Lock()

        def login() -> None:
            web = requests.Session()
            try:
                page = web.get(base + "/login", timeout=30)
                token = CSRF_RE.search(page.text)
                assert token
                response = web.post(
                    base + "/login",
                    data={"csrf_token": token.group(1), "codename": PLAUSIBLE},
                    timeout=900,
                )
                status = response.status_code
            except requests.RequestException:
                status = 0
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=login, daemon=True) for _ in range(LOGINS)]
        try:
            for t in threads:
                t.start()
            queue = len(list(run.glob("derive-queue-*.lock")))
            # Everyone beyond the queue is turned away at once with the busy page…
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with lock:
                    if len(statuses) >= LOGINS - queue:
                        break
                time.sleep(0.05)
            with lock:
                refused = list(statuses)
            assert len(refused) == LOGINS - queue and set(refused) == {503}
            # …and meanwhile the start page and the report form answer.
            for path in ("/", "/report", "/", "/report"):
                assert requests.get(base + path, timeout=10).status_code == 200
        finally:
            for fd in held:
                os.close(fd)
        for t in threads:
            t.join(timeout=60)
        # The few who waited got their answer once a slot was free: not found (400).
        assert sorted(statuses).count(400) == queue
