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


def make_app(home: str, variant: str, gnupg: str | None, fingerprint: str | None) -> Flask:
    from source_interface import create_app

    config = load_config(home)
    service: Any = None
    if variant == "openpgp":
        from bench.common import OpenPGPReportService

        service = OpenPGPReportService.open(config)
        service.pgp = OpenPGP(Path(gnupg or ""))
        service.fingerprint = fingerprint or ""
    app = create_app(config, service=service)

    @csrf_exempt
    def noop() -> str:
        return "ok"

    app.add_url_rule("/_bench/noop", "bench_noop", noop, methods=["POST"])
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--variant", default="envelope", choices=["envelope", "openpgp"])
    parser.add_argument("--gnupg")
    parser.add_argument("--fingerprint")
    args = parser.parse_args()
    serve(lambda: make_app(args.home, args.variant, args.gnupg, args.fingerprint),
          "127.0.0.1", args.port)


if __name__ == "__main__":
    main()
