"""A 2 KB report through the whole server path: envelope against OpenPGP, and the ceiling."""

from __future__ import annotations

import datetime as dt
import io
import time
from typing import Any

from werkzeug.formparser import parse_form_data
from werkzeug.test import EnvironBuilder

from bench.common import (
    REPORT_BYTES,
    OpenPGPReportService,
    Results,
    Workspace,
    cpu_count,
    median_ms,
    run_threads,
)
from bench.http import bench_server, multipart, new_source, wrk
from securedrop_like.codenames import generate_codename
from securedrop_like.derivation import Deriver
from securedrop_like.service import ReportService, Submission

THREADS = 8
ROUNDS = 3


def _report_text() -> str:
    sentence = "He said the certificate would be signed only if I came back alone. "
    return (sentence * (REPORT_BYTES // len(sentence) + 1))[:REPORT_BYTES]


def _body() -> tuple[bytes, str]:
    return multipart(
        {
            "csrf_token": "x" * 43,
            "what_happened": _report_text(),
            "types": "sextortion",
            "district": "nasimi",
            "perpetrator": "official",
            "service": "documents",
            "consent": "ask_first",
        }
    )


def _one(service: ReportService, source_id: str, body: bytes, ctype: str) -> None:
    """Parse the multipart request, build the document, seal, store, commit (fsync)."""
    from source_interface.forms import parse_report

    environ = EnvironBuilder(
        method="POST", input_stream=io.BytesIO(body), content_type=ctype, content_length=len(body)
    ).get_environ()
    _, form, _files = parse_form_data(environ)
    result = parse_report(form, 100_000, dt.date.today())
    assert result.ok
    service.add_submission(source_id, Submission("report", result.document))


def _throughput(service: ReportService, source_id: str, seconds: float) -> float:
    body, ctype = _body()
    done = [0] * THREADS
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        while time.monotonic() < stop:
            _one(service, source_id, body, ctype)
            done[n] += 1

    elapsed = run_threads(THREADS, worker)
    return sum(done) / elapsed


def _latency(service: ReportService, source_id: str, n: int) -> float:
    body, ctype = _body()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        _one(service, source_id, body, ctype)
        samples.append(time.perf_counter() - t0)
    return median_ms(samples)


def _source(service: ReportService, config: Any) -> str:
    deriver = Deriver(config)
    keys = deriver.derive(deriver.normalise(generate_codename()))
    return service.create_source(keys, Submission("report", {"text": "first"}))


def in_process(ws: Workspace, results: Results, seconds: float) -> None:
    from source_interface import create_app

    config, _ = ws.instance("inproc-env")
    gconfig, _ = ws.instance("inproc-gpg")
    fconfig, _ = ws.instance("inproc-blobs", inline_ciphertext_bytes=1)
    pgp, fingerprint = ws.gpg()
    env_service = ReportService.open(config)
    file_service = ReportService.open(fconfig)
    gpg_service = OpenPGPReportService.open(gconfig)
    gpg_service.pgp, gpg_service.fingerprint = pgp, fingerprint
    app = create_app(config, service=env_service)  # for translations in the form code
    try:
        with app.app_context():
            env_src, gpg_src = _source(env_service, config), _source(gpg_service, gconfig)
            env_lat = _latency(env_service, env_src, 300)
            file_lat = _latency(file_service, _source(file_service, fconfig), 300)
            gpg_lat = _latency(gpg_service, gpg_src, 60)
            env_rate = _throughput(env_service, env_src, seconds)
            gpg_rate = _throughput(gpg_service, gpg_src, seconds)
    finally:
        env_service.close()
        file_service.close()
        gpg_service.close()
        pgp.close()
    results.add("in-process 2 KB report, envelope: median latency", f"{env_lat:.2f} ms")
    # Why small ciphertexts live in their item's row: a blob of their own
    # costs two more tables' rows in the same transaction.
    results.add("in-process 2 KB report, ciphertext as a blob instead", f"{file_lat:.2f} ms")
    results.add("in-process 2 KB report, OpenPGP: median latency", f"{gpg_lat:.2f} ms")
    latency_ratio = gpg_lat / env_lat
    results.add(
        "in-process cost per report OpenPGP/envelope",
        f"{latency_ratio:.1f}×",
        "≥ 6×",
        latency_ratio >= 6,
    )
    results.add(f"in-process reports/s, envelope ({THREADS} threads)", f"{env_rate:.0f}/s")
    results.add(f"in-process reports/s, OpenPGP ({THREADS} threads)", f"{gpg_rate:.0f}/s")
    ratio = env_rate / gpg_rate
    results.add("in-process throughput envelope/OpenPGP", f"{ratio:.1f}×")


def over_http(ws: Workspace, results: Results, seconds: int, connections: int = 16) -> None:
    """The default server (one worker process) against the targets; then, for
    information, one worker per core."""
    _over_http(ws, results, seconds, connections, 1, targets=True)
    if cpu_count() > 1:
        _over_http(ws, results, seconds, connections, cpu_count(), targets=False)


def _over_http(
    ws: Workspace,
    results: Results,
    seconds: int,
    connections: int,
    workers: int,
    targets: bool,
) -> None:
    config, _ = ws.instance(f"http-env-{workers}", server_workers=workers)
    gconfig, _ = ws.instance(f"http-gpg-{workers}", server_workers=workers)
    pgp, fingerprint = ws.gpg(f"gnupg-{workers}")
    pgp.close()
    label = f"HTTP, {workers} worker{'s' if workers > 1 else ''}:"
    with bench_server(config.home) as (base, _pid):
        who = new_source(base)
        body, ctype = multipart({"csrf_token": who.token, "message": _report_text()})
        wrk(base + "/_bench/noop", body, ctype, who.cookie, 2, connections, ws.root)  # warm-up
        # Alternate the loads and keep the median of each, so that a passing
        # disturbance on the machine does not decide a ratio.
        noops, envs, gpgs = [], [], []
        with bench_server(gconfig.home, "openpgp", ws.root / f"gnupg-{workers}", fingerprint) as (
            gbase,
            _,
        ):
            gwho = new_source(gbase)
            gbody, gctype = multipart({"csrf_token": gwho.token, "message": _report_text()})
            for _ in range(ROUNDS):
                noops.append(
                    wrk(
                        base + "/_bench/noop",
                        body,
                        ctype,
                        who.cookie,
                        seconds,
                        connections,
                        ws.root,
                    )
                )
                envs.append(
                    wrk(
                        base + "/case/message",
                        body,
                        ctype,
                        who.cookie,
                        seconds,
                        connections,
                        ws.root,
                    )
                )
                gpgs.append(
                    wrk(
                        gbase + "/case/message",
                        gbody,
                        gctype,
                        gwho.cookie,
                        seconds,
                        connections,
                        ws.root,
                    )
                )
        noop, env, gpg = (sorted(r, key=lambda x: x.rps)[ROUNDS // 2] for r in (noops, envs, gpgs))
        answered = sum(r.requests for r in envs)
        errors = sum(r.errors for r in envs)
    # Every request wrk counted must be a stored, committed message.
    service = ReportService.open(config)
    try:
        stored = sum(
            1 for s in _all_sources(service) for i in service.items(s) if i.kind == "message"
        )
    finally:
        service.close()
    for name, r in (("no-op endpoint", noop), ("submit, envelope", env), ("submit, OpenPGP", gpg)):
        results.add(
            f"{label} {name}", f"{r.rps:.0f} req/s, p50 {r.p50_ms:.1f} ms, {r.errors} errors"
        )
    results.add(
        f"{label} submits stored / answered",
        f"{stored} / {answered}",
        "all stored",
        stored >= answered and errors == 0,
    )
    ratio = env.rps / gpg.rps
    if not targets:
        results.add(f"{label} submit rate envelope/OpenPGP", f"{ratio:.1f}×")
        results.add(f"{label} submit rate / no-op rate", f"{env.rps / noop.rps:.0%}")
        return
    results.add(f"{label} submit rate envelope/OpenPGP", f"{ratio:.1f}×", "≥ 4×", ratio >= 4)
    ceiling = env.rps / noop.rps
    results.add(f"{label} submit rate / no-op rate", f"{ceiling:.0%}", "≥ 40 %", ceiling >= 0.4)


def _all_sources(service: ReportService) -> list[str]:
    return [r[0] for r in service.db.reader().execute("SELECT id FROM sources").fetchall()]
