"""The shared session table as an attacker would read it: its memory, its lock, /proc.

A seized server's memory image, a core dump or swap must hold nothing that
opens a source's replies or names her; a worker killed while holding the
table's lock must not hang the server.
"""

from __future__ import annotations

import base64
import fcntl
import os
import signal
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from securedrop_like.shared_sessions import (
    ServerShared,
    SharedSegment,
    SharedSessionStore,
    session_lock_path,
    sweep_expired,
)
from tests.conftest import SourceBrowser
from tests.unit.conftest import Clock

IDLE = 30 * 60  # the source's default idle limit, in seconds


def _forms(secret: bytes) -> list[bytes]:
    """Every way a secret could sit in memory: raw, hex, base64, as JSON would put it."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def test_no_key_or_codename_in_the_shared_memory_ever_and_nothing_after_a_sweep(
    shared_app: Flask, shared: ServerShared, clock: Clock
) -> None:
    deriver = shared_app.extensions["sesim"].deriver
    fresh = SourceBrowser(shared_app.test_client())  # has her codename on screen, not yet checked
    fresh_codename = fresh.report_and_get_codename("one")
    returning = SourceBrowser(shared_app.test_client())  # logged in with her key
    returning.report_and_get_codename("two")
    returning.case()
    returning.logout()
    assert returning.login().status_code == 303
    returning.case()  # her replies opened with her key, unsealed for this request only
    secrets_ = [fresh_codename.encode(), fresh_codename.replace(" ", "").encode()]
    for codename in (fresh.codename, returning.codename):
        key = deriver.derive(deriver.normalise(codename)).private_key.unsafe_raw()
        secrets_ += _forms(key)
    memory = bytes(shared.segment.memory)
    assert len(SharedSessionStore(shared.segment, IDLE, 180 * 60, clock)) == 2  # both are there…
    assert not [s for s in secrets_ if s in memory]  # …but sealed: nothing of theirs in clear
    assert fresh.client.get("/codename").status_code == 200  # and it still works for her

    clock.now += IDLE + 1
    swept = sweep_expired(shared.segment, IDLE, 180 * 60, clock)
    assert swept == 2
    memory = bytes(shared.segment.memory)
    assert not [s for s in secrets_ if s in memory]
    assert memory[64:] == bytes(len(memory) - 64)  # every slot zeroed, headers and all
    assert fresh.client.get("/codename").status_code == 303  # gone for her too


def test_the_sweep_passes_what_a_session_kept_to_on_discard(clock: Clock) -> None:
    segment = SharedSegment(4)
    store = SharedSessionStore(segment, 60, 600, clock)
    sid = store.new_id()
    store.put(sid, {"pending_files": [{"item_id": "f" * 32}]}, protected=True)
    seen: list[dict[str, Any]] = []
    assert sweep_expired(segment, 60, 600, clock, seen.append) == 0
    clock.now += 61
    shared = ServerShared(segment)
    assert shared.sweep_sessions(60, 600, seen.append, clock) == 1
    assert seen == [{"pending_files": [{"item_id": "f" * 32}]}]
    assert bytes(segment.memory)[64:] == bytes(len(segment.memory) - 64)


def _smaps_flags(memory: Any) -> list[str]:
    import ctypes

    anchor = ctypes.c_char.from_buffer(memory)
    address = ctypes.addressof(anchor)
    del anchor
    lines = Path("/proc/self/smaps").read_text().splitlines()
    inside = False
    for line in lines:
        head = line.split()[0]
        if "-" in head and all(c in "0123456789abcdef-" for c in head):
            start, end = (int(x, 16) for x in head.split("-"))
            inside = start <= address < end
        elif inside and line.startswith("VmFlags:"):
            return line.split()[1:]
    raise AssertionError("mapping not found in /proc/self/smaps")


def test_session_memory_is_left_out_of_core_dumps_and_locked_in_ram() -> None:
    segment = SharedSegment(8)
    flags = _smaps_flags(segment.memory)
    assert "dd" in flags  # MADV_DONTDUMP
    if os.geteuid() == 0:
        assert segment.locked_in_ram  # root may lock memory: it must then be locked
    if segment.locked_in_ram:
        assert "lo" in flags
    # A forked worker's view of the mapping: out of dumps, and locked too.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, " ".join(_smaps_flags(segment.memory)).encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 4096).decode().split()
    assert "dd" in child
    if segment.locked_in_ram:
        assert "lo" in child


def test_a_worker_killed_holding_the_lock_does_not_hang_the_others() -> None:
    segment = SharedSegment(4)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker that takes the lock and is killed before it lets go
        try:
            segment.lock.acquire()
            os.write(ready_w, b"1")
            time.sleep(60)
        finally:
            os._exit(0)
    try:
        assert os.read(ready_r, 1) == b"1"
        assert segment.lock.acquire(False) is False  # it really holds it
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert segment.lock.acquire(False) is True  # the kernel let go of it at once
    segment.lock.release()
    store = SharedSessionStore(segment, 60, 600)
    assert store.get(store.new_id()) == {}


def test_a_forked_child_does_not_share_its_parents_lock() -> None:
    segment = SharedSegment(4)
    done_r, done_w = os.pipe()
    with segment.lock:  # the parent holds it while forking (the master's sweep, say)
        pid = os.fork()
        if pid == 0:
            try:
                os.write(done_w, b"1" if segment.lock.acquire(False) else b"0")
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    assert os.read(done_r, 1) == b"0"  # an inherited lock would have let the child in


def test_the_lock_file_lives_in_the_private_run_folder_and_keeps_its_times(
    tmp_path: Path,
) -> None:
    path = session_lock_path(tmp_path, "source")
    assert path.parent == tmp_path / "run"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    segment = SharedSegment(4, path)
    with segment.lock:
        pass
    before = path.stat()
    time.sleep(0.01)
    for _ in range(3):
        with segment.lock:
            pass
    after = path.stat()
    assert (before.st_mtime_ns, before.st_ctime_ns, before.st_atime_ns) == (
        after.st_mtime_ns,
        after.st_ctime_ns,
        after.st_atime_ns,
    )
    assert stat.S_IMODE(after.st_mode) == 0o600
    fd = os.open(path, os.O_RDWR)
    try:  # really an flock on that file
        with segment.lock:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_without_an_instance_the_lock_is_a_private_temp_file_removed_with_the_segment() -> None:
    segment = SharedSegment(2)
    path = segment.lock.path
    with segment.lock:
        assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    del segment
    import gc

    gc.collect()
    assert not path.exists()


def test_the_lock_file_is_made_with_the_table_not_by_her_first_request(tmp_path: Path) -> None:
    path = session_lock_path(tmp_path, "source")
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    run_before, lock_before = path.parent.stat(), path.stat()
    time.sleep(0.01)
    segment = SharedSegment(4, path)  # the master's table; then a worker's first request
    store = SharedSessionStore(segment, 60, 600)
    store.put(store.new_id(), {"lang": "az"})
    run_after, lock_after = path.parent.stat(), path.stat()
    assert run_before.st_mtime_ns == run_after.st_mtime_ns
    assert run_before.st_ctime_ns == run_after.st_ctime_ns
    assert lock_before.st_mtime_ns == lock_after.st_mtime_ns
    assert lock_before.st_ctime_ns == lock_after.st_ctime_ns
