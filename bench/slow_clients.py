"""Page latency while 200 slow clients trickle their request heads, versus idle.

The real source app under the real server (bench.server: the gunicorn worker
of securedrop_like/gunicorn_worker.py, 16 threads). Each slow client sends a
byte of its head every second and never ends it; gunicorn's plain gthread
worker stopped answering at all with 16 of them.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time

import requests

from bench.common import Results, Workspace
from bench.http import bench_server

SLOW = 200
REQUESTS = 60


def _latencies(base: str) -> list[float]:
    out = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        page = requests.get(base + "/", timeout=10)
        out.append((time.perf_counter() - started) * 1000)
        assert page.status_code == 200
    return out


def slow_clients(ws: Workspace, results: Results) -> None:
    config, _ = ws.instance("slow", argon2_opslimit=1, argon2_memlimit=8 * 2**20)
    with bench_server(config.home) as (base, _pid):
        port = int(base.rsplit(":", 1)[1])
        _latencies(base)  # warm up
        before = _latencies(base)
        stop = threading.Event()
        socks = []
        try:
            for _ in range(SLOW):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                socks.append(sock)

            def trickle() -> None:
                while not stop.wait(1.0):
                    for sock in socks:
                        try:
                            sock.send(b"a")
                        except OSError:
                            pass

            sender = threading.Thread(target=trickle, daemon=True)
            sender.start()
            time.sleep(2)
            slow = statistics.median(_latencies(base))
        finally:
            stop.set()
            for sock in socks:
                sock.close()
        # Idle measured before and after, pooled: the machine's own noise
        # (other load, CPU frequency) then weighs on both sides alike.
        time.sleep(1)
        idle = statistics.median(before + _latencies(base))
    results.add("GET / median latency, idle", f"{idle:.1f} ms")
    results.add(
        f"GET / median latency, {SLOW} slow connections open",
        f"{slow:.1f} ms ({slow / idle:.2f}× idle)",
        "≤ 2× idle",
        slow <= 2 * idle,
    )
