"""Acknowledged means stored, whatever process dies: SIGKILL under load, every shape.

A few clients submit reports with a file, then a message with a file, to a
real server (one worker; two workers). Mid-load the test SIGKILLs one of the
server's processes — a worker, the writer, or (separately) the master — and
keeps the load going. Then it counts what the server acknowledged (a codename
page, or a 303 after a message) and checks, through the service API and the
demo reviewer's private key, that each is stored with every file it carried.
Zero lost. And the server must answer again without a person's help: after a
worker or the writer dies, new submissions are acknowledged again; after the
master dies, the test starts the server again, which comes up over whatever
the dead one left in run/ and serves what was stored.

127.0.0.1 only; bounded in time; the test kills only the PIDs of the server
it started.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pytest
import requests

from securedrop_like.derivation import Deriver
from securedrop_like.service import ReportService
from tests.conftest import CODENAME_RE, CSRF_RE, Instance
from tests.integration.processes import server_processes
from tests.integration.server import running

CLIENTS = 3
LOAD_BEFORE = 2.0  # seconds of load before the kill
LOAD_AFTER = 4.0  # and after it (the server must recover within it)
TIMEOUT = 15  # per request


@dataclass
class Acked:
    """What the server acknowledged: the text's tag and each file's content, by codename."""

    codename: str
    tag: str
    files: list[bytes]
    at: float


@dataclass
class Load:
    base: str
    acked: list[Acked] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def record(self, status: int) -> None:
        with self.lock:
            self.statuses.append(status)

    def acknowledge(self, acked: Acked) -> None:
        with self.lock:
            self.acked.append(acked)


def _token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, html[:500]
    return match.group(1)


def _one_woman(load: Load, n: int) -> None:
    """Report with a file; on her codename page, a message with another file."""
    web = requests.Session()
    tag = f"kill-canary-{n}-{secrets.token_hex(6)}"
    first = secrets.token_bytes(3000 + n % 997)
    page = web.get(load.base + "/report", timeout=TIMEOUT)
    response = web.post(
        load.base + "/report",
        data={"csrf_token": _token(page.text), "what_happened": f"{tag} report"},
        files={"files": ("photo.jpg", BytesIO(first), "image/jpeg")},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    load.record(response.status_code)
    # The codename page is the answer to the POST itself (no 303 window).
    match = CODENAME_RE.search(response.text) if response.status_code == 200 else None
    if match is None:
        return
    codename = match.group(1)
    load.acknowledge(Acked(codename, f"{tag} report", [first], time.monotonic()))
    second = secrets.token_bytes(2000 + n % 991)
    case = web.get(load.base + "/case", timeout=TIMEOUT)
    load.record(case.status_code)
    if case.status_code != 200:
        return
    response = web.post(
        load.base + "/case/message",
        data={"csrf_token": _token(case.text), "message": f"{tag} message"},
        files={"files": ("scan.pdf", BytesIO(second), "application/pdf")},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    load.record(response.status_code)
    if response.status_code == 303:
        load.acknowledge(Acked(codename, f"{tag} message", [second], time.monotonic()))


def _client(load: Load, worker: int) -> None:
    n = worker
    while not load.stop.is_set():
        n += CLIENTS
        try:
            _one_woman(load, n)
        except requests.RequestException:
            load.record(0)  # the connection died with a killed process: not acknowledged
            time.sleep(0.05)


@contextmanager
def loaded(base: str) -> Iterator[Load]:
    load = Load(base)
    threads = [threading.Thread(target=_client, args=(load, k)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        yield load
    finally:
        load.stop.set()
        for t in threads:
            t.join(timeout=3 * TIMEOUT)
    assert not any(t.is_alive() for t in threads)


def _serve_cmd(home: Path, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sesim",
        "serve",
        "source",
        "--home",
        str(home),
        "--workers",
        str(workers),
    ]


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return "State:\tZ" in fh.read()
    except FileNotFoundError:
        return True


def _wait_gone(pids: list[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not all(_gone(p) for p in pids):
        if time.monotonic() > deadline:
            for pid in pids:  # ours: the dead master's children
                if not _gone(pid):
                    os.kill(pid, signal.SIGKILL)
            raise AssertionError("the dead master's children did not exit by themselves")
        time.sleep(0.05)


def _lost(instance: Instance, acked: list[Acked]) -> list[str]:
    """Every acknowledged submission whose document or a file cannot be read back."""
    service = ReportService.open(instance.config)
    deriver = Deriver(instance.config)
    lost: list[str] = []
    try:
        by_codename: dict[str, list[Acked]] = {}
        for a in acked:
            by_codename.setdefault(a.codename, []).append(a)
        for codename, wanted in by_codename.items():
            source = service.find_source(deriver.derive(deriver.normalise(codename)).lookup_id)
            if source is None:
                lost += [a.tag for a in wanted]
                continue
            items = {item.id: item for item in service.items(source.id)}
            documents: dict[str, dict[str, object]] = {}
            for item in items.values():
                if item.kind in ("report", "message"):
                    sink = BytesIO()
                    service.decrypt_item_to(item, instance.reviewer_key, sink)
                    doc = json.loads(sink.getvalue())
                    documents[str(doc.get("what_happened") or doc.get("text"))] = doc
            for a in wanted:
                doc = documents.get(a.tag)
                attached = doc["attachments"] if doc else []
                assert isinstance(attached, list)
                if doc is None or len(attached) != len(a.files):
                    lost.append(a.tag)
                    continue
                for meta, body in zip(attached, a.files, strict=True):
                    item = items.get(meta["id"])
                    sink = BytesIO()
                    try:
                        assert item is not None
                        service.decrypt_item_to(item, instance.reviewer_key, sink)
                    except Exception:  # noqa: BLE001 - any failure to read it back is a loss
                        lost.append(a.tag)
                        break
                    if sink.getvalue() != body:
                        lost.append(a.tag)
                        break
    finally:
        service.close()
    return lost


def _no_server_errors(load: Load) -> None:
    # 0: a connection a killed process dropped; 503: busy, try again. Never a 500.
    assert not [s for s in load.statuses if s >= 500 and s != 503], sorted(set(load.statuses))


def _assert_none_lost(lost: list[str], workers: int) -> None:
    # A worker (re)starting sweeps nothing: the master sweeps once before any
    # worker starts, then only what no session keeps and no request can claim.
    assert lost == [], f"{len(lost)} acknowledged of {workers} worker(s) lost an attachment"


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("victim", ["worker", "writer"])
def test_sigkill_a_worker_or_the_writer_under_load_loses_nothing(
    instance: Instance, tmp_path: Path, workers: int, victim: str
) -> None:
    home = instance.home
    with running(_serve_cmd(home, workers), tmp_path / "server.log") as (base, master):
        writer, worker_pids = server_processes(master, home, workers)
        with loaded(base) as load:
            time.sleep(LOAD_BEFORE)
            os.kill(worker_pids[0] if victim == "worker" else writer, signal.SIGKILL)
            killed_at = time.monotonic()
            time.sleep(LOAD_AFTER)
        # Recovered by itself: a new process in the dead one's place, and work acknowledged
        # after the kill.
        new_writer, new_workers = server_processes(master, home, workers)
        if victim == "writer":
            assert new_writer != writer
        else:
            assert worker_pids[0] not in new_workers
        assert [a for a in load.acked if a.at > killed_at + 0.5]
        assert requests.get(base + "/", timeout=TIMEOUT).status_code == 200
    _no_server_errors(load)
    assert len(load.acked) >= 2
    _assert_none_lost(_lost(instance, load.acked), workers)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_the_master_under_load_loses_nothing_and_it_starts_again(
    instance: Instance, tmp_path: Path, workers: int
) -> None:
    home = instance.home
    with running(_serve_cmd(home, workers), tmp_path / "server.log") as (base, master):
        writer, worker_pids = server_processes(master, home, workers)
        with loaded(base) as load:
            time.sleep(LOAD_BEFORE)
            os.kill(master, signal.SIGKILL)
            # Its writer and workers notice their parent is gone and exit by themselves.
            _wait_gone([writer, *worker_pids])
    _no_server_errors(load)
    assert len(load.acked) >= 2
    lost = _lost(instance, load.acked)
    # Started again over the dead server's run/ folder (its stale writer socket
    # included), it comes up and serves what was stored.
    assert list((home / "run").glob("writer-*.sock"))
    with running(_serve_cmd(home, workers), tmp_path / "again.log") as (base, _master):
        web = requests.Session()
        page = web.get(base + "/login", timeout=TIMEOUT)
        response = web.post(
            base + "/login",
            data={"csrf_token": _token(page.text), "codename": load.acked[0].codename},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert response.status_code == 303
        assert web.get(base + "/case", timeout=TIMEOUT).status_code == 200
        with loaded(base) as again:
            time.sleep(1.5)
    _no_server_errors(again)
    assert again.acked
    assert re.search(r"Traceback", (tmp_path / "again.log").read_text()) is None
    _assert_none_lost(lost + _lost(instance, again.acked), workers)


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on ``port`` (/proc/net/tcp, state 0A)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].rsplit(":", 1)[1] == f"{port:04X}" and fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def _fd_targets(pid: int) -> list[str]:
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return targets


def test_a_restarted_writer_holds_neither_the_listening_socket_nor_the_workers_files(
    instance: Instance, tmp_path: Path
) -> None:
    """L2: the writer the master forks again after a crash lets go of what it
    inherited: the public listening socket, the workers' heartbeat files."""
    home = instance.home
    with running(_serve_cmd(home, 2), tmp_path / "server.log") as (base, master):
        port = int(base.rsplit(":", 1)[1])
        writer, _workers = server_processes(master, home, 2)
        listening = _listening_inodes(port)
        assert listening and any(f"socket:[{i}]" in _fd_targets(master) for i in listening)
        os.kill(writer, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            new_writer, _workers = server_processes(master, home, 2)
            if new_writer != writer:
                break
            assert time.monotonic() < deadline, "no new writer"
            time.sleep(0.1)
        held = _fd_targets(new_writer)
        assert not [t for t in held if t.startswith("socket:[") and t[8:-1] in listening]
        assert not [t for t in held if "wgunicorn" in t], held
        # It still does its work.
        assert requests.get(base + "/", timeout=TIMEOUT).status_code == 200
        with loaded(base) as load:
            time.sleep(1.0)
    _no_server_errors(load)
    assert load.acked
