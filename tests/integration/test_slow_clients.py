"""Slow clients cannot take the server: 200 connections trickling their request
heads (new and kept-alive ones), a byte a second each, while normal pages answer;
and a head that never ends is closed after the server's head deadline."""

from __future__ import annotations

import re
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import Instance
from tests.integration.server import running, running_server

SLOW = 200  # fresh connections sending a head slowly
KEPT_ALIVE = (
    8  # (fewer than the threads) connections that send one request, then their next one slowly
)
HEAD_TIMEOUT = 12  # seconds: the server's deadline for a head, short for the test
ANSWER_WITHIN = 10  # seconds a normal page may take while they are open


def _trickle(socks: list[socket.socket], stop: threading.Event, filler: bytes) -> None:
    """A byte a second on every connection, never the blank line that ends a head."""
    while not stop.wait(1.0):
        for sock in socks:
            try:
                sock.send(filler)
            except OSError:
                pass


def _open_now(sock: socket.socket) -> bool:
    """Whether the server has not closed ``sock`` (looked at without waiting)."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.settimeout(timeout)


def _closed_by_server(sock: socket.socket, until: float) -> bool:
    """Whether the server closes ``sock`` before ``until`` (answers are read and skipped)."""
    while time.monotonic() < until:
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            return False
        except OSError:
            return True  # reset
    return False


def test_pages_answer_while_200_slow_connections_are_open(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESIM_SERVER_HEAD_TIMEOUT_SECONDS", str(HEAD_TIMEOUT))
    stop = threading.Event()
    socks: list[socket.socket] = []
    with running_server(instance.home, log=tmp_path / "server.log") as base:
        port = int(base.rsplit(":", 1)[1])
        host = f"127.0.0.1:{port}".encode()
        try:
            for _ in range(KEPT_ALIVE):
                sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")  # the head of its answer
                sock.sendall(b"GET / HTTP/1.1\r\nHost: ")  # and the start of the next request
                socks.append(sock)
            opened = time.monotonic()
            for _ in range(SLOW):
                sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nX-Slow: ")
                socks.append(sock)
            sender = threading.Thread(target=_trickle, args=(socks, stop, b"a"), daemon=True)
            sender.start()
            time.sleep(2)  # every thread would now be reading a head
            for _ in range(5):
                page = requests.get(base + "/", timeout=ANSWER_WITHIN)
                assert page.status_code == 200
                time.sleep(0.5)
            # …while every slow connection was still open.
            assert [s for s in socks if not _open_now(s)] == []
            # Past the deadline, every one of them is closed though it kept sending.
            until = opened + HEAD_TIMEOUT + 10
            still_open = [s for s in socks if not _closed_by_server(s, until)]
            assert still_open == [], f"{len(still_open)} slow connections still open"
            assert requests.get(base + "/", timeout=ANSWER_WITHIN).status_code == 200
        finally:
            stop.set()
            for sock in socks:
                sock.close()


def _read_responses(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` whole responses (each with a Content-Length) from ``sock``."""
    data = b""
    heads: list[bytes] = []
    while len(heads) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(heads)} responses"
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?i)\r\ncontent-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        while len(data) < length:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        data = data[length:]
        heads.append(head)
    return heads


def test_kept_alive_and_pipelined_requests_are_still_answered(
    instance: Instance, tmp_path: Path
) -> None:
    """The head-reading phase hands pipelined requests and kept-alive connections
    on, including a head that arrives in pieces."""
    with running_server(instance.home, log=tmp_path / "server.log") as base:
        port = int(base.rsplit(":", 1)[1])
        request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port
        with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN) as sock:
            sock.sendall(request * 3)  # pipelined
            heads = _read_responses(sock, 3)
            for piece in (request[:5], request[5:20], request[20:]):  # a head in pieces
                sock.sendall(piece)
                time.sleep(0.2)
            heads += _read_responses(sock, 1)
            sock.sendall(request)  # and once more, kept alive
            heads += _read_responses(sock, 1)
        assert [h.split(b"\r\n", 1)[0] for h in heads] == [b"HTTP/1.1 200 OK"] * 5


def test_running_out_of_descriptors_drops_the_oldest_slow_head(
    instance: Instance, tmp_path: Path
) -> None:
    """With few file descriptors (a low LimitNOFILE), more slow connections than
    descriptors: gthread's worker died on EMFILE; this one closes the oldest head
    and keeps answering."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("prlimit (util-linux) is not installed")
    home = str(instance.home)
    cmd = [prlimit, "--nofile=256:256", sys.executable, "-m", "sesim"]
    socks: list[socket.socket] = []
    # Two workers: the one the readiness probe did not reach is cold, and must
    # still find descriptors for its templates and database when heads are many.
    serve = [*cmd, "serve", "source", "--home", home, "--workers", "2"]
    with running(serve, tmp_path / "server.log") as (base, _):
        port = int(base.rsplit(":", 1)[1])
        try:
            for _ in range(400):
                sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                socks.append(sock)
            # Fresh connections each, so that both workers answer some.
            for _ in range(12):
                assert requests.get(base + "/", timeout=ANSWER_WITHIN).status_code == 200
        finally:
            for sock in socks:
                sock.close()
    log = (tmp_path / "server.log").read_text()
    assert "Too many open files" not in log and "ended early" not in log, log
