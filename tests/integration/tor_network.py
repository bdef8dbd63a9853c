"""A private Tor network on 127.0.0.1: five directory authorities, then any tor you add.

Every tor runs with ``TestingTorNetwork 1`` and knows only these authorities,
so nothing ever leaves the machine. The authorities are also the network's
only relays (an onion circuit needs at least four routers; five give slack).
They vote every 10 s (vote and dist delays of 2 s) and the schedule is
shifted so the first vote falls about 5 s after launch; a service or client
tor is started only once an authority's consensus lists every router.

Each tor is started with ``__OwningControllerProcess`` set to this process,
and one stem controller per tor stays open: stem then takes ownership, so
tor exits when that controller closes — or when this process dies. Still,
:meth:`TorNetwork.stop` stops every tor it started by PID, bounded in time.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from stem.control import Controller

from securedrop_like.config import Config
from tests.conftest import Instance
from tests.integration.server import free_port
from tor_config import ClientKey
from tor_config.control import bootstrap, connect

TOR = shutil.which("tor") or "/usr/sbin/tor"
TOR_GENCERT = shutil.which("tor-gencert") or "/usr/bin/tor-gencert"
AUTHORITIES = 5
VOTING_INTERVAL = 10
VOTE_DELAY = 2
DIST_DELAY = 2
FIRST_VOTE_AFTER = 5  # seconds after launch


class TorNetworkError(RuntimeError):
    """A tor of the private network did not start or did not get ready in time."""


def tor_available() -> str:
    """"" if tor and tor-gencert can run here, else why not."""
    for binary in (TOR, TOR_GENCERT):
        if not os.access(binary, os.X_OK):
            return f"{binary} is missing: install Debian's tor package (apt-get install tor)"
    return ""


def require_tor() -> None:
    """Skip a test that needs tor when it is missing, but fail under CI (``$CI`` set)."""
    reason = tor_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def verify_config(torrc: Path, *options: str) -> str:
    """``tor --verify-config`` on a torrc; returns tor's output, fails the test if invalid."""
    result = subprocess.run(
        [TOR, "--verify-config", "-f", str(torrc), *options],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0 and "Configuration was valid" in result.stdout, result.stdout
    return result.stdout


@dataclass
class Tor:
    """One running tor: its process, its controller (kept open), where it logs."""

    name: str
    process: subprocess.Popen[bytes]
    controller: Controller
    data_dir: Path
    socks_port: int = 0

    @property
    def log(self) -> Path:
        return self.data_dir / "notice.log"

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class PortTaken(TorNetworkError):
    """A port picked for a tor was taken by someone else before tor could bind it."""


@dataclass
class Authority:
    nick: str
    data_dir: Path
    or_port: int = 0
    dir_port: int = 0
    v3ident: str = ""
    fingerprint: str = ""

    def pick_ports(self) -> None:
        self.or_port, self.dir_port = free_port(), free_port()

    def dir_authority_line(self) -> str:
        return (
            f"DirAuthority {self.nick} orport={self.or_port} no-v2 v3ident={self.v3ident} "
            f"127.0.0.1:{self.dir_port} {self.fingerprint}"
        )


@dataclass
class TorNetwork:
    root: Path
    authorities: list[Authority] = field(default_factory=list)
    tors: list[Tor] = field(default_factory=list)  # every tor started, to stop them all
    authority_tors: list[Tor] = field(default_factory=list)
    started_at: float = 0.0  # time.monotonic() when the authorities were launched
    consensus_at: float = 0.0

    # -- the authorities --------------------------------------------------------------
    def start(self, attempts: int = 3) -> None:
        """Make the authorities' keys and launch them (returns without waiting).

        Their ORPorts and DirPorts must be written into every torrc before any
        starts, so they are picked in advance; if another program takes one
        first, the authorities are started again on fresh ports.
        """
        for n in range(AUTHORITIES):
            data_dir = self.root / f"auth{n}"
            (data_dir / "keys").mkdir(mode=0o700, parents=True)
            self.authorities.append(Authority(f"auth{n}", data_dir))
        for attempt in range(attempts):
            for authority in self.authorities:
                authority.pick_ports()
            with ThreadPoolExecutor(max_workers=AUTHORITIES) as pool:
                # The certificate names the DirPort: made again with the ports.
                list(pool.map(self._make_keys, self.authorities))
            try:
                self._launch_authorities()
                return
            except PortTaken:
                _stop(self.authority_tors, timeout=3)
                self.authority_tors = []
                if attempt == attempts - 1:
                    raise

    def _launch_authorities(self) -> None:
        # Votes are sent VoteDelay + DistDelay before each interval boundary;
        # shift the boundaries so the first vote is FIRST_VOTE_AFTER seconds away.
        boundary = math.ceil(time.time() + FIRST_VOTE_AFTER + VOTE_DELAY + DIST_DELAY)
        offset = boundary % VOTING_INTERVAL
        authority_lines = self.dir_authority_lines()
        torrcs: list[tuple[Authority, list[str]]] = []
        for authority in self.authorities:
            torrc = [
                *self._common(authority.data_dir, own_control_port=True),
                f"Nickname {authority.nick}",
                "Address 127.0.0.1",
                f"ORPort 127.0.0.1:{authority.or_port}",
                f"DirPort 127.0.0.1:{authority.dir_port}",
                "SocksPort 0",
                "AuthoritativeDirectory 1",
                "V3AuthoritativeDirectory 1",
                f"ContactInfo {authority.nick}@test.invalid",
                "AssumeReachable 1",
                "ExitRelay 0",
                "ExitPolicy reject *:*",
                f"V3AuthVotingInterval {VOTING_INTERVAL}",
                f"V3AuthVoteDelay {VOTE_DELAY}",
                f"V3AuthDistDelay {DIST_DELAY}",
                f"TestingV3AuthInitialVotingInterval {VOTING_INTERVAL}",
                f"TestingV3AuthInitialVoteDelay {VOTE_DELAY}",
                f"TestingV3AuthInitialDistDelay {DIST_DELAY}",
                f"TestingV3AuthVotingStartOffset {offset}",
                "V3AuthNIntervalsValid 2",
                "TestingDirAuthVoteGuard *",
                "TestingDirAuthVoteHSDir *",
            ]
            torrcs.append((authority, torrc + authority_lines))
        # All at once, so that each is listening when the others publish to it.
        for authority, lines in torrcs:
            process = self._spawn(authority.nick, authority.data_dir, lines)
            self.authority_tors.append(self._register(authority.nick, process, authority.data_dir))
        self.started_at = time.monotonic()
        for tor in self.authority_tors:
            tor.controller = self._connect(tor, None)

    def _make_keys(self, authority: Authority) -> None:
        keys = authority.data_dir / "keys"
        identity = keys / "authority_identity_key"
        subprocess.run(
            [
                TOR_GENCERT,
                *([] if identity.exists() else ["--create-identity-key"]),
                "--passphrase-fd",
                "0",
                "-i",
                str(identity),
                "-s",
                str(keys / "authority_signing_key"),
                "-c",
                str(keys / "authority_certificate"),
                "-m",
                "12",
                "-a",
                f"127.0.0.1:{authority.dir_port}",
            ],
            input=b"\n",
            capture_output=True,
            check=True,
            timeout=30,
        )
        for line in (keys / "authority_certificate").read_text().splitlines():
            if line.startswith("fingerprint "):
                authority.v3ident = line.split()[1]
        if authority.fingerprint:
            return
        listed = subprocess.run(
            [
                TOR,
                "--ignore-missing-torrc",
                "-f",
                os.devnull,
                "--DataDirectory",
                str(authority.data_dir),
                "--ORPort",
                "127.0.0.1:1",
                "--list-fingerprint",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        authority.fingerprint = "".join(listed.stdout.strip().splitlines()[-1].split()[1:])
        if len(authority.fingerprint) != 40 or len(authority.v3ident) != 40:
            raise TorNetworkError(f"no fingerprint for {authority.nick}: {listed.stdout}")

    def dir_authority_lines(self) -> list[str]:
        return [a.dir_authority_line() for a in self.authorities]

    def wait_for_consensus(self, timeout: float = 40) -> float:
        """Until an authority's consensus lists every router; returns seconds since launch."""
        if self.consensus_at:
            return self.consensus_at - self.started_at
        deadline = time.monotonic() + timeout
        controller = self.authority_tors[0].controller
        while time.monotonic() < deadline:
            for tor in self.authority_tors:
                if tor.process.poll() is not None:
                    raise TorNetworkError(f"{tor.name} exited:\n{tor.log_tail()}")
            try:
                listed = sum(1 for _ in controller.get_network_statuses())
            except Exception:  # noqa: BLE001 - no consensus yet
                listed = 0
            if listed >= AUTHORITIES:
                self.consensus_at = time.monotonic()
                return self.consensus_at - self.started_at
            time.sleep(0.25)
        raise TorNetworkError(
            f"no consensus listing {AUTHORITIES} routers within {timeout:.0f} s:\n"
            + self.authority_tors[0].log_tail()
        )

    # -- any other tor ------------------------------------------------------------------
    def _common(self, data_dir: Path, *, own_control_port: bool) -> list[str]:
        lines = [
            "TestingTorNetwork 1",
            "PathsNeededToBuildCircuits 0.25",
            f"Log notice file {data_dir / 'notice.log'}",
            "ShutdownWaitLength 0",
            "RunAsDaemon 0",
        ]
        if own_control_port:
            # Ports tor picks itself cannot be taken by someone else first.
            lines += [
                "SafeLogging 0",
                f"DataDirectory {data_dir}",
                "ControlPort auto",
                f"ControlPortWriteToFile {data_dir / 'control-port'}",
                "CookieAuthentication 1",
            ]
        return lines

    def _spawn(self, name: str, data_dir: Path, lines: list[str]) -> subprocess.Popen[bytes]:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (data_dir / "control-port").unlink(missing_ok=True)  # from an earlier attempt
        torrc = data_dir.parent / f"{name}.torrc"
        torrc.write_text("\n".join(lines) + "\n")
        with (data_dir.parent / f"{name}.stdout").open("wb") as out:
            return subprocess.Popen(
                [TOR, "-f", str(torrc), "__OwningControllerProcess", str(os.getpid())],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def _register(self, name: str, process: subprocess.Popen[bytes], data_dir: Path) -> Tor:
        tor = Tor(name, process, None, data_dir)  # its controller comes next
        self.tors.append(tor)  # from now on stop() stops it, whatever happens
        return tor

    def _connect(self, tor: Tor, port: int | None) -> Controller:
        """A controller for a starting tor (``port`` None: the one tor picked)."""
        deadline = time.monotonic() + 20
        port_file = tor.data_dir / "control-port"
        while True:
            try:
                if port is None:  # PORT=127.0.0.1:NNNN, once tor is listening
                    port = int(port_file.read_text().strip().rsplit(":", 1)[1])
                return connect(port)  # stem takes ownership: tor exits when this closes
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                if tor.process.poll() is not None or time.monotonic() > deadline:
                    stdout = tor.data_dir.parent / f"{tor.name}.stdout"
                    log = stdout.read_text(errors="replace")
                    _stop([tor], timeout=1)
                    kind = PortTaken if "Address already in use" in log else TorNetworkError
                    raise kind(f"{tor.name} did not start ({exc}):\n{log[-3000:]}") from exc
                time.sleep(0.05)

    def start_tor(
        self,
        name: str,
        lines: Sequence[str] = (),
        *,
        include: Path | None = None,
        control_port: int | None = None,
    ) -> Tor:
        """A service or client tor on this network.

        With ``include`` (a torrc that sets its own DataDirectory and control
        port, given as ``control_port``), that torrc is used as it is, with
        only the network's lines added. Raises :class:`PortTaken` if that
        port was taken meanwhile.
        """
        data_dir = self.root / name
        if include is not None:
            if control_port is None:
                raise ValueError("an included torrc's control port must be given")
            base = [f"%include {include}", *self._common(data_dir, own_control_port=False)]
        else:
            base = self._common(data_dir, own_control_port=True)
        process = self._spawn(name, data_dir, [*base, *lines, *self.dir_authority_lines()])
        tor = self._register(name, process, data_dir)
        tor.controller = self._connect(tor, control_port)
        return tor

    def start_client(self, name: str, client_auth_dir: Path | None = None) -> Tor:
        """A client tor with a SOCKS port (extended errors on: 0xF0-0xF7 say why)."""
        lines = ["SocksPort auto ExtendedErrors"]
        if client_auth_dir is not None:
            lines.append(f"ClientOnionAuthDir {client_auth_dir}")
        tor = self.start_tor(name, lines)
        listener = tor.controller.get_info("net/listeners/socks").split()[0].strip('"')
        tor.socks_port = int(listener.rsplit(":", 1)[1])
        return tor

    def wait_bootstrapped(self, tor: Tor, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if tor.process.poll() is not None:
                raise TorNetworkError(f"{tor.name} exited:\n{tor.log_tail()}")
            if bootstrap(tor.controller)[0] >= 100:
                return
            time.sleep(0.2)
        raise TorNetworkError(f"{tor.name} did not bootstrap in {timeout:.0f} s:\n{tor.log_tail()}")

    # -- stopping -------------------------------------------------------------------------
    def stop(self, timeout: float = 3) -> None:
        """Stop every tor this network started by PID, bounded in time (see :func:`_stop`)."""
        _stop(self.tors, timeout)


def _stop(tors: list[Tor], timeout: float) -> None:
    """SIGTERM each tor by PID, then SIGKILL any still there after ``timeout``.

    The SIGKILL is not only for show: tor 0.4.9.11 now and then deadlocks while
    freeing its worker threads on the way out (``cpuworker_free_all`` waits for
    a mutex nobody releases), most often on an authority.
    """
    for tor in tors:
        if tor.process.poll() is None:
            tor.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for tor in tors:
        try:
            tor.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            tor.process.kill()
            tor.process.wait(timeout=5)
    for tor in tors:
        _close_quietly(tor.controller)


# SOCKS replies (tor's ExtendedErrors) worth another try just after a descriptor
# upload: descriptor not found, introduction or rendezvous failed, timed out.
RETRY_SOCKS = ("0xf0", "0xf2", "0xf3", "0xf7")
FETCH_DEADLINE = 25.0


@dataclass
class OnionSite:
    network: TorNetwork
    instance: Instance
    source_url: str  # http://<source onion>
    staff_url: str  # http://<staff onion>
    public: Tor  # a client tor without any key
    lawyer: Tor  # a client tor with the key of "lawyer" in its ClientOnionAuthDir
    spare_key: ClientKey  # installed for "lawyer-2"; nobody's tor has it yet
    service: Tor
    source_base: str  # the source server's own http://127.0.0.1:port

    @property
    def config(self) -> Config:
        return self.instance.config

    def session(self, client: Tor) -> requests.Session:
        """HTTP through a client tor's SOCKS port; socks5h: the onion name goes to tor."""
        session = requests.Session()
        session.trust_env = False
        proxy = f"socks5h://127.0.0.1:{client.socks_port}"
        session.proxies = {"http": proxy, "https": proxy}
        return session

    def seconds_since_launch(self) -> float:
        return time.monotonic() - self.network.started_at


def onion_request(
    session: requests.Session, method: str, url: str, **kwargs: object
) -> requests.Response:
    """A request to an onion, retried briefly while the descriptor settles in."""
    deadline = time.monotonic() + FETCH_DEADLINE
    while True:
        try:
            return session.request(method, url, timeout=30, **kwargs)  # type: ignore[arg-type]
        except requests.ConnectionError as exc:
            retry = any(code in str(exc).lower() for code in RETRY_SOCKS)
            if not retry or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def socks_reply(client: Tor, host: str, port: int = 80, timeout: float = 30) -> str:
    """Tor's SOCKS5 reply to a connection through ``client``: "0x00" if it connected,
    else the error code (with ExtendedErrors, 0xf0-0xf7 say what failed at the onion)."""
    import socks

    sock = socks.socksocket()
    sock.set_proxy(socks.SOCKS5, "127.0.0.1", client.socks_port, rdns=True)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
    except socks.ProxyError as exc:
        error = exc.socket_err if isinstance(exc.socket_err, socks.SOCKS5Error) else exc
        if not isinstance(error, socks.SOCKS5Error):
            raise
        return str(error.msg).split(":", 1)[0].lower()
    finally:
        sock.close()
    return "0x00"


def _close_quietly(controller: Any) -> None:
    try:
        controller.close()
    except Exception:  # noqa: BLE001, S110 - the tor behind it is gone already
        pass
