"""``sesim tor``: the torrc, client keys for the staff onion, and tor's status."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crypto import OnionServiceKey, PrivateKey
from journalist_interface.accounts import StaffAccounts
from securedrop_like import db
from securedrop_like.config import load_config
from securedrop_like.instance import init_instance
from sesim.cli import main
from tests.integration.server import free_port
from tests.integration.tor_network import require_tor, verify_config
from tests.unit.securedrop_like.test_instance_cli import assert_clean_failure
from tor_config import list_clients, read_address

BARE_KEY = re.compile(r"^  ([A-Z2-7]{52})$", re.MULTILINE)
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
    assert (
        match.group(2)
        not in (home / "tor" / "staff" / "authorized_clients").joinpath("leyla.auth").read_text()
    )

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


def test_the_key_is_printed_in_both_forms_each_labelled_and_each_accepted(home: Path) -> None:
    """Tor Browser's prompt takes the bare key only (52 base32 characters, or 44 of
    base64); a tor client's ClientOnionAuthDir takes the full line as NAME.auth_private."""
    sesim("tor", "torrc", "--write", "--home", str(home))
    added = sesim("tor", "add-staff-client", "leyla", "--home", str(home))
    assert added.exit_code == 0, added.output
    lines = added.output.splitlines()
    (bare,) = BARE_KEY.findall(added.output)
    full = PRIVATE_LINE.search(added.output)
    assert full and full.group(2) == bare
    # Each form under its own label, on a line of its own.
    browser_label = next(i for i, line in enumerate(lines) if "For Tor Browser" in line)
    tor_label = next(i for i, line in enumerate(lines) if "leyla.auth_private" in line)
    assert "ClientOnionAuthDir" in lines[tor_label]
    assert browser_label < lines.index(f"  {bare}") < tor_label < lines.index(full.group(0))
    # The Tor Browser form: canonical base32 of 32 bytes (44 characters as base64)...
    raw = base64.b32decode(bare + "====")
    assert len(raw) == 32 and base64.b32encode(raw).decode().rstrip("=") == bare
    assert len(base64.b64encode(raw)) == 44
    # ... whose public half is the one the onion lets in.
    (client,) = list_clients(home / "tor" / "staff")
    assert base64.b32encode(PrivateKey(raw).public_key.raw).decode().rstrip("=") == client.public
    # The full line, saved as leyla.auth_private, is read by tor without complaint.
    require_tor()
    auth_dir = home / "client-auth"
    auth_dir.mkdir(mode=0o700)
    options = ("--ignore-missing-torrc", "--ClientOnionAuthDir", str(auth_dir), "--SocksPort", "0")
    (auth_dir / "leyla.auth_private").write_text(full.group(0).strip() + "\n")
    assert "Client authorization" not in verify_config(home / "none", *options)


def _add_staff(home: Path, name: str) -> None:
    accounts = StaffAccounts(db.Database.for_config(load_config(home)), opslimit=1,
                             memlimit=8 * 1024 * 1024)  # fmt: skip
    accounts.add(name)


def test_disabling_a_staff_member_also_revokes_her_onion_key(home: Path) -> None:
    _add_staff(home, "leyla")
    _add_staff(home, "nigar")
    no_tor = sesim("staff", "list", "--home", str(home))
    assert no_tor.exit_code == 0 and "no tor folder" in no_tor.output
    sesim("tor", "torrc", "--write", "--home", str(home))
    for name in ("leyla", "nigar", "olduser"):
        assert sesim("tor", "add-staff-client", name, "--home", str(home)).exit_code == 0
    listed = sesim("staff", "list", "--home", str(home))
    assert listed.exit_code == 0, listed.output
    assert re.search(r"^leyla\s+staff\s+active\s+onion key\s", listed.output, re.MULTILINE)
    assert "no onion key" not in listed.output
    assert "no account of that name" in listed.output and "olduser" in listed.output

    disabled = sesim("staff", "disable", "leyla", "--home", str(home))
    assert disabled.exit_code == 0, disabled.output
    assert "Revoked the staff onion key of 'leyla'" in disabled.output
    assert "Could not reload tor" in disabled.output  # none runs here: the admin is told
    assert [c.name for c in list_clients(home / "tor" / "staff")] == ["nigar", "olduser"]
    listed = sesim("staff", "list", "--home", str(home))
    assert re.search(r"^leyla\s+staff\s+disabled\s+no onion key\s", listed.output, re.M)
    assert re.search(r"^nigar\s+staff\s+active\s+onion key\s", listed.output, re.M)
    # Again: already disabled, nothing left to revoke, still a clean answer.
    again = sesim("staff", "disable", "leyla", "--home", str(home))
    assert again.exit_code == 0 and "holds no staff onion key" in again.output
    enabled = sesim("staff", "enable", "leyla", "--home", str(home))
    assert "sesim tor add-staff-client leyla" in enabled.output


def test_client_keygen_prints_a_matching_pair_for_the_inventory() -> None:
    """`sesim tor client-keygen` needs no instance: the public half in the shape the
    sesim_tor role checks, the private half as a ClientOnionAuthDir line for the
    address given, and the two halves one x25519 pair."""
    address = OnionServiceKey.generate().address
    made = sesim("tor", "client-keygen", "aysel", "--address", address)
    assert made.exit_code == 0, made.output
    public = re.search(r"^  - \{ name: aysel, key: ([A-Z2-7]{52}) \}$", made.output, re.M)
    private = PRIVATE_LINE.search(made.output)
    assert public and private
    assert private.group(1) == address.removesuffix(".onion")
    raw = base64.b32decode(private.group(2) + "====")
    assert base64.b32encode(PrivateKey(raw).public_key.raw).decode().rstrip("=") == public.group(1)
    again = sesim("tor", "client-keygen", "aysel")
    assert PRIVATE_LINE.search(again.output) is None  # no address: a placeholder id
    assert "<the onion's 56-character id>:descriptor:x25519:" in again.output
    assert public.group(1) not in again.output  # a fresh pair every time
    for bad in (["client-keygen", "../x"], ["client-keygen", "aysel", "--address", "x.onion"]):
        assert_clean_failure(sesim("tor", *bad))
