"""HTTP helpers for the bench: a real server process, a logged-in source, wrk."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.integration.server import running

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def bench_server(
    home: Path, variant: str = "envelope", gnupg: Path | None = None, fingerprint: str = ""
) -> Iterator[tuple[str, int]]:
    """Start ``bench.server``; yields (base URL, master PID). Stops it by PID."""
    threads = os.environ.get("SESIM_BENCH_THREADS", "16")
    cmd = [
        sys.executable,
        "-m",
        "bench.server",
        "--home",
        str(home),
        "--variant",
        variant,
        "--threads",
        threads,
    ]
    if gnupg:
        cmd += ["--gnupg", str(gnupg), "--fingerprint", fingerprint]
    with running(cmd, home.parent / f"server-{variant}.log") as (base, pid):
        yield base, pid


@dataclass
class LoggedIn:
    session: requests.Session
    cookie: str
    token: str


def new_source(base: str, text: str = "A first report for the benchmark.") -> LoggedIn:
    s = requests.Session()
    token = CSRF.search(s.get(base + "/report", timeout=10).text).group(1)  # type: ignore[union-attr]
    r = s.post(base + "/report", data={"csrf_token": token, "what_happened": text}, timeout=30)
    r.raise_for_status()
    case = s.get(base + "/case", timeout=10).text
    token = CSRF.search(case).group(1)  # type: ignore[union-attr]
    cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
    return LoggedIn(s, cookie, token)


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "sesimbench" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    parts.append(f"--{boundary}--\r\n")
    return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"


def _lua_string(data: bytes) -> str:
    return (
        '"'
        + "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\{b:03d}" for b in data)
        + '"'
    )


@dataclass
class WrkResult:
    rps: float
    requests: int
    errors: int
    p50_ms: float


def wrk(
    url: str,
    body: bytes,
    content_type: str,
    cookie: str,
    seconds: int,
    connections: int,
    workdir: Path,
) -> WrkResult:
    """A bounded POST load on 127.0.0.1 with wrk (one thread: the server has the rest)."""
    script = workdir / f"wrk-{uuid.uuid4().hex}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {_lua_string(body)}\n"
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
        f'wrk.headers["Cookie"] = "{cookie}"\n'
    )
    return run_wrk(url, script, seconds, connections)


def run_wrk(url: str, script: Path, seconds: int, connections: int, grace: int = 30) -> WrkResult:
    """Run wrk (one thread) with a Lua ``script`` on ``url`` for ``seconds``, then remove
    the script; a run that outlasts ``seconds + grace`` is killed."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + grace,
        check=True,
    ).stdout
    script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p50_ms = float(p50.group(1)) * scale[p50.group(2)] if p50 else float("nan")
    return WrkResult(rps, total, errors, p50_ms)
