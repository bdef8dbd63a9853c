"""``sesim demo --tor``: the demo's two interfaces also as ephemeral onion services.

A tor of the demo's own (its data in the instance folder, no SOCKS port, a
control port tor picks) is started; two onions are added through its control
port with keys made here, so their addresses are known before the servers
start and the Host check can name them. The staff onion is client-authorised
like a real one, and the demo prints the key line Tor Browser asks for. The
onions live as long as the control connection; tor exits with the demo.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crypto import OnionServiceKey

from .clients import ClientKey, new_client_key
from .control import add_ephemeral_onion, connect
from .errors import TorConfigError

START_TIMEOUT = 30.0


@dataclass
class DemoOnions:
    source: str  # address
    staff: str
    staff_client: ClientKey
    process: subprocess.Popen[bytes]
    controller: Any

    def close(self) -> None:
        try:
            self.controller.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def tor_available() -> bool:
    return shutil.which("tor") is not None


def demo_torrc(data_dir: Path, owner: int) -> str:
    return "\n".join(
        [
            f"DataDirectory {data_dir}",
            "SocksPort 0",
            "ControlPort 127.0.0.1:auto",
            f"ControlPortWriteToFile {data_dir / 'control-port'}",
            "CookieAuthentication 1",
            "SafeLogging 1",
            "Log notice file " + str(data_dir / "notice.log"),
            f"__OwningControllerProcess {owner}",
            "",
        ]
    )


def _control_port(path: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TorConfigError(f"tor stopped at start (exit {process.returncode})")
        try:
            text = path.read_text("ascii").strip()  # PORT=127.0.0.1:NNNN
        except FileNotFoundError:
            text = ""
        if text.startswith("PORT=") and text.endswith(tuple("0123456789")):
            return int(text.rpartition(":")[2])
        time.sleep(0.05)
    raise TorConfigError("tor did not open its control port in time")


def start_demo_onions(home: Path, source_port: int, staff_port: int) -> DemoOnions:
    """Start the demo's tor and add its two onions (to 127.0.0.1 ports)."""
    data_dir = home / "demo-tor"
    data_dir.mkdir(mode=0o700, exist_ok=True)
    (data_dir / "control-port").unlink(missing_ok=True)
    torrc = data_dir / "torrc"
    torrc.write_text(demo_torrc(data_dir, os.getpid()), "utf-8")
    process = subprocess.Popen(  # noqa: S603 - tor with our own torrc
        [shutil.which("tor") or "tor", "-f", str(torrc)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        controller = connect(_control_port(data_dir / "control-port", process))
    except BaseException:
        process.kill()
        process.wait(timeout=5)
        raise
    try:
        source_key, staff_key = OnionServiceKey.generate(), OnionServiceKey.generate()
        staff_address = staff_key.address
        client = new_client_key("demo", staff_address)
        source = add_ephemeral_onion(controller, 80, source_port, key=source_key)
        staff = add_ephemeral_onion(
            controller, 80, staff_port, key=staff_key, client_public_keys=[client.public]
        )
    except BaseException:
        controller.close()
        process.kill()
        process.wait(timeout=5)
        raise
    return DemoOnions(source, staff, client, process, controller)
