"""The demo's intake server (SMS, e-mail, Messenger and X) and the sink its answers go to.

``sesim demo`` serves the intake app on base-port + 4 with the SMSSync, Twilio,
generic webhook, Messenger and X providers enabled under random demo secrets
(written to ``secrets/intake.toml``, 0600, and printed). What it sends — the
automatic answers, the lawyers' replies — goes to a small local sink instead of
Twilio, Meta or X: a process of its own on 127.0.0.1 that answers as those APIs do
and logs only which provider was called and how many bytes it was sent (never
an address or a text). E-mail (provider ``imap``) is enabled too when dovecot is
installed: a demo mailbox and a demo SMTP server (``demo_mail.py``) stand in for
a real provider's.

The demo's ``[intake]`` tables are appended to config.toml after a marker line and
rewritten at every start (the sink's port changes).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
import tomllib
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from securedrop_like.config import CONFIG_NAME, Config

DEMO_PROVIDERS = ("smssync", "twilio", "webhook", "messenger", "x")
SECRET_KEYS = (
    "smssync_secret",
    "twilio_auth_token",
    "webhook_secret",
    "messenger_app_secret",
    "messenger_verify_token",
    "messenger_page_token",
    "x_consumer_key",
    "x_consumer_secret",
    "x_access_token",
    "x_access_token_secret",
    "imap_password",
    "smtp_password",
)
MARK = "# --- The demo's intake server (sesim demo rewrites everything below) ---"
SINK_PORT_FILE = "demo-sink.port"
DEMO_NUMBER = "+994501234500"  # an invented number: the demo's "From"
JOIN_WINDOW = 30  # seconds: the demo shows a joined report sooner than a real server
MAX_SINK_BODY = 1 << 20


def demo_secrets(config: Config) -> dict[str, str]:
    """The demo's intake secrets: those already in secrets/intake.toml (a re-used demo
    folder), else new random ones, written 0600."""
    path = config.secrets_dir / "intake.toml"
    try:
        kept = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        kept = {}
    if all(isinstance(kept.get(key), str) and len(kept[key]) >= 16 for key in SECRET_KEYS):
        return {key: kept[key] for key in SECRET_KEYS}
    made = {key: secrets.token_urlsafe(24) for key in SECRET_KEYS}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# The demo's intake secrets (DEMO ONLY).\n")
        fh.writelines(f'{key} = "{value}"\n' for key, value in made.items())
    os.chmod(path, 0o600)
    return made


def intake_tables(intake_port: int, sink: str, imap: str = "", email: str = "") -> str:
    """The demo's ``[intake]`` tables: the SMS, Messenger and X providers with their
    answers to ``sink``, and ``imap`` (the demo mailbox's ``[intake.imap]`` table, or
    "" without e-mail) with the public address ``email``."""
    public_email = f'email = "{email}"\n' if email else ""
    return f"""{MARK}
[intake]
join_window_seconds = {JOIN_WINDOW}
public_url = "http://127.0.0.1:{intake_port}"

[intake.smssync]

[intake.twilio]
account_sid = "ACdemo0000000000000000000000000000"
number = "{DEMO_NUMBER}"
api_base = "{sink}"

[intake.webhook]
send_url = "{sink}/webhook/send"

[intake.messenger]
page_id = "100000000000001"
api_base = "{sink}"
api_version = "v21.0"

[intake.x]
user_id = "1000000000000000001"
api_base = "{sink}"

{imap}
[intake.public]
sms_number = "{DEMO_NUMBER}"
{public_email}messenger_url = "https://m.me/sesim.demo"
x_handle = "sesim_demo"
"""


def write_intake_config(
    config: Config, intake_port: int, sink: str, imap: str = "", email: str = ""
) -> None:
    """Put the demo's ``[intake]`` tables at the end of config.toml (replacing the
    previous demo start's)."""
    path = config.home / CONFIG_NAME
    text = path.read_text("utf-8")
    kept = text.split(MARK, 1)[0].rstrip("\n")
    path.write_text(kept + "\n\n" + intake_tables(intake_port, sink, imap, email), "utf-8")


def start_sink(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The sink in a process of its own (on a free port of 127.0.0.1); its base URL."""
    port_file = root / "run" / SINK_PORT_FILE
    port_file.parent.mkdir(parents=True, exist_ok=True)
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sesim.demo_intake", "--port-file", str(port_file)]
    )
    deadline = time.monotonic() + 15
    while not port_file.exists() or not port_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the demo's sink for outgoing messages did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{int(port_file.read_text())}"


def provider_of(path: str) -> str:
    """Which provider's API a request to the sink stands for, from its path."""
    if path.startswith("/2010-04-01/"):
        return "twilio"
    if path.startswith("/2/dm_conversations/"):
        return "x"
    if path.startswith("/webhook/"):
        return "webhook"
    if path.startswith("/v") and "/me/messages" in path:
        return "messenger"
    return "unknown"


def _answer(provider: str) -> tuple[int, dict[str, Any]]:
    """What the real API answers to a message it accepted (invented ids)."""
    fake = uuid.uuid4().hex
    if provider == "twilio":
        return 201, {"sid": "SM" + fake, "status": "queued"}
    if provider == "messenger":
        return 200, {"recipient_id": "0", "message_id": "m_" + fake}
    if provider == "x":
        return 201, {"data": {"dm_conversation_id": "0-0", "dm_event_id": fake[:18]}}
    if provider == "webhook":
        return 200, {"ok": True}
    return 404, {"error": "not a provider's API"}


class SinkHandler(BaseHTTPRequestHandler):
    """Accepts what the intake server sends; logs the provider and the byte count only."""

    protocol_version = "HTTP/1.1"
    server_version = "demo-sink"
    sys_version = ""

    def do_POST(self) -> None:  # noqa: N802 - the base class's name
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_SINK_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        provider = provider_of(self.path)
        status, doc = _answer(provider)
        print(f"Demo sink: {provider} was sent {len(body)} bytes", flush=True)
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no access log
        pass


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sesim.demo_intake")
    parser.add_argument("--port-file", required=True, type=Path)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), SinkHandler)
    args.port_file.write_text(str(server.server_address[1]))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
