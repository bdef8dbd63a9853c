"""Codename derivation cost, and logins a 2-core server sustains within its memory bound."""

from __future__ import annotations

import os
import time

from bench.common import Results, Workspace, median_ms, reset_peak, rss_kib, run_threads, timed
from securedrop_like.codenames import generate_codename
from securedrop_like.derivation import Deriver
from securedrop_like.errors import Busy
from securedrop_like.service import ReportService, Submission


def logins(ws: Workspace, results: Results, seconds: float, clients: int = 8) -> None:
    config, _ = ws.instance("logins")  # production Argon2id settings
    deriver = Deriver(config)
    service = ReportService.open(config)
    codename = generate_codename()
    normalised = deriver.normalise(codename)
    service.create_source(deriver.derive(normalised), Submission("report", {"text": "x"}))
    cost = median_ms(timed(lambda: deriver.derive(normalised), 10))
    results.add(
        f"codename derivation (Argon2id ops {config.argon2_opslimit}, "
        f"{config.argon2_memlimit // 2**20} MiB)",
        f"{cost:.0f} ms",
    )
    pid = os.getpid()
    idle, _ = rss_kib(pid)
    reset_peak(pid)
    ok = [0] * clients
    busy = [0] * clients
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        while time.monotonic() < stop:
            try:
                keys = deriver.derive(deriver.normalise(codename))
            except Busy:
                # Refused at once (slots and queue full): come back a moment later,
                # as a person pressing again would, instead of spinning on the GIL.
                busy[n] += 1
                time.sleep(0.05)
                continue
            assert service.find_source(keys.lookup_id) is not None
            ok[n] += 1

    elapsed = run_threads(clients, client)
    _, peak = rss_kib(pid)
    service.close()
    bound = config.max_concurrent_derivations * config.argon2_memlimit // 1024
    extra = peak - idle
    results.add(
        f"logins/s with {clients} clients, {config.max_concurrent_derivations} slots",
        f"{sum(ok) / elapsed:.1f}/s ({sum(busy)} busy pages)",
    )
    results.add(
        "peak RSS above idle during logins",
        f"{extra / 1024:.0f} MiB",
        f"≤ {bound / 1024 + 32:.0f} MiB (slots × memlimit + 32)",
        extra <= bound + 32 * 1024,
    )
