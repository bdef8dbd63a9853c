"""``sesim tor``: the onion services, their status, and the staff's client keys."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from securedrop_like.cli import fail, home_option
from securedrop_like.config import ConfigError, load_config
from tor_config.errors import TorConfigError

onion_option = click.option(
    "--onion",
    "which",
    type=click.Choice(["staff", "ssh"]),
    default="staff",
    show_default=True,
    help="The client-authorised onion to work on.",
)


def _tor_config(home: Path | None) -> Any:
    try:
        return load_config(home)
    except ConfigError as exc:
        fail(str(exc))


@click.group("tor")
def tor_group() -> None:
    """Tor: the onion services, their status, and the staff's client keys."""


@tor_group.command("torrc")
@home_option
@click.option(
    "--write",
    is_flag=True,
    help="Also create the tor folders and onion keys, and write the torrc there.",
)
def tor_torrc(home: Path | None, write: bool) -> None:
    """Print the torrc of this instance (or write it, with --write)."""
    from tor_config import TorConfigError, prepare, render_torrc, write_torrc

    config = _tor_config(home)
    try:
        if not write:
            click.echo(render_torrc(config), nl=False)
            return
        addresses = prepare(config)
        path = write_torrc(config)
    except (TorConfigError, OSError) as exc:
        fail(str(exc))
    click.echo(f"Wrote {path}. Run tor as the service user: tor -f {path}")
    for name, address in addresses.items():
        click.echo(f"  {name:6} onion: {address}")
    wanted = {"onion_address": addresses["source"], "staff_onion_address": addresses["staff"]}
    changes = {k: v for k, v in wanted.items() if getattr(config, k) != v}
    if changes:
        click.echo(f"Set these in {config.home / 'config.toml'}, then restart the servers:")
        for key, value in changes.items():
            click.echo(f'  {key} = "{value}"')


@tor_group.command("status")
@home_option
@click.option(
    "--check-published",
    is_flag=True,
    help="Fetch each descriptor back from the directories (a few seconds).",
)
def tor_status(home: Path | None, check_published: bool) -> None:
    """Tor's bootstrap, and whether each onion runs and is published."""
    from tor_config import TorConfigError
    from tor_config.control import status

    config = _tor_config(home)
    try:
        result = status(config, check_published=check_published)
    except TorConfigError as exc:
        fail(str(exc))
    if result.error:
        click.echo(f"tor: {result.error}")
    else:
        click.echo(f"tor {result.version}: bootstrapped {result.bootstrap}% ({result.summary})")
    for entry in result.onions:
        facts = []
        if not result.error:
            facts.append("running" if entry.running else "NOT RUNNING (reload tor?)")
            if entry.running:
                facts.append("descriptor built" if entry.built else "no descriptor yet")
            if entry.published is not None:
                facts.append("published" if entry.published else "NOT PUBLISHED")
        if entry.clients is not None:
            facts.append(f"{entry.clients} client key(s)")
        click.echo(f"{entry.name:6} {entry.address or '(no key yet)'}  {', '.join(facts)}")
        if entry.name != "ssh" and entry.configured != entry.address:
            click.echo(
                f"       WARNING: config.toml says {entry.configured or 'nothing'}; the apps "
                "refuse any other address (see `sesim tor torrc --write`)."
            )
    if result.error:
        sys.exit(1)


def reload_tor(config: Any) -> None:
    from tor_config import TorConfigError
    from tor_config.control import connect_config, reload

    try:
        controller = connect_config(config)
    except TorConfigError as exc:
        click.echo(f"Could not reload tor ({exc}); reload it yourself for this to take effect.")
        return
    try:
        reload(controller)
        click.echo("Tor has reloaded its client keys.")
    finally:
        controller.close()


@tor_group.command("add-staff-client")
@home_option
@onion_option
@click.argument("name")
def tor_add_client(home: Path | None, which: str, name: str) -> None:
    """Give a person a client key for the staff onion; prints its private half once."""
    from tor_config import TorConfigError, add_client, onion, read_address

    config = _tor_config(home)
    try:
        service = onion(config, which)
        address = read_address(service.directory)
        if not address:
            fail(f"no {which} onion key yet: run `sesim tor torrc --write` first")
        if which == "staff" and config.staff_onion_address not in ("", address):
            fail(f"config.toml's staff_onion_address is not tor's staff onion ({address})")
        key = add_client(service.directory, name, address)
    except (TorConfigError, OSError) as exc:
        fail(str(exc))
    click.echo(f"Added {key.name!r} to the {which} onion, http://{address}/")
    click.echo("Their private key, in two forms:")
    click.echo("")
    for line in key.handover():
        click.echo(line)
    click.echo(
        "WARNING: this is shown once and stored nowhere. Hand it over in person, "
        "never by e-mail or chat, and clear this terminal afterwards."
    )
    reload_tor(config)


@tor_group.command("revoke-staff-client")
@home_option
@onion_option
@click.argument("name")
def tor_revoke_client(home: Path | None, which: str, name: str) -> None:
    """Remove a person's client key; the onion is closed to it once tor reloads."""
    from tor_config import TorConfigError, onion, revoke_client

    config = _tor_config(home)
    try:
        revoke_client(onion(config, which).directory, name)
    except (TorConfigError, OSError) as exc:
        fail(str(exc))
    click.echo(f"Revoked the key of {name!r} for the {which} onion.")
    reload_tor(config)


@tor_group.command("list-staff-clients")
@home_option
@onion_option
def tor_list_clients(home: Path | None, which: str) -> None:
    """List the people with a client key (names and public keys only)."""
    from tor_config import TorConfigError, list_clients, onion

    config = _tor_config(home)
    try:
        clients = list_clients(onion(config, which).directory)
    except (TorConfigError, OSError) as exc:
        fail(str(exc))
    if not clients:
        click.echo(f"Nobody has a key for the {which} onion: it is closed to everyone.")
    for client in clients:
        click.echo(f"{client.name:32}  {client.public or '(not a valid key file)'}")


@tor_group.command("client-keygen")
@click.argument("name")
@click.option(
    "--address", help="The onion's address, when you know it: also print the tor client line."
)
def tor_client_keygen(name: str, address: str | None) -> None:
    """Make a client key pair on your own computer (no instance needed).

    For the SSH onion: the public half goes into the ansible inventory
    (sesim_tor_ssh_clients), the private half stays with you, in your tor's
    ClientOnionAuthDir. Nothing is written anywhere."""
    from tor_config.clients import check_name, new_key_pair, onion_id

    try:
        name = check_name(name)
        ident = onion_id(address) if address else "<the onion's 56-character id>"
    except TorConfigError as exc:
        fail(str(exc))
    public, private = new_key_pair()
    click.echo("Public half, for the server (ansible: sesim_tor_ssh_clients):")
    click.echo("")
    click.echo(f"  - {{ name: {name}, key: {public} }}")
    click.echo("")
    click.echo(f"Private half: save this line as {name}.auth_private in your tor's")
    click.echo("ClientOnionAuthDir (it is shown once and stored nowhere):")
    click.echo("")
    click.echo(f"  {ident}:descriptor:x25519:{private}")
    click.echo("")
