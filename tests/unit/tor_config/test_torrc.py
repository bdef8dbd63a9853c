"""The torrc of an instance: what it says, what tor thinks of it, and the onion keys."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crypto import OnionServiceKey, is_onion_address
from securedrop_like.config import Config
from tests.integration.tor_network import require_tor, verify_config
from tor_config import TorConfigError, onion, onions, prepare, read_address, render_torrc
from tor_config.torrc import torrc_path, write_service_key, write_torrc


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _block(text: str, directory: Path) -> list[str]:
    """The options of one onion: from its HiddenServiceDir to the next blank line."""
    lines = [*text.splitlines(), ""]
    start = lines.index(f"HiddenServiceDir {directory}")
    end = lines.index("", start)
    return [line for line in lines[start:end] if not line.startswith("#")]


def test_a_server_tor_with_safe_logging_no_socks_and_a_cookie_control_port(
    tmp_path: Path,
) -> None:
    config = Config(home=tmp_path, tor_control_port=9151)
    lines = _lines(render_torrc(config))
    assert lines[:5] == [
        f"DataDirectory {tmp_path / 'tor' / 'data'}",
        "SocksPort 0",
        "SafeLogging 1",
        "ControlPort 127.0.0.1:9151",
        "CookieAuthentication 1",
    ]
    assert not any(line.startswith(("HashedControlPassword", "ControlSocket")) for line in lines)


def test_the_source_onion_has_proof_of_work_and_the_staff_onion_client_keys(
    tmp_path: Path,
) -> None:
    config = Config(home=tmp_path, source_local_port=8090, staff_local_port=8091)
    text = render_torrc(config)
    assert _block(text, tmp_path / "tor" / "source") == [
        f"HiddenServiceDir {tmp_path / 'tor' / 'source'}",
        "HiddenServiceVersion 3",
        "HiddenServicePort 80 127.0.0.1:8090",
        "HiddenServicePoWDefensesEnabled 1",
    ]
    assert _block(text, tmp_path / "tor" / "staff") == [
        f"HiddenServiceDir {tmp_path / 'tor' / 'staff'}",
        "HiddenServiceVersion 3",
        "HiddenServicePort 80 127.0.0.1:8091",
    ]
    assert [o.name for o in onions(config)] == ["source", "staff"]
    assert "/ssh" not in text


def test_an_ssh_onion_only_when_asked_for(tmp_path: Path) -> None:
    config = Config(home=tmp_path, ssh_onion_port=2222)
    assert _block(render_torrc(config), tmp_path / "tor" / "ssh")[2:] == [
        "HiddenServicePort 22 127.0.0.1:2222"
    ]
    assert onion(config, "ssh").client_auth
    with pytest.raises(TorConfigError, match="ssh_onion_port"):
        onion(Config(home=tmp_path), "ssh")


def test_a_relative_tor_dir_is_inside_the_instance_and_spaces_are_quoted(tmp_path: Path) -> None:
    config = Config(home=tmp_path / "my home", tor_dir="onions")
    assert config.tor_path == tmp_path / "my home" / "onions"
    assert f'DataDirectory "{tmp_path}/my home/onions/data"' in render_torrc(config)
    assert Config(home=tmp_path, tor_dir="/var/lib/tor/sesim").tor_path == Path(
        "/var/lib/tor/sesim"
    )


@pytest.mark.parametrize("bad", ['a"b', "a#b", "a\\b", "a\nSocksPort 9050"])
def test_a_path_that_could_inject_options_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(TorConfigError):
        render_torrc(Config(home=tmp_path, tor_dir=str(tmp_path / bad)))


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"ssh_onion_port": 22},
        {"tor_dir": "tor dir with spaces", "tor_control_port": 9999},
        {"source_local_port": 18080, "staff_local_port": 18081},
    ],
    ids=["default", "ssh", "spaces", "ports"],
)
def test_tor_accepts_every_generated_torrc(tmp_path: Path, settings: dict[str, object]) -> None:
    require_tor()
    config = Config(home=tmp_path, **settings)  # type: ignore[arg-type]
    prepare(config)
    output = verify_config(write_torrc(config))
    assert "[warn] Client authorization" not in output


def test_prepare_makes_private_folders_keys_and_a_closed_staff_onion(tmp_path: Path) -> None:
    config = Config(home=tmp_path / "home", ssh_onion_port=22)
    addresses = prepare(config)
    assert set(addresses) == {"source", "staff", "ssh"}
    assert all(is_onion_address(a) for a in addresses.values())
    assert len(set(addresses.values())) == 3
    for service in onions(config):
        for path in (config.tor_path, service.directory):
            assert stat.S_IMODE(path.stat().st_mode) == 0o700
        secret = (service.directory / "hs_ed25519_secret_key").read_bytes()
        assert len(secret) == 96 and secret.startswith(b"== ed25519v1-secret: type0 ==\0\0\0")
        public = (service.directory / "hs_ed25519_public_key").read_bytes()
        assert public.startswith(b"== ed25519v1-public: type0 ==\0\0\0") and len(public) == 64
        assert OnionServiceKey(secret[32:]).address == addresses[service.name]
        assert stat.S_IMODE((service.directory / "hs_ed25519_secret_key").stat().st_mode) == 0o600
        closed = service.directory / "authorized_clients" / "_closed.auth"
        assert closed.exists() == service.client_auth


def test_prepare_never_replaces_a_key(tmp_path: Path) -> None:
    config = Config(home=tmp_path)
    first = prepare(config)
    before = (config.tor_path / "staff" / "hs_ed25519_secret_key").read_bytes()
    assert prepare(config) == first
    assert (config.tor_path / "staff" / "hs_ed25519_secret_key").read_bytes() == before
    with pytest.raises(FileExistsError):
        write_service_key(config.tor_path / "staff", OnionServiceKey.generate())


def test_an_address_is_read_only_when_it_is_one(tmp_path: Path) -> None:
    assert read_address(tmp_path) == ""
    (tmp_path / "hostname").write_text("not-an-onion.onion\n")
    assert read_address(tmp_path) == ""
    key = OnionServiceKey.generate()
    (tmp_path / "hostname").write_text(key.address + "\n")
    assert read_address(tmp_path) == key.address


def test_write_torrc_puts_it_in_the_tor_folder(tmp_path: Path) -> None:
    config = Config(home=tmp_path)
    os.makedirs(config.tor_path)
    path = write_torrc(config)
    assert path == torrc_path(config) == config.tor_path / "torrc"
    assert path.read_text() == render_torrc(config)
