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
from .config import LOCALES, ConfigError, resolve_home
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
@click.option("--workers", type=int, help="Processes (default: server_workers, 1).")
@click.option("--threads", type=int, help="Threads per process (default: 16).")
def serve(
    home: Path | None, part: str, host: str, port: int, workers: int | None, threads: int | None
) -> None:
    """Serve one part with gunicorn."""
    from .serve import serve as run_server

    try:
        config = open_instance(home)
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
        return

    run_server(app_factory(config, part), config, host, port, workers, threads)


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
def demo(home: Path | None, host: str, base_port: int, reports: int) -> None:
    """Make a throw-away demo instance with synthetic reports, and serve it."""
    from .demo import run_demo

    run_demo(home, host, base_port, reports)
