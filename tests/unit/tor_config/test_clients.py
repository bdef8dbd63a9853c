"""Client keys for the staff onion, in exactly the formats tor and Tor Browser read."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest

from crypto import OnionServiceKey, PrivateKey
from tests.integration.tor_network import require_tor, verify_config
from tor_config import (
    TorConfigError,
    add_client,
    list_clients,
    new_client_key,
    parse_auth_line,
    parse_private_line,
    revoke_client,
)
from tor_config.clients import b32, control_port_key, ensure_closed, onion_id, unb32

AUTH_LINE = re.compile(r"descriptor:x25519:[A-Z2-7]{52}")
PRIVATE_LINE = re.compile(r"[a-z2-7]{56}:descriptor:x25519:[A-Z2-7]{52}")


@pytest.fixture
def address() -> str:
    return OnionServiceKey.generate().address


def test_a_key_pair_in_tors_formats(address: str) -> None:
    key = new_client_key("leyla", address)
    assert len(key.public) == len(key.private) == 52  # base32 of 32 bytes, no padding
    assert AUTH_LINE.fullmatch(key.auth_line)
    assert PRIVATE_LINE.fullmatch(key.private_line)
    assert key.private_line.startswith(address.removesuffix(".onion") + ":")
    assert len(key.onion) == 56
    # The halves belong together: X25519 of the private half is the public half.
    assert PrivateKey(unb32(key.private)).public_key.raw == unb32(key.public)
    assert key.private not in repr(key)


def test_the_control_port_takes_the_same_private_key_in_base64(address: str) -> None:
    key = new_client_key("leyla", address)
    kind, _, blob = key.control_port_key.partition(":")
    assert kind == "x25519" and len(blob) == 44 and blob.endswith("=")
    assert base64.b64decode(blob) == unb32(key.private)
    assert control_port_key(key.private) == key.control_port_key


def test_base32_is_strict_and_canonical() -> None:
    raw = bytes(range(32))
    assert unb32(b32(raw)) == raw
    for bad in ("A" * 51, "a" * 52, "1" * 52, b32(raw) + "="):
        with pytest.raises(TorConfigError):
            unb32(bad)
    last = b32(raw)[-1]
    sloppy = b32(raw)[:-1] + chr(ord(last) + 1)  # same 4 useful bits, a stray unused bit
    with pytest.raises(TorConfigError, match="canonical"):
        unb32(sloppy)


def test_lines_parse_back(address: str) -> None:
    key = new_client_key("leyla", address)
    assert parse_auth_line(key.auth_line + "\n") == key.public
    assert parse_private_line(key.private_line + "\n") == (key.onion, key.private)
    for bad in ("descriptor:x25519:", "x25519:" + key.public, "descriptor:ed25519:" + key.public):
        with pytest.raises(TorConfigError):
            parse_auth_line(bad)
    for bad in (key.auth_line, "abc:descriptor:x25519:" + key.private, key.private_line + ":x"):
        with pytest.raises(TorConfigError):
            parse_private_line(bad)


def test_an_onion_id_must_be_a_real_v3_address(address: str) -> None:
    assert onion_id(address) == onion_id(address.removesuffix(".onion")) == address[:56]
    for bad in ("a" * 56, address.upper(), address[:55], "example.com"):
        with pytest.raises(TorConfigError):
            onion_id(bad)


@pytest.mark.parametrize("name", ["", ".hidden", "_closed", "a/b", "../x", "x" * 64, "a b", "é"])
def test_a_name_that_is_not_a_safe_file_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(TorConfigError):
        add_client(tmp_path, name, OnionServiceKey.generate().address)


def test_add_installs_the_public_half_only_readable_by_tor(tmp_path: Path, address: str) -> None:
    key = add_client(tmp_path, "leyla.m-2", address)
    folder = tmp_path / "authorized_clients"
    path = folder / "leyla.m-2.auth"
    assert path.read_text() == key.auth_line + "\n"
    assert key.private not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [c.name for c in list_clients(tmp_path)] == ["leyla.m-2"]
    assert list_clients(tmp_path)[0].public == key.public
    with pytest.raises(TorConfigError, match="already has a key"):
        add_client(tmp_path, "leyla.m-2", address)


def test_revoking_the_last_person_leaves_the_onion_closed(tmp_path: Path, address: str) -> None:
    add_client(tmp_path, "aysel", address)
    add_client(tmp_path, "leyla", address)
    revoke_client(tmp_path, "aysel")
    assert [c.name for c in list_clients(tmp_path)] == ["leyla"]
    revoke_client(tmp_path, "leyla")
    assert list_clients(tmp_path) == []
    # tor would publish the onion openly with no .auth file at all: one is always left.
    remaining = list((tmp_path / "authorized_clients").glob("*.auth"))
    assert [p.name for p in remaining] == ["_closed.auth"]
    assert AUTH_LINE.fullmatch(remaining[0].read_text().strip())
    with pytest.raises(TorConfigError, match="no client named"):
        revoke_client(tmp_path, "leyla")


def test_the_closed_key_is_made_once(tmp_path: Path) -> None:
    ensure_closed(tmp_path)
    first = (tmp_path / "authorized_clients" / "_closed.auth").read_text()
    ensure_closed(tmp_path)
    assert (tmp_path / "authorized_clients" / "_closed.auth").read_text() == first


def test_a_broken_key_file_is_listed_as_broken(tmp_path: Path, address: str) -> None:
    add_client(tmp_path, "leyla", address)
    (tmp_path / "authorized_clients" / "typo.auth").write_text("descriptor:x25519:nope\n")
    (tmp_path / "authorized_clients" / "notes.txt").write_text("ignored by tor\n")
    assert [(c.name, bool(c.public)) for c in list_clients(tmp_path)] == [
        ("leyla", True),
        ("typo", False),
    ]


def test_tor_reads_the_private_line_from_a_client_onion_auth_dir(
    tmp_path: Path, address: str
) -> None:
    require_tor()
    auth_dir = tmp_path / "client-auth"
    auth_dir.mkdir(mode=0o700)
    options = ("--ignore-missing-torrc", "--ClientOnionAuthDir", str(auth_dir), "--SocksPort", "0")
    (auth_dir / "broken.auth_private").write_text(f"{address[:56]}:descriptor:x25519:AAAA\n")
    # tor reads the folder while checking the configuration, and says so when a line is wrong…
    assert "Client authorization" in verify_config(Path(tmp_path / "none"), *options)
    (auth_dir / "broken.auth_private").unlink()
    key = new_client_key("leyla", address)
    (auth_dir / "leyla.auth_private").write_text(key.private_line + "\n")
    # …and is silent about ours.
    assert "Client authorization" not in verify_config(Path(tmp_path / "none"), *options)
