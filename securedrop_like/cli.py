"""The ``sesim`` command line."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from crypto import CryptoError, read_public_key_file

from . import db, models
from .config import (
    LOCALES,
    ConfigError,
    check_kdf,
    read_kdf_pin,
    resolve_home,
    write_kdf_pin,
)
from .db import DatabaseError
from .errors import SesimError
from .instance import init_instance, open_instance

if TYPE_CHECKING:
    from journalist_interface.accounts import StaffAccounts

home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SESIM_HOME",
    help="Instance folder (default: $SESIM_HOME).",
)


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """Səsim: anonymous reporting of sexual harassment and sextortion."""


@main.command()
@home_option
def init(home: Path | None) -> None:
    """Create a new instance (settings, secrets, database). Never overwrites one."""
    try:
        config = init_instance(resolve_home(home))
    except ConfigError as exc:
        _fail(str(exc))
        return
    click.echo(f"Created a Səsim instance in {config.home}")
    click.echo("Next: install each reviewer's public key with `sesim keys add-reviewer FILE`.")


@main.group()
def keys() -> None:
    """Reviewers' public submission keys."""


@keys.command("add-reviewer")
@home_option
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Who the key belongs to (default: from the file).")
def add_reviewer(home: Path | None, key_file: Path, name: str | None) -> None:
    """Install a reviewer's public key (made on the offline workstation)."""
    try:
        config = open_instance(home)
        public = read_public_key_file(key_file)
    except (ConfigError, CryptoError, DatabaseError) as exc:
        _fail(str(exc))
        return
    label = name or key_file.stem
    conn = db.Database.for_config(config).open()
    try:
        if any(k.key_id == public.key_id for k in models.reviewer_keys(conn, active_only=False)):
            _fail(f"key {public.key_id} is already installed")
        conn.execute("BEGIN IMMEDIATE")
        models.insert_reviewer_key(
            conn, key_id=public.key_id, name=label, public_key=public.raw, day=db.today()
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    click.echo(f"Installed reviewer key {public.key_id} ({label}).")


@keys.command("list")
@home_option
def list_keys(home: Path | None) -> None:
    """List installed reviewer keys."""
    try:
        config = open_instance(home)
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
        return
    conn = db.Database.for_config(config).open()
    try:
        rows = models.reviewer_keys(conn, active_only=False)
    finally:
        conn.close()
    if not rows:
        click.echo("No reviewer keys installed: the source interface will refuse reports.")
    for row in rows:
        state = "active" if row.active else "retired"
        click.echo(f"{row.key_id}  {row.added_day}  {state:7}  {row.name}")


@main.group()
def staff() -> None:
    """Legal Centre staff accounts (passphrase and two-factor codes)."""


@contextlib.contextmanager
def _staff_accounts(home: Path | None) -> Iterator[StaffAccounts]:
    """The instance's staff accounts; a domain or setup error exits 1 with its message."""
    from journalist_interface.accounts import StaffAccounts

    try:
        database = db.Database.for_config(open_instance(home))
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
    try:
        yield StaffAccounts(database)
    except (SesimError, CryptoError, DatabaseError) as exc:
        _fail(str(exc))
    finally:
        database.close()


def _show_totp(uri: str) -> None:
    import segno

    qr = io.StringIO()
    segno.make(uri, error="m").terminal(out=qr, compact=True)
    click.echo("Two-factor setup: scan this QR code with an authenticator app")
    click.echo("(Aegis, FreeOTP, Google Authenticator), or enter the URI by hand:")
    click.echo(qr.getvalue())
    click.echo(f"  {uri}")


def _show_password(password: str) -> None:
    click.echo(f"Passphrase: {password}")
    click.echo(
        "WARNING: this is shown once and stored nowhere. Hand it over in person, "
        "never by e-mail or chat, and clear this terminal afterwards."
    )


@staff.command("add")
@home_option
@click.argument("name")
@click.option("--admin", is_flag=True, help="May manage other staff accounts.")
@click.option("--language", type=click.Choice(LOCALES), default="az", show_default=True)
def staff_add(home: Path | None, name: str, admin: bool, language: str) -> None:
    """Create a staff account; prints its passphrase and two-factor setup once."""
    with _staff_accounts(home) as accounts:
        account = accounts.add(name, is_admin=admin, language=language)
        role = "administrator" if admin else "staff member"
        click.echo(f"Added {role} {account.username!r}.")
        _show_password(account.password)
        _show_totp(account.otpauth_uri)


@staff.command("list")
@home_option
def staff_list(home: Path | None) -> None:
    """List staff accounts (never their passwords or secrets)."""
    with _staff_accounts(home) as accounts:
        rows = accounts.list()
        if not rows:
            click.echo("No staff accounts. Add one with `sesim staff add NAME`.")
        for row in rows:
            role = "admin" if row.is_admin else "staff"
            state = "disabled" if row.disabled else "active"
            click.echo(f"{row.username:32}  {role:5}  {state:8}  {row.language}  {row.created_day}")


@staff.command("disable")
@home_option
@click.argument("name")
def staff_disable(home: Path | None, name: str) -> None:
    """Refuse an account's logins and end its sessions."""
    with _staff_accounts(home) as accounts:
        accounts.disable(name)
        click.echo(f"Disabled {name!r}; its sessions are ended.")


@staff.command("enable")
@home_option
@click.argument("name")
def staff_enable(home: Path | None, name: str) -> None:
    """Allow a disabled account to log in again."""
    with _staff_accounts(home) as accounts:
        accounts.enable(name)
        click.echo(f"Enabled {name!r}.")


@staff.command("reset-password")
@home_option
@click.argument("name")
def staff_reset_password(home: Path | None, name: str) -> None:
    """Give an account a new passphrase; ends its sessions."""
    with _staff_accounts(home) as accounts:
        password = accounts.reset_password(name)
        click.echo(f"New passphrase for {name!r}; its sessions are ended.")
        _show_password(password)


@staff.command("reset-2fa")
@home_option
@click.argument("name")
def staff_reset_2fa(home: Path | None, name: str) -> None:
    """Give an account a new two-factor secret; ends its sessions."""
    with _staff_accounts(home) as accounts:
        _secret, uri = accounts.reset_2fa(name)
        click.echo(f"New two-factor secret for {name!r}; its sessions are ended.")
        _show_totp(uri)


@main.command()
@home_option
@click.argument("part", type=click.Choice(["source", "staff"]))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", type=int, help="Processes (default: server_workers; 0 is one per core).")
@click.option("--threads", type=int, help="Threads per process (default: 16).")
def serve(
    home: Path | None, part: str, host: str, port: int, workers: int | None, threads: int | None
) -> None:
    """Serve one part with gunicorn."""
    from .hardening import harden_process
    from .serve import serve as run_server

    try:
        config = open_instance(home)
        check_kdf(config)
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
        return
    harden_process()  # before the server holds anything (serve() does it again)

    tasks = master_tasks(config, part)
    run_server(app_factory(config, part), config, host, port, workers, threads, tasks, part)


@main.command("pin-kdf")
@home_option
def pin_kdf(home: Path | None) -> None:
    """Pin the current Argon2id settings of an instance made before they were pinned."""
    try:
        config = open_instance(home)
        if read_kdf_pin(config) is not None:
            check_kdf(config)
            click.echo("The Argon2id settings of this instance are already pinned.")
            return
        write_kdf_pin(config)
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
        return
    click.echo(
        f"Pinned argon2_opslimit={config.argon2_opslimit}, "
        f"argon2_memlimit={config.argon2_memlimit} in {config.kdf_pin_path}."
    )


@main.command()
@home_option
def vacuum(home: Path | None) -> None:
    """Rebuild the database in key order now (VACUUM), whatever its size.

    For a database over daily_vacuum_max_bytes, where the writer skips the
    daily one. Stop the servers first: writes would wait until it ends.
    """
    from .service import ReportService

    try:
        config = open_instance(home)
        service = ReportService.open(config)
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
        return
    try:
        service.vacuum(force=True)
    except (SesimError, DatabaseError) as exc:
        _fail(f"the VACUUM failed: {exc}")
    except OSError as exc:
        _fail(f"the VACUUM failed: {exc.strerror or type(exc).__name__}")
    finally:
        service.close()
    click.echo("The database was rebuilt in key order.")


def master_tasks(config: Any, part: str) -> Any:
    """What the server's master does for one part besides its workers (the
    source part first deletes every upload nobody can claim: no worker runs yet)."""
    if part == "staff":
        from journalist_interface.app import server_tasks as staff_tasks

        return staff_tasks(config)
    from source_interface.master import server_tasks, sweep_before_start

    sweep_before_start(config)
    return server_tasks(config)


def app_factory(config: Any, part: str) -> Any:
    """A function that builds the app of one part inside a server worker."""

    def factory(shared: Any) -> Any:
        if part == "staff":
            from journalist_interface import create_app as create_staff_app

            return create_staff_app(config, shared=shared)
        from source_interface import create_app

        return create_app(config, shared=shared)

    return factory


@main.command()
@home_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--base-port", default=8080, show_default=True, type=int)
@click.option("--reports", default=36, show_default=True, type=int)
@click.option(
    "--tor", is_flag=True, help="Also serve both interfaces as onion services (needs tor)."
)
def demo(home: Path | None, host: str, base_port: int, reports: int, tor: bool) -> None:
    """Make a throw-away demo instance with synthetic reports, and serve it."""
    from .demo import run_demo

    try:
        run_demo(home, host, base_port, reports, tor)
    except ConfigError as exc:
        _fail(str(exc))


# --- Tor: the onion services and the staff's client keys (tor_config/) ---

onion_option = click.option(
    "--onion",
    "which",
    type=click.Choice(["staff", "ssh"]),
    default="staff",
    show_default=True,
    help="The client-authorised onion to work on.",
)


def _tor_config(home: Path | None) -> Any:
    from .config import load_config

    try:
        return load_config(home)
    except ConfigError as exc:
        _fail(str(exc))


@main.group("tor")
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
        _fail(str(exc))
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
        _fail(str(exc))
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


def _reload_tor(config: Any) -> None:
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
            _fail(f"no {which} onion key yet: run `sesim tor torrc --write` first")
        if which == "staff" and config.staff_onion_address not in ("", address):
            _fail(f"config.toml's staff_onion_address is not tor's staff onion ({address})")
        key = add_client(service.directory, name, address)
    except (TorConfigError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"Added {key.name!r} to the {which} onion, http://{address}/")
    click.echo("Their private key (Tor Browser asks for it when they first open the address;")
    click.echo(f"or save it as {key.name}.auth_private in a ClientOnionAuthDir):")
    click.echo("")
    click.echo(f"  {key.private_line}")
    click.echo("")
    click.echo(
        "WARNING: this is shown once and stored nowhere. Hand it over in person, "
        "never by e-mail or chat, and clear this terminal afterwards."
    )
    _reload_tor(config)


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
        _fail(str(exc))
    click.echo(f"Revoked the key of {name!r} for the {which} onion.")
    _reload_tor(config)


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
        _fail(str(exc))
    if not clients:
        click.echo(f"Nobody has a key for the {which} onion: it is closed to everyone.")
    for client in clients:
        click.echo(f"{client.name:32}  {client.public or '(not a valid key file)'}")
