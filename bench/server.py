"""The bench server: the real source app under gunicorn, plus a no-op endpoint.

``python -m bench.server --home DIR --port N [--variant envelope|openpgp]``.
The no-op endpoint goes through the same stack (session, CSRF exemption,
security headers) and answers without reading the body: the ceiling a real
endpoint on this server could reach.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flask import Flask

from crypto import OpenPGP
from securedrop_like.config import load_config
from securedrop_like.security import csrf_exempt
from securedrop_like.serve import serve


def make_app(
    home: str, variant: str, gnupg: str | None, fingerprint: str | None, shared: Any = None
) -> Flask:
    import os
    import sys

    from source_interface import create_app

    if os.environ.get("SW"):
        sys.setswitchinterval(float(os.environ["SW"]))
    config = load_config(home)
    service: Any = None
    if variant == "openpgp":
        from bench.common import OpenPGPReportService

        service = OpenPGPReportService.open(
            config,
            shared.writer_address if shared else None,
            shared.writer_authkey if shared else None,
        )
        service.pgp = OpenPGP(Path(gnupg or ""))
        service.fingerprint = fingerprint or ""
    app = create_app(config, service=service, shared=shared)

    @csrf_exempt
    def noop() -> str:
        return "ok"

    app.add_url_rule("/_bench/noop", "bench_noop", noop, methods=["POST"])

    def stats() -> dict[str, float]:
        writer = app.extensions["sesim"].service.writer
        return {"batches": writer.batches, "jobs": writer.jobs}

    app.add_url_rule("/_bench/stats", "bench_stats", stats)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--variant", default="envelope", choices=["envelope", "openpgp"])
    parser.add_argument("--gnupg")
    parser.add_argument("--fingerprint")
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    config = load_config(args.home)
    serve(
        lambda shared: make_app(args.home, args.variant, args.gnupg, args.fingerprint, shared),
        config,
        "127.0.0.1",
        args.port,
        threads=args.threads,
    )


if __name__ == "__main__":
    main()
