"""A log-in flood must not stall the site: 50 concurrent log-ins on 2 slots.

Over a real server (`sesim serve source`, the default shape, production
Argon2id settings): 50 clients POST /login with a wrong but plausible
codename as fast as they are answered, while one more client times the start
page. The figure is the start page's median latency during the flood against
the same median measured idle, in this run (target ≤ 2×).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter

import requests

from bench.common import Results, Workspace
from bench.http import CSRF
from tests.integration.server import running

LOGINS = 50
FLOOD_PROCESSES = 5
PLAUSIBLE = "abacus ladder orbit candle meadow violet harbor"  # seven words, nobody's


def _start_page_ms(base: str, seconds: float) -> list[float]:
    web = requests.Session()
    samples: list[float] = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        start = time.perf_counter()
        response = web.get(base + "/", timeout=60)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
        time.sleep(0.02)
    return samples


def _flood(base: str, clients: int, post: bool) -> None:
    """In a child process: ``clients`` threads log in until SIGTERM; prints the outcomes.

    At the lowest CPU priority: on a real server the flood comes over the
    network, and its clients' own CPU is not the server's.
    """
    os.nice(19)
    outcomes: Counter[int] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def login() -> None:
        web = requests.Session()
        while not stop.is_set():
            try:
                page = web.get(base + "/login", timeout=60)
                token = CSRF.search(page.text)
                assert token
                if not post:  # the control: the same clients, no log-in
                    status = web.get(base + "/login", timeout=60).status_code
                else:
                    status = web.post(
                        base + "/login",
                        data={"csrf_token": token.group(1), "codename": PLAUSIBLE},
                        timeout=60,
                    ).status_code
            except requests.RequestException:
                status = 0
            with lock:
                outcomes[status] += 1

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [threading.Thread(target=login) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(outcomes))


def _while_flooded(base: str, seconds: float, post: bool) -> tuple[list[float], Counter[int]]:
    """Start-page samples while 50 clients hammer the server, and what they got."""
    kind = "post" if post else "get"
    flood = [
        subprocess.Popen(  # noqa: S603 - this module, fixed arguments
            [
                sys.executable,
                "-m",
                "bench.login_flood",
                base,
                str(LOGINS // FLOOD_PROCESSES),
                kind,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(FLOOD_PROCESSES)
    ]
    outcomes: Counter[int] = Counter()
    try:
        time.sleep(1.0)  # let the flood build up
        samples = _start_page_ms(base, seconds)
    finally:
        for proc in flood:
            proc.send_signal(signal.SIGTERM)
        for proc in flood:
            out, _ = proc.communicate(timeout=120)
            outcomes.update({int(k): int(v) for k, v in json.loads(out or "{}").items()})
    return samples, outcomes


def login_flood(ws: Workspace, results: Results, seconds: float) -> None:
    config, _ = ws.instance("login-flood")  # production Argon2id settings, pinned
    cmd = [sys.executable, "-m", "sesim", "serve", "source", "--home", str(config.home)]
    with running(cmd, config.home.parent / "login-flood.log") as (base, _pid):
        _start_page_ms(base, 1)  # warm-up
        # Idle before and after, so that a change in the machine's load between
        # the runs does not decide the ratio.
        idle_samples = _start_page_ms(base, seconds / 2)
        flood_samples, outcomes = _while_flooded(base, seconds, post=True)
        control_samples, _ = _while_flooded(base, seconds, post=False)
        idle_samples += _start_page_ms(base, seconds / 2)
    idle = statistics.median(idle_samples)
    flooded = statistics.median(flood_samples)
    control = statistics.median(control_samples)
    ratio = flooded / idle
    results.add(
        f"start page median, {LOGINS} log-ins on {config.max_concurrent_derivations} slots vs idle",
        f"{flooded:.1f} / {idle:.1f} ms ({ratio:.2f}×)",
        "≤ 2×",
        ratio <= 2,
    )
    done = outcomes[400]
    refused = outcomes[503]
    results.add(
        f"log-ins answered during the flood ({seconds:.0f} s)",
        f"{done} checked, {refused} busy pages, {sum(outcomes.values()) - done - refused} other",
    )
    results.add(
        f"start page median, {LOGINS} clients loading the log-in page (no log-in) vs idle",
        f"{control:.1f} / {idle:.1f} ms ({control / idle:.2f}×)",
    )


if __name__ == "__main__":
    _flood(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "post")
