"""Run `sesim serve` as a real gunicorn server on 127.0.0.1 for a test, bounded in time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Stop a process we started, by its PID: ``sig``, then SIGKILL after ``timeout``."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextmanager
def running(cmd: list[str], log: Path, timeout: float = 30) -> Iterator[tuple[str, int]]:
    """Start a server command that takes ``--port``; yields (base URL, PID).

    Waits until it answers on 127.0.0.1, and stops it by PID (SIGTERM, then
    SIGKILL) whatever happens.
    """
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    requests.get(base + "/", timeout=2)
                    break
                except requests.ConnectionError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"server did not start: {log.read_text()}") from None
                    time.sleep(0.1)
            yield base, proc.pid
        finally:
            stop(proc)


@contextmanager
def running_server(home: Path, part: str = "source", log: Path | None = None) -> Iterator[str]:
    """``sesim serve PART`` on an instance."""
    cmd = [sys.executable, "-m", "sesim", "serve", part, "--home", str(home)]
    with running(cmd, log or home.parent / f"{part}-server.log") as (base, _pid):
        yield base
