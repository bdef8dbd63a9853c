"""``sesim serve intake`` as a real process on 127.0.0.1: it starts, answers, refuses,
caps, stops on SIGTERM (by its PID), flushes at its next start what it left pending,
turns core dumps off, and prints no address or text (its whole output is read)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import Instance
from tests.intake.app_support import CONSTANT, FAKE_SECRET
from tests.intake.core_support import count
from tests.integration.server import free_port, stop

PHONE = "+994559990011"
CANARY = "Canary-intake-server müdir otaq 7"

# The real channel modules may not serve "webhook" in this checkout: the process
# adds the app package's fake channel to the module registry, then runs the CLI.
LAUNCH = """
import sys
import intake.settings as s
from tests.intake.app_support import fake_channel
sys.modules["tests_fake_channel"] = fake_channel()
s.MODULES = (*s.MODULES, "tests_fake_channel")
from sesim.cli import main
main(["serve", "intake", *sys.argv[1:]], prog_name="sesim")
"""


def _configure(instance: Instance, window: float) -> None:
    with (instance.home / "config.toml").open("a", encoding="utf-8") as fh:
        fh.write(f"\n[intake]\njoin_window_seconds = {window}\n\n[intake.webhook]\n")
    secrets = instance.home / "secrets" / "intake.toml"
    secrets.write_text(f'webhook_secret = "{FAKE_SECRET}"\n', "utf-8")
    secrets.chmod(0o600)


class Server:
    def __init__(self, instance: Instance, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, "--home", str(instance.home)]
                + ["--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.health = requests.get(self.base + "/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert self.proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the intake server did not start"
                time.sleep(0.1)

    def post(self, text: str, mid: str, key: str = FAKE_SECRET, **kw: object) -> requests.Response:
        body = json.dumps({"from": PHONE, "text": text, "id": mid}).encode()
        return requests.post(
            self.base + "/sms/webhook", data=body, headers={"X-Test-Key": key}, timeout=10, **kw
        )  # type: ignore[arg-type]

    def stop(self) -> float:
        started = time.monotonic()
        stop(self.proc, signal.SIGTERM, timeout=20)
        return time.monotonic() - started


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "intake-server.log"
    yield path


@pytest.mark.timeout(120)
def test_serve_intake_answers_refuses_stops_and_flushes_at_restart(
    instance: Instance, log: Path
) -> None:
    _configure(instance, window=3600)  # nothing is joined while it runs
    server = Server(instance, log)
    try:
        assert server.health.status_code == 200 and server.health.text == "ok"
        assert server.health.headers["Server"] == "sesim"
        limits = Path(f"/proc/{server.proc.pid}/limits").read_text()
        core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"]  # no core dump can hold her address

        first = server.post(CANARY, "srv-1")
        assert (first.status_code, first.content) == (200, CONSTANT)
        again = server.post(CANARY, "srv-1")
        assert (again.status_code, again.content) == (200, CONSTANT)
        assert server.post(CANARY, "srv-2", key="wrong").status_code == 403
        disabled = requests.post(server.base + "/sms/smssync", data=b"{}", timeout=10)
        assert disabled.status_code == 404
        big = b"x" * (64 * 1024 + 1)
        assert requests.post(server.base + "/sms/webhook", data=big, timeout=10).status_code == 413

        def chunks() -> Iterator[bytes]:
            for _ in range(80):
                yield b"y" * 1024

        chunked = requests.post(server.base + "/sms/webhook", data=chunks(), timeout=10)
        assert chunked.status_code == 413
        assert count(instance.config, "intake_parts") == 1
    finally:
        took = server.stop()
    assert server.proc.returncode is not None and took < 15
    assert count(instance.config, "sources") == 0  # still waiting, sealed

    # A new start knows no deadline: it joins what was left at once.
    server = Server(instance, log)
    try:
        deadline = time.monotonic() + 20
        while count(instance.config, "sources") == 0:
            assert time.monotonic() < deadline, "the pending part was not joined at start"
            time.sleep(0.2)
        assert count(instance.config, "intake_parts") == 0
    finally:
        server.stop()

    output = log.read_text("utf-8", errors="replace")
    assert "Intake on http://127.0.0.1:" in output
    for secret in (PHONE, PHONE[1:], "Canary", "müdir", FAKE_SECRET):
        assert secret not in output, output


@pytest.mark.timeout(60)
def test_serve_intake_refuses_a_bad_configuration_without_quoting_secrets(
    instance: Instance, tmp_path: Path
) -> None:
    with (instance.home / "config.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[intake.twilio]\naccount_sid = "AC123"\n')
    secrets = instance.home / "secrets" / "intake.toml"
    secrets.write_text('twilio_auth_token = "TOKEN-VALUE-77"\n', "utf-8")
    secrets.chmod(0o644)
    done = subprocess.run(
        [sys.executable, "-m", "sesim", "serve", "intake", "--home", str(instance.home)]
        + ["--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 1
    # The secrets file others can read, or (where intake.sms is not there yet) no module.
    assert "chmod 600" in done.stderr or "no channel module serves" in done.stderr, done.stderr
    assert "TOKEN-VALUE-77" not in done.stderr + done.stdout
