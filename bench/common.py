"""Shared bench helpers: instances, the OpenPGP baseline, RSS and the results table."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crypto import EnvelopeContext, OpenPGP, PrivateKey, PublicKey
from securedrop_like.config import Config
from securedrop_like.demo import install_demo_reviewer
from securedrop_like.instance import init_instance
from securedrop_like.service import ReportService

REPORT_BYTES = 2048


@dataclass
class Row:
    name: str
    value: str
    target: str = ""
    ok: bool | None = None


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)

    def add(self, name: str, value: str, target: str = "", ok: bool | None = None) -> None:
        self.rows.append(Row(name, value, target, ok))
        mark = "" if ok is None else ("  ok" if ok else "  MISSED")
        print(
            f"  {name}: {value}{('  (target ' + target + ')') if target else ''}{mark}", flush=True
        )

    def table(self) -> str:
        w1 = max(len(r.name) for r in self.rows)
        w2 = max(len(r.value) for r in self.rows)
        w3 = max([len(r.target) for r in self.rows] + [6])
        lines = [
            f"{'measure':<{w1}}  {'value':>{w2}}  {'target':<{w3}}  result",
            f"{'-' * w1}  {'-' * w2}  {'-' * w3}  ------",
        ]
        for r in self.rows:
            result = "" if r.ok is None else ("ok" if r.ok else "MISSED")
            lines.append(f"{r.name:<{w1}}  {r.value:>{w2}}  {r.target:<{w3}}  {result}")
        return "\n".join(lines)


class Workspace:
    """A temporary folder for one bench run; removed at the end."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sesim-bench-"))

    def instance(self, name: str, **settings: object) -> tuple[Config, PrivateKey]:
        config = init_instance(self.root / name, dict(settings))
        return config, install_demo_reviewer(config)

    def gpg(self, name: str = "gnupg") -> tuple[OpenPGP, str]:
        pgp = OpenPGP(self.root / name)
        return pgp, pgp.generate_test_key("Bench Reviewer", "reviewer@example.org")

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class OpenPGPReportService(ReportService):
    """The same server path, sealing with python-gnupg to an OpenPGP key instead.

    This is how SecureDrop long encrypted submissions: one gpg process per
    document. Everything else (parsing, storing, group commit, fsync) is shared.
    """

    pgp: OpenPGP
    fingerprint: str

    def encrypt_document(
        self, plaintext: bytes, recipients: list[PublicKey], *, context: EnvelopeContext
    ) -> bytes:
        # OpenPGP has no place for the item binding: the baseline writes none.
        return self.pgp.encrypt(plaintext, self.fingerprint)


def rss_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of a process, in KiB, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    cur = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return cur, peak


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def reset_peak(pid: int) -> None:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def run_threads(clients: int, body: Callable[[int], None]) -> float:
    """Run ``body(n)`` on ``clients`` threads at once; returns the elapsed seconds."""
    threads = [threading.Thread(target=body, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
