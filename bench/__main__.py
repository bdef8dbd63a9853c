"""`make bench`: every figure in one run, with its target, as a table on stdout.

Ratios compare two things measured in this same run on this same machine,
never a number written down elsewhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from bench.common import Results, Workspace, cpu_count
from securedrop_like.config import TESTING_WEAK_KDF_ENV

ALL = [
    "write",
    "http",
    "logins",
    "flood",
    "upload",
    "pages",
    "slow",
    "inbox",
    "export",
    "sessions",
    "sanitize",
    "workstation",
    "map",
    "intake",
    "backup",
]


def main() -> None:
    # The bench makes instances with a cheap Argon2id where the KDF is not what
    # it measures (and says so in each row); see securedrop_like.config.
    os.environ[TESTING_WEAK_KDF_ENV] = "1"
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=int, default=5, help="length of each load run")
    parser.add_argument("--only", choices=ALL, action="append")
    args = parser.parse_args()
    chosen = set(args.only or ALL)
    results = Results()
    ws = Workspace()
    started = time.perf_counter()
    print(f"Səsim benchmarks on {cpu_count()} cores", flush=True)
    try:
        if "write" in chosen:
            from bench.write_path import in_process

            in_process(ws, results, args.seconds)
        if "http" in chosen:
            from bench.write_path import over_http

            over_http(ws, results, args.seconds)
        if "logins" in chosen:
            from bench.logins import logins

            logins(ws, results, args.seconds)
        if "flood" in chosen:
            from bench.login_flood import login_flood

            login_flood(ws, results, args.seconds)
        if "upload" in chosen:
            from bench.upload import upload

            upload(ws, results)
        if "pages" in chosen:
            from bench.pages import pages

            pages(ws, results)
        if "slow" in chosen:
            from bench.slow_clients import slow_clients

            slow_clients(ws, results)
        if "inbox" in chosen:
            from bench.inbox import inbox

            inbox(ws, results)
        if "export" in chosen:
            from bench.export import export

            export(ws, results)
        if "sessions" in chosen:
            from bench.sessions import sessions

            sessions(ws, results)
        if "sanitize" in chosen:
            from bench.sanitize import sanitize_bench

            sanitize_bench(ws, results)
        if "workstation" in chosen:
            from bench.workstation import workstation

            workstation(ws, results)
        if "map" in chosen:
            from bench.map import map_bench

            map_bench(ws, results)
        if "intake" in chosen:
            from bench.intake import intake

            intake(ws, results, args.seconds)
        if "backup" in chosen:
            from bench.backup import backup_bench

            backup_bench(ws, results)
    finally:
        ws.close()
    print()
    print(results.table())
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    missed = [r for r in results.rows if r.ok is False]
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
