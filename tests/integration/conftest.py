"""Fixtures for the integration tests: a private Tor network, and the real apps behind onions.

``tor_network`` launches the authorities of a private Tor network (see
``tor_network.py``). ``onion_site`` sets up an instance the way an
administrator would (``sesim tor torrc --write``: onion keys, the torrc,
the staff's client keys), serves both apps with real gunicorn servers, runs
the generated torrc in a tor on that network, and adds two client tors: one
without any key (a woman's Tor Browser) and one with a lawyer's key in its
``ClientOnionAuthDir``. Both are session-scoped: the network is built once.

Without tor the tests are skipped, except under CI (``$CI`` set), where
they fail: a missing tor must never pass silently there. A tor that is
there but does not start fails them everywhere.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from securedrop_like.config import CONFIG_NAME, load_config, render_toml
from securedrop_like.demo import install_demo_reviewer
from securedrop_like.instance import init_instance
from tests.conftest import FAST_ARGON2, Instance
from tests.integration.server import free_port, running_server
from tests.integration.tor_network import OnionSite, PortTaken, TorNetwork, require_tor
from tor_config import ClientKey, list_clients, onion, prepare, write_torrc
from tor_config.clients import onion_id
from tor_config.control import UploadWatcher


@pytest.fixture(scope="session")
def tor_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorNetwork]:
    require_tor()
    network = TorNetwork(tmp_path_factory.mktemp("tor-network"))
    try:
        network.start()
        yield network
    finally:
        network.stop()


def _printed_key(home: Path, name: str) -> tuple[str, str]:
    """(the key for Tor Browser, the ClientOnionAuthDir line), each read from its own
    line of what `sesim tor add-staff-client NAME` prints."""
    from sesim.cli import main

    runner = CliRunner(env={"SESIM_TOR_CONTROL_PORT": str(free_port())})  # no tor there
    result = runner.invoke(main, ["tor", "add-staff-client", name, "--home", str(home)])
    assert result.exit_code == 0, result.output
    bare = re.search(r"^  ([A-Z2-7]{52})$", result.output, re.MULTILINE)
    line = re.search(r"^  ([a-z2-7]{56}:descriptor:x25519:[A-Z2-7]{52})$", result.output, re.M)
    assert bare and line, result.output
    return bare[1], line[1]


def _port(base_url: str) -> int:
    return int(urlsplit(base_url).port or 0)


@pytest.fixture(scope="session")
def onion_site(
    tor_network: TorNetwork, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OnionSite]:
    root = tmp_path_factory.mktemp("onion-site")
    home = root / "instance"
    # What an administrator does: init, `sesim tor torrc --write`, the addresses
    # into config.toml, a key for each lawyer.
    config = init_instance(home, dict(FAST_ARGON2))
    reviewer = install_demo_reviewer(config)
    addresses = prepare(config)
    with (home / CONFIG_NAME).open("a", encoding="utf-8") as fh:
        fh.write(
            render_toml(
                {"onion_address": addresses["source"], "staff_onion_address": addresses["staff"]}
            )
        )
    config = load_config(home)
    staff_dir = onion(config, "staff").directory
    # Each key as `sesim tor add-staff-client` prints it: the lawyer's tor client keeps
    # the full line in its ClientOnionAuthDir; the spare key is the bare one a lawyer
    # pastes into Tor Browser (which hands it to tor as ONION_CLIENT_AUTH_ADD).
    _bare, lawyer_line = _printed_key(home, "lawyer")
    spare_bare, _line = _printed_key(home, "lawyer-2")
    (spare_public,) = [c.public for c in list_clients(staff_dir) if c.name == "lawyer-2"]
    spare_key = ClientKey("lawyer-2", onion_id(addresses["staff"]), spare_public, spare_bare)
    auth_dir = root / "lawyer-client-auth"
    auth_dir.mkdir(mode=0o700)
    (auth_dir / "lawyer.auth_private").write_text(lawyer_line + "\n")

    with ExitStack() as stack:
        # Staff first: a server's writer process removes the sockets of the writers
        # before it as stale, and only the source server writes in these tests.
        staff_base = stack.enter_context(running_server(home, "staff", root / "staff.log"))
        source_base = stack.enter_context(running_server(home, "source", root / "source.log"))
        config = config.with_changes(
            source_local_port=_port(source_base), staff_local_port=_port(staff_base)
        )
        tor_network.wait_for_consensus()
        for attempt in range(3):
            # The control port is the instance's setting: picked at the last moment.
            config = config.with_changes(tor_control_port=free_port())
            try:
                service = tor_network.start_tor(
                    "service", include=write_torrc(config), control_port=config.tor_control_port
                )
                break
            except PortTaken:
                if attempt == 2:
                    raise
        # Made before tor could upload anything: it sees every upload.
        watcher = UploadWatcher(service.controller)
        public = tor_network.start_client("public")
        lawyer = tor_network.start_client("lawyer", auth_dir)
        # The addresses tor uploads for are computed by tor from our keys.
        watcher.wait([addresses["source"], addresses["staff"]], timeout=30)
        watcher.close()
        for client in (public, lawyer):
            tor_network.wait_bootstrapped(client)
        consensus = tor_network.consensus_at - tor_network.started_at
        ready = time.monotonic() - tor_network.started_at
        print(
            f"\nprivate Tor network: consensus {consensus:.1f} s, onions uploaded and clients "
            f"ready {ready:.1f} s after the authorities were launched"
        )
        yield OnionSite(
            network=tor_network,
            instance=Instance(config, reviewer),
            source_url=f"http://{addresses['source']}",
            staff_url=f"http://{addresses['staff']}",
            public=public,
            lawyer=lawyer,
            spare_key=spare_key,
            service=service,
            source_base=source_base,
        )
