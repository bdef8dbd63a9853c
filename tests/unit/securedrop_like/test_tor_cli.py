"""``sesim tor``: the torrc, client keys for the staff onion, and tor's status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from securedrop_like.config import load_config
from securedrop_like.instance import init_instance
from sesim.cli import main
from tests.integration.server import free_port
from tests.unit.securedrop_like.test_instance_cli import assert_clean_failure
from tor_config import list_clients, read_address

PRIVATE_LINE = re.compile(r"^  ([a-z2-7]{56}):descriptor:x25519:([A-Z2-7]{52})$", re.MULTILINE)


@pytest.fixture(autouse=True)
def no_sesim_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SESIM_HOME", raising=False)
    monkeypatch.setenv("SESIM_TOR_CONTROL_PORT", str(free_port()))  # nothing listens there


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return init_instance(tmp_path / "instance").home


def sesim(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_torrc_prints_the_torrc_and_writes_nothing(home: Path) -> None:
    result = sesim("tor", "torrc", "--home", str(home))
    assert result.exit_code == 0, result.output
    assert "HiddenServicePoWDefensesEnabled 1" in result.output
    assert f"HiddenServiceDir {home / 'tor' / 'staff'}" in result.output
    assert not (home / "tor").exists()


def test_torrc_write_makes_keys_and_says_what_to_put_in_config(home: Path) -> None:
    result = sesim("tor", "torrc", "--write", "--home", str(home))
    assert result.exit_code == 0, result.output
    source = read_address(home / "tor" / "source")
    staff = read_address(home / "tor" / "staff")
    assert f'onion_address = "{source}"' in result.output
    assert f'staff_onion_address = "{staff}"' in result.output
    assert (home / "tor" / "torrc").read_text().startswith("# Səsim's tor")
    # Once config.toml has them, --write has nothing more to ask.
    with (home / "config.toml").open("a") as fh:
        fh.write(f'onion_address = "{source}"\nstaff_onion_address = "{staff}"\n')
    again = sesim("tor", "torrc", "--write", "--home", str(home))
    assert again.exit_code == 0 and "Set these" not in again.output
    assert read_address(home / "tor" / "source") == source  # the same keys


def test_add_list_and_revoke_a_staff_client(home: Path) -> None:
    sesim("tor", "torrc", "--write", "--home", str(home))
    staff = read_address(home / "tor" / "staff")
    added = sesim("tor", "add-staff-client", "leyla", "--home", str(home))
    assert added.exit_code == 0, added.output
    match = PRIVATE_LINE.search(added.output)
    assert match and match.group(1) == staff[:56]
    assert "shown once" in added.output
    assert "Could not reload tor" in added.output  # none runs here: the admin is told
    (client,) = list_clients(home / "tor" / "staff")
    assert client.name == "leyla"
    assert match.group(2) not in (home / "tor" / "staff" / "authorized_clients").joinpath(
        "leyla.auth"
    ).read_text()

    listed = sesim("tor", "list-staff-clients", "--home", str(home))
    assert listed.exit_code == 0 and listed.output.startswith("leyla ")
    assert client.public in listed.output

    again = sesim("tor", "add-staff-client", "leyla", "--home", str(home))
    assert_clean_failure(again, "already has a key")

    revoked = sesim("tor", "revoke-staff-client", "leyla", "--home", str(home))
    assert revoked.exit_code == 0, revoked.output
    assert list_clients(home / "tor" / "staff") == []
    assert "closed to everyone" in sesim("tor", "list-staff-clients", "--home", str(home)).output
    assert_clean_failure(
        sesim("tor", "revoke-staff-client", "leyla", "--home", str(home)), "no client named"
    )


def test_clients_for_the_ssh_onion(home: Path) -> None:
    assert_clean_failure(
        sesim("tor", "list-staff-clients", "--onion", "ssh", "--home", str(home)),
        "ssh_onion_port",
    )
    with (home / "config.toml").open("a") as fh:
        fh.write("ssh_onion_port = 22\n")
    sesim("tor", "torrc", "--write", "--home", str(home))
    added = sesim("tor", "add-staff-client", "admin", "--onion", "ssh", "--home", str(home))
    assert added.exit_code == 0, added.output
    match = PRIVATE_LINE.search(added.output)
    assert match and match.group(1) == read_address(home / "tor" / "ssh")[:56]
    assert list_clients(home / "tor" / "staff") == []


def test_a_client_needs_the_onion_key_first_and_a_matching_config(home: Path) -> None:
    assert_clean_failure(
        sesim("tor", "add-staff-client", "leyla", "--home", str(home)), "sesim tor torrc --write"
    )
    sesim("tor", "torrc", "--write", "--home", str(home))
    assert_clean_failure(
        sesim("tor", "add-staff-client", "../leyla", "--home", str(home)), "client name"
    )
    other = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid.onion"
    with (home / "config.toml").open("a") as fh:
        fh.write(f'staff_onion_address = "{other}"\n')
    assert_clean_failure(
        sesim("tor", "add-staff-client", "leyla", "--home", str(home)), "not tor's staff onion"
    )


def test_status_without_tor_says_so_and_fails(home: Path) -> None:
    sesim("tor", "torrc", "--write", "--home", str(home))
    result = sesim("tor", "status", "--home", str(home))
    assert result.exit_code == 1
    assert "does not answer" in result.output
    source = read_address(home / "tor" / "source")
    assert f"source {source}" in result.output
    assert "0 client key(s)" in result.output
    assert "WARNING: config.toml says nothing" in result.output


def test_every_tor_command_needs_an_instance(tmp_path: Path) -> None:
    for command in ("torrc", "status", "list-staff-clients"):
        assert_clean_failure(sesim("tor", command, "--home", str(tmp_path)), "sesim init")


def test_config_reads_the_tor_settings(home: Path) -> None:
    with (home / "config.toml").open("a") as fh:
        fh.write('tor_dir = "/srv/tor"\nsource_local_port = 9000\n')
    config = load_config(home)
    assert config.tor_path == Path("/srv/tor") and config.source_local_port == 9000
