"""SMS through the intake server: messages per second through ``/sms/webhook``, each
authenticated (HMAC-SHA256), sealed (to the reviewers and the channel key; the
sender's number to the channel key alone), replay-marked and committed — against the
web path on the same machine in the same run: a message of the same text added to
her report on the source interface (``/case/message``: sealed and committed too).

Both servers run as they do in production: ``sesim serve intake`` (one process,
the in-process group-commit writer) and the source interface under gunicorn (one
worker and its writer process). wrk drives both, alternating, and the median of
each is kept. Every webhook body is distinct (a fresh message id: a replay would
store nothing), and the parts stored are counted afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from pathlib import Path

from bench.common import Results, Workspace, cpu_count
from bench.http import WrkResult, _lua_string, bench_server, multipart, new_source, run_wrk, wrk
from securedrop_like.config import Config
from securedrop_like.db import Database
from tests.integration.server import running_server

ROUNDS = 3
CONNECTIONS = 16
SENDERS = 500  # distinct numbers: many threads, several parts each
BODIES_PER_SECOND = 3000  # pre-signed bodies per second of load (more than it can take)
# One SMS of Azerbaijani text: 160 characters (three UCS-2 segments).
SMS_TEXT = (
    "Müdir dedi ki, sənədlərimi yalnız axşam tək gəlsəm imzalayacaq. Mən getmədim, "
    "indi məni işdən çıxarmaqla hədələyir. Otaq 214, ikinci mərtəbə, hər gün."
)[:160]


def _configure(config: Config, secret: str) -> None:
    with (config.home / "config.toml").open("a", encoding="utf-8") as fh:
        fh.write(
            "\n[intake]\njoin_window_seconds = 86400\n\n[intake.webhook]\n"
            'send_url = "http://127.0.0.1:9/unused"\n'
        )
    path = config.secrets_dir / "intake.toml"
    path.write_text(f'webhook_secret = "{secret}"\n', "utf-8")
    path.chmod(0o600)


def _script(workdir: Path, secret: str, count: int, round_no: int) -> Path:
    """A wrk script posting ``count`` distinct, signed webhook bodies in turn."""
    key = secret.encode()
    bodies, signatures = [], []
    for n in range(count):
        number = f"+99450{(n % SENDERS):07d}"
        doc = {"from": number, "to": "+994501234500", "text": SMS_TEXT,
               "id": f"bench-{round_no}-{n}-{uuid.uuid4().hex[:8]}"}  # fmt: skip
        body = json.dumps(doc, ensure_ascii=False).encode()
        bodies.append(_lua_string(body))
        signatures.append('"sha256=' + hmac.new(key, body, hashlib.sha256).hexdigest() + '"')
    path = workdir / f"wrk-intake-{uuid.uuid4().hex}.lua"
    path.write_text(
        "local bodies = {" + ",\n".join(bodies) + "}\n"
        "local sigs = {" + ",\n".join(signatures) + "}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  if n > #bodies then n = 1 end\n"
        '  return wrk.format("POST", "/sms/webhook", {["Content-Type"] = "application/json",'
        ' ["X-Sesim-Signature"] = sigs[n]}, bodies[n])\n'
        "end\n"
    )
    return path


def _stored_parts(config: Config) -> int:
    conn = Database.for_config(config).open()
    try:
        return int(conn.execute("SELECT COUNT(*) FROM intake_parts").fetchone()[0])
    finally:
        conn.close()


def intake(ws: Workspace, results: Results, seconds: int) -> None:
    secret = secrets.token_urlsafe(24)
    iconfig, _ = ws.instance("intake-sms")
    _configure(iconfig, secret)
    wconfig, _ = ws.instance("intake-web")
    count = BODIES_PER_SECOND * seconds
    sms: list[WrkResult] = []
    web: list[WrkResult] = []
    with running_server(iconfig.home, "intake", ws.root / "intake-server.log") as ibase:
        with bench_server(wconfig.home) as (wbase, _pid):
            who = new_source(wbase)
            body, ctype = multipart({"csrf_token": who.token, "message": SMS_TEXT})
            # Warm-up of both (not counted).
            run_wrk(
                ibase + "/sms/webhook", _script(ws.root, secret, 2000, 0), 1, CONNECTIONS, grace=60
            )
            wrk(wbase + "/case/message", body, ctype, who.cookie, 1, CONNECTIONS, ws.root)
            before = _stored_parts(iconfig)
            for n in range(1, ROUNDS + 1):
                script = _script(ws.root, secret, count, n)
                sms.append(run_wrk(ibase + "/sms/webhook", script, seconds, CONNECTIONS, grace=60))
                web.append(
                    wrk(
                        wbase + "/case/message",
                        body,
                        ctype,
                        who.cookie,
                        seconds,
                        CONNECTIONS,
                        ws.root,
                    )  # fmt: skip
                )
    stored = _stored_parts(iconfig) - before
    answered = sum(r.requests for r in sms)
    errors = sum(r.errors for r in sms)
    s, w = (sorted(r, key=lambda x: x.rps)[ROUNDS // 2] for r in (sms, web))
    label = f"intake, {cpu_count()} cores:"
    results.add(
        f"{label} /sms/webhook, sealed and committed",
        f"{s.rps:.0f} msg/s, p50 {s.p50_ms:.1f} ms, {s.errors} errors",
    )
    results.add(
        f"{label} web /case/message, same text",
        f"{w.rps:.0f} req/s, p50 {w.p50_ms:.1f} ms, {w.errors} errors",
    )
    results.add(
        f"{label} SMS parts stored / answered",
        f"{stored} / {answered}",
        "all stored",
        stored >= answered > 0 and errors == 0,
    )
    results.add(f"{label} SMS webhook rate / web message rate", f"{s.rps / w.rps:.2f}×")
