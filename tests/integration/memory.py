"""Read a running server's shared session memory from outside, as an attacker with root would.

The master of ``sesim serve`` maps the session table (anonymous, shared, see
``securedrop_like/shared_sessions.py``) before it forks its workers, so the
same pages show in the master and in every worker. We find the mapping in
``/proc/<pid>/maps`` by its size and read it through ``/proc/<pid>/mem``:
what a memory image of the running server would hold, without asking the
server anything. Needs root (or ptrace rights over the server), which a test
that started the server as root has.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from securedrop_like import shared_sessions
from securedrop_like.shared_sessions import SLOT_BYTES

# The mapping starts with a 64-byte header (the use counter), then the slots.
TABLE_HEADER_BYTES: int = getattr(shared_sessions, "_BASE", 64)
PAGE = os.sysconf("SC_PAGE_SIZE")


def table_bytes(max_sessions: int) -> int:
    """The size of the session mapping as /proc shows it (rounded up to whole pages)."""
    length = TABLE_HEADER_BYTES + max_sessions * SLOT_BYTES
    return -(-length // PAGE) * PAGE


@dataclass(frozen=True)
class Mapping:
    pid: int
    start: int
    end: int
    perms: str
    path: str

    @property
    def size(self) -> int:
        return self.end - self.start


def children(pid: int) -> list[int]:
    """Direct children of a process (every thread's list, from /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return sorted(set(found))


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    seen: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in seen or not Path(f"/proc/{pid}").exists():
            continue
        seen.append(pid)
        todo.extend(children(pid))
    return seen


def mappings(pid: int) -> list[Mapping]:
    out = []
    try:
        lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    except OSError:  # the process has gone
        return []
    for line in lines:
        fields = line.split(maxsplit=5)
        start, _, end = fields[0].partition("-")
        path = fields[5] if len(fields) > 5 else ""
        out.append(Mapping(pid, int(start, 16), int(end, 16), fields[1], path))
    return out


def shared_tables(root: int, max_sessions: int) -> list[Mapping]:
    """The session tables in a server's processes: shared mappings of the table's size."""
    size = table_bytes(max_sessions)
    return [
        m
        for pid in process_tree(root)
        for m in mappings(pid)
        if m.size == size and len(m.perms) == 4 and m.perms[3] == "s"
    ]


def read_mapping(mapping: Mapping) -> bytes:
    with open(f"/proc/{mapping.pid}/mem", "rb", buffering=0) as mem:
        mem.seek(mapping.start)
        return mem.read(mapping.size)


def session_memory(root: int, max_sessions: int) -> dict[str, bytes]:
    """What each process of the server holds in its session table now, by a place name.

    Identical copies (the same shared pages seen from several processes) are
    kept once. Fails loudly if no table is found: a test must not pass because
    it looked nowhere.
    """
    tables = shared_tables(root, max_sessions)
    if not tables:
        shared = [
            f"{m.pid}: {m.size} {m.perms} {m.path}"
            for pid in process_tree(root)
            for m in mappings(pid)
            if m.perms.endswith("s")
        ]
        raise AssertionError(
            f"no shared mapping of {table_bytes(max_sessions)} bytes in the processes of "
            f"{root} (shared mappings seen: {shared})"
        )
    out: dict[str, bytes] = {}
    digests: set[bytes] = set()
    for table in tables:
        try:
            data = read_mapping(table)
        except OSError:  # a worker exited between listing and reading
            continue
        digest = hashlib.sha256(data).digest()
        if digest not in digests:
            digests.add(digest)
            out[f"session memory of pid {table.pid} at {table.start:#x}"] = data
    assert out, "could not read any session table"
    return out
