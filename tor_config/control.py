"""Talking to tor through its control port, with stem.

- :func:`connect`: a controller on 127.0.0.1, authenticated with tor's cookie;
- :func:`bootstrap` and :func:`status`: how far tor has come, and for each
  onion whether tor has built its descriptor and whether the directories
  hand it out (:func:`descriptor_published` fetches it back);
- :class:`UploadWatcher`: wait until tor has uploaded the descriptors of
  some onions;
- :func:`add_ephemeral_onion`: an onion that lives as long as the control
  connection (``sesim demo --tor``, tests);
- :func:`add_client_auth`: give a client tor a key for a client-authorised
  onion (what Tor Browser does when it asks for one);
- :func:`reload`: make tor re-read its torrc and ``authorized_clients/``.
"""

from __future__ import annotations

import base64
import queue
import re
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import stem
import stem.connection
from stem.control import Controller, EventType

from crypto import OnionServiceKey
from securedrop_like.config import Config

from .clients import check_name, control_port_key, list_clients, onion_id, parse_private_line
from .errors import TorConfigError
from .torrc import onions, read_address

_PROGRESS = re.compile(r"PROGRESS=(\d+)")
_SUMMARY = re.compile(r'SUMMARY="([^"]*)"')


def connect(port: int, address: str = "127.0.0.1") -> Controller:
    """An authenticated controller (cookie authentication, as offered by tor)."""
    try:
        with warnings.catch_warnings():
            # stem 1.8 starts its threads with Thread.setDaemon(), deprecated since 3.10.
            warnings.filterwarnings("ignore", r"setDaemon\(\) is deprecated", DeprecationWarning)
            controller = Controller.from_port(address=address, port=port)
    except stem.SocketError as exc:
        where = f"{address}:{port}"
        raise TorConfigError(f"tor's control port {where} does not answer ({exc})") from exc
    try:
        controller.authenticate()
    except (stem.connection.AuthenticationFailure, stem.SocketError) as exc:
        controller.close()
        raise TorConfigError(f"tor refused our control-port authentication ({exc})") from exc
    return controller


def connect_config(config: Config) -> Controller:
    return connect(config.tor_control_port)


def bootstrap(controller: Controller) -> tuple[int, str]:
    """(percent, tor's summary) of tor's bootstrap."""
    phase = controller.get_info("status/bootstrap-phase", "")
    progress = _PROGRESS.search(phase)
    summary = _SUMMARY.search(phase)
    return (int(progress.group(1)) if progress else 0, summary.group(1) if summary else phase)


def descriptor_built(controller: Controller, address: str) -> bool:
    """Has tor built a descriptor for an onion it runs?"""
    try:
        return bool(controller.get_info(f"hs/service/desc/id/{onion_id(address)}", ""))
    except stem.ControllerError:
        return False


def _hs_desc_queue(controller: Controller) -> tuple[queue.Queue[Any], Any]:
    events: queue.Queue[Any] = queue.Queue()
    listener = events.put
    controller.add_event_listener(listener, EventType.HS_DESC)
    return events, listener


def descriptor_published(controller: Controller, address: str, timeout: float = 30) -> bool:
    """Fetch the onion's descriptor back from the directories: True if they serve it."""
    ident = onion_id(address)
    events, listener = _hs_desc_queue(controller)
    try:
        controller.msg(f"HSFETCH {ident}")
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = events.get(timeout=left)
            except queue.Empty:
                break
            if event.address != ident:
                continue
            if event.action == stem.HSDescAction.RECEIVED:
                return True
            if event.action == stem.HSDescAction.FAILED:
                return False
        return False
    finally:
        controller.remove_event_listener(listener)


class UploadWatcher:
    """Collects HS_DESC upload events from the moment it is made.

    Make it before tor could upload (right after connecting), then
    :meth:`wait` for the onions you need.
    """

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.uploaded: dict[str, int] = {}
        self._directory_of: dict[str, str] = {}
        self._changed = threading.Condition()
        controller.add_event_listener(self._on_event, EventType.HS_DESC)

    def _on_event(self, event: Any) -> None:
        with self._changed:
            if event.action == stem.HSDescAction.UPLOAD:
                self._directory_of[event.directory_fingerprint] = event.address
            elif event.action == stem.HSDescAction.UPLOADED:
                address = event.address
                if address in ("", "UNKNOWN", None):
                    address = self._directory_of.get(event.directory_fingerprint, "")
                self.uploaded[address] = self.uploaded.get(address, 0) + 1
                self._changed.notify_all()

    def wait(self, addresses: Iterable[str], timeout: float) -> None:
        """Until each onion has reached at least one directory; TorConfigError on timeout."""
        wanted = {onion_id(a) for a in addresses}
        with self._changed:
            done = self._changed.wait_for(lambda: wanted <= set(self.uploaded), timeout)
        if not done:
            missing = ", ".join(sorted(wanted - set(self.uploaded)))
            raise TorConfigError(f"no descriptor uploaded within {timeout:.0f} s for: {missing}")

    def close(self) -> None:
        self.controller.remove_event_listener(self._on_event)


