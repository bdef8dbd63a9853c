"""Find a running server's processes from outside, as an administrator (or an attacker) would."""

from __future__ import annotations

import os
import time
from pathlib import Path


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def _writer_socket_inodes(home: Path) -> set[str]:
    """Inodes of the sockets bound to the instance's writer socket paths (/proc/net/unix)."""
    run = str(home / "run") + "/writer-"
    inodes = set()
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[7].startswith(run):
            inodes.add(fields[6])
    return inodes


def _holds_socket(pid: int, inodes: set[str]) -> bool:
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return True
    except OSError:
        return False
    return False


def server_processes(
    master: int, home: Path, workers: int, timeout: float = 30
) -> tuple[int, list[int]]:
    """(writer PID, worker PIDs) of the server whose master is ``master``.

    The writer is the master's child holding the instance's writer socket (a
    listening socket has its path in /proc/net/unix; the workers' client ends
    have none); the workers are its other children.
    """
    deadline = time.monotonic() + timeout
    while True:
        kids = children(master)
        inodes = _writer_socket_inodes(home)
        writers = [pid for pid in kids if _holds_socket(pid, inodes)]
        others = [pid for pid in kids if pid not in writers]
        if len(writers) == 1 and len(others) == workers:
            return writers[0], others
        if time.monotonic() > deadline:
            raise AssertionError(f"server {master}: children {kids}, writer {writers}")
        time.sleep(0.05)
