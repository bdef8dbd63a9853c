"""Client authorisation keys for an onion service (one x25519 pair per person).

Tor's formats, byte for byte:

- the service holds each public half in ``authorized_clients/NAME.auth``::

      descriptor:x25519:<52 characters of base32, no padding>

- the person holds the private half. Tor Browser's prompt takes the bare key
  only (52 characters of base32, or 44 of base64)::

      <52 characters of base32>

  and a tor client's ``ClientOnionAuthDir`` file (``NAME.auth_private``) holds::

      <56-character onion id>:descriptor:x25519:<52 characters of base32>

- the control port's ``ONION_CLIENT_AUTH_ADD`` takes the same private key in
  base64 instead: ``x25519:<44 characters of base64>``.

The private half is printed once and never stored on the server.

Tor publishes a client-authorised onion openly when its ``authorized_clients/``
is empty. So every such folder keeps one extra key whose private half was
thrown away at birth (``_closed.auth``, :func:`ensure_closed`): revoking the
last real person leaves the onion closed, not open.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path

from crypto import PrivateKey, is_onion_address, new_private_file

from .errors import TorConfigError

AUTH_DIR = "authorized_clients"
CLOSED = "_closed"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_B32_KEY = re.compile(r"[A-Z2-7]{52}")
_ONION_ID = re.compile(r"[a-z2-7]{56}")


def b32(raw: bytes) -> str:
    """Tor's base32 for a 32-byte key: upper case, no padding (52 characters)."""
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def unb32(text: str) -> bytes:
    if not _B32_KEY.fullmatch(text):
        raise TorConfigError("a key must be 52 characters of base32 (A-Z, 2-7)")
    raw = base64.b32decode(text + "====")
    if b32(raw) != text:  # the last character carries 4 unused bits
        raise TorConfigError("a key is not canonical base32")
    return raw


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name.endswith((".auth", ".auth_private")):
        raise TorConfigError(
            "a client name is 1 to 63 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return name


def onion_id(address: str) -> str:
    """The 56-character id of an onion address (with or without ``.onion``)."""
    ident = address.removesuffix(".onion")
    if not _ONION_ID.fullmatch(ident) or not is_onion_address(ident + ".onion"):
        raise TorConfigError(f"not a v3 onion address: {address!r}")
    return ident


@dataclass(frozen=True)
class ClientKey:
    """A fresh client key pair for one person and one onion."""

    name: str
    onion: str  # 56-character id, no ".onion"
    public: str  # base32
    private: str  # base32

    @property
    def auth_line(self) -> str:
        """What the service's ``authorized_clients/NAME.auth`` holds."""
        return f"descriptor:x25519:{self.public}"

    @property
    def tor_browser_key(self) -> str:
        """What she pastes into Tor Browser's prompt: the bare base32 key."""
        return self.private

    @property
    def private_line(self) -> str:
        """What a tor client's ``ClientOnionAuthDir`` holds as ``NAME.auth_private``."""
        return f"{self.onion}:descriptor:x25519:{self.private}"

    def handover(self) -> list[str]:
        """The lines that hand the private half over: each form labelled for what takes
        it, each on a line of its own (printed once, stored nowhere)."""
        return [
            "For Tor Browser (paste this when it asks for the key of the address):",
            "",
            f"  {self.tor_browser_key}",
            "",
            f"For a tor client: save this line as {self.name}.auth_private in its "
            "ClientOnionAuthDir:",
            "",
            f"  {self.private_line}",
            "",
        ]

    @property
    def control_port_key(self) -> str:
        """The private key as ``ONION_CLIENT_AUTH_ADD`` takes it (base64)."""
        return control_port_key(self.private)

    def __repr__(self) -> str:
        return f"ClientKey(name={self.name!r}, onion={self.onion!r}, public={self.public!r})"


def control_port_key(private_b32: str) -> str:
    return "x25519:" + base64.b64encode(unb32(private_b32)).decode("ascii")


def new_key_pair() -> tuple[str, str]:
    """A fresh x25519 client key pair in tor's base32: (public, private)."""
    key = PrivateKey.generate()
    return b32(key.public_key.raw), b32(key.unsafe_raw())


def new_client_key(name: str, address: str) -> ClientKey:
    public, private = new_key_pair()
    return ClientKey(check_name(name), onion_id(address), public, private)


def parse_auth_line(text: str) -> str:
    """The base32 public key in an ``authorized_clients`` file's text."""
    line = text.strip()
    kind, _, key = line.rpartition(":")
    if kind != "descriptor:x25519":
        raise TorConfigError("an .auth file must hold descriptor:x25519:<base32 key>")
    unb32(key)
    return key


def parse_private_line(text: str) -> tuple[str, str]:
    """(onion id, base32 private key) of a ``.auth_private`` line."""
    parts = text.strip().split(":")
    if len(parts) != 4 or parts[1:3] != ["descriptor", "x25519"]:
        raise TorConfigError("a private key line is <onion id>:descriptor:x25519:<base32 key>")
    unb32(parts[3])
    return onion_id(parts[0]), parts[3]


def _auth_dir(service_dir: Path) -> Path:
    return service_dir / AUTH_DIR


def _write_new(path: Path, text: str) -> None:
    try:
        with new_private_file(path, encoding="ascii") as fh:
            fh.write(text)
    except FileExistsError as exc:
        raise TorConfigError(f"{path.stem!r} already has a key; revoke it first") from exc


def ensure_closed(service_dir: Path) -> None:
    """Make ``authorized_clients/`` (0700) with the key nobody has, if missing."""
    folder = _auth_dir(service_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    if not (folder / f"{CLOSED}.auth").exists():
        nobody = PrivateKey.generate()
        _write_new(folder / f"{CLOSED}.auth", f"descriptor:x25519:{b32(nobody.public_key.raw)}\n")


def add_client(service_dir: Path, name: str, address: str) -> ClientKey:
    """Install a new person's public key; returns the pair (print its private half once)."""
    key = new_client_key(name, address)
    ensure_closed(service_dir)
    _write_new(_auth_dir(service_dir) / f"{key.name}.auth", key.auth_line + "\n")
    return key


def revoke_client(service_dir: Path, name: str) -> None:
    """Remove a person's key (tor forgets it at its next reload)."""
    ensure_closed(service_dir)
    path = _auth_dir(service_dir) / f"{check_name(name)}.auth"
    try:
        path.unlink()
    except FileNotFoundError as exc:
        raise TorConfigError(f"no client named {name!r}") from exc


@dataclass(frozen=True)
class Client:
    name: str
    public: str  # base32, "" if the file is not a valid key


def list_clients(service_dir: Path) -> list[Client]:
    """Every person with a key, by name (not the key nobody has)."""
    folder = _auth_dir(service_dir)
    clients = []
    try:
        paths = sorted(folder.glob("*.auth"))
    except OSError as exc:
        raise TorConfigError(f"cannot read {folder}: {exc.strerror}") from exc
    for path in paths:
        if path.stem == CLOSED:
            continue
        try:
            public = parse_auth_line(path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError, TorConfigError, binascii.Error):
            public = ""
        clients.append(Client(path.stem, public))
    return clients