def add_ephemeral_onion(
    controller: Controller,
    virtual_port: int,
    local_port: int,
    *,
    key: OnionServiceKey | None = None,
    client_public_keys: Iterable[str] = (),
) -> str:
    """An onion to 127.0.0.1:``local_port`` for as long as this control connection lives.

    ``client_public_keys`` (base32) make it client-authorised. Returns its address.
    """
    if key is None:
        spec = "NEW:ED25519-V3"
    else:
        spec = "ED25519-V3:" + base64.b64encode(key.unsafe_expanded_secret()).decode("ascii")
    clients = list(client_public_keys)
    command = f"ADD_ONION {spec} Flags=DiscardPK"
    if clients:
        command += ",V3Auth"
    command += f" Port={virtual_port},127.0.0.1:{local_port}"
    command += "".join(f" ClientAuthV3={public}" for public in clients)
    response = controller.msg(command)
    if not response.is_ok():
        raise TorConfigError(f"tor refused to add an onion: {response}")
    fields = dict(content.partition("=")[::2] for _code, _div, content in response.content())
    return f"{onion_id(fields.get('ServiceID', ''))}.onion"


def add_client_auth(controller: Controller, private_line: str, name: str = "") -> None:
    """Tell a client tor the key of a client-authorised onion (``<id>:descriptor:x25519:…``)."""
    ident, private = parse_private_line(private_line)
    command = f"ONION_CLIENT_AUTH_ADD {ident} {control_port_key(private)}"
    if name:
        command += f" ClientName={check_name(name)}"
    response = controller.msg(command)
    # 250 OK; 251 replaced an older key; 252 added, and a cached descriptor decrypted.
    if not all(code in ("250", "251", "252") for code, _, _ in response.content()):
        raise TorConfigError(f"tor refused the client key: {response}")


def reload(controller: Controller) -> None:
    """Make tor re-read its torrc and every ``authorized_clients/`` folder."""
    controller.signal(stem.Signal.RELOAD)


@dataclass
class OnionStatus:
    name: str
    address: str
    configured: str  # what config.toml says ("" if nothing)
    clients: int | None  # people with a key, for client-authorised onions
    running: bool = False  # tor runs an onion from this folder
    built: bool = False  # tor has a descriptor for it
    published: bool | None = None  # the directories serve it (None: not checked)


@dataclass
class TorStatus:
    version: str = ""
    bootstrap: int = 0
    summary: str = ""
    onions: list[OnionStatus] = field(default_factory=list)
    error: str = ""


def status(config: Config, *, check_published: bool = False, timeout: float = 30) -> TorStatus:
    """What tor says about this instance's onions (and what the folders hold)."""
    configured = {
        "source": config.onion_address,
        "staff": config.staff_onion_address,
        "ssh": "",
    }
    result = TorStatus()
    for service in onions(config):
        clients = len(list_clients(service.directory)) if service.client_auth else None
        result.onions.append(
            OnionStatus(
                service.name,
                read_address(service.directory),
                configured[service.name],
                clients,
            )
        )
    try:
        controller = connect_config(config)
    except TorConfigError as exc:
        result.error = str(exc)
        return result
    try:
        result.version = str(controller.get_version()).split(" ")[0]
        result.bootstrap, result.summary = bootstrap(controller)
        running = {str(directory) for directory in controller.get_hidden_service_conf({}).keys()}
        for entry, service in zip(result.onions, onions(config), strict=True):
            entry.running = str(service.directory) in running
            if entry.address and entry.running:
                entry.built = descriptor_built(controller, entry.address)
                if check_published and entry.built:
                    entry.published = descriptor_published(controller, entry.address, timeout)
    except stem.ControllerError as exc:
        result.error = f"tor's control port: {exc}"
    finally:
        controller.close()
    return result
