"""``sesim staff``: the Legal Centre's staff accounts, from an administrator's shell."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import click

from crypto import CryptoError
from securedrop_like import db
from securedrop_like.cli import fail, home_option
from securedrop_like.config import LOCALES, Config, ConfigError
from securedrop_like.db import DatabaseError
from securedrop_like.errors import SesimError
from securedrop_like.instance import open_instance

from .accounts import StaffAccounts


@click.group()
def staff() -> None:
    """Legal Centre staff accounts (passphrase and two-factor codes)."""


@contextlib.contextmanager
def _staff_accounts(home: Path | None) -> Iterator[StaffAccounts]:
    """The instance's staff accounts; a domain or setup error exits 1 with its message."""
    try:
        database = db.Database.for_config(open_instance(home))
    except (ConfigError, DatabaseError) as exc:
        fail(str(exc))
    try:
        yield StaffAccounts(database)
    except (SesimError, CryptoError, DatabaseError) as exc:
        fail(str(exc))
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


def _staff_client_keys(home: Path | None) -> tuple[Config, set[str]] | None:
    """The instance's config and the names holding a client key for the staff onion
    (``sesim tor add-staff-client``), or None if this instance has no tor folder yet."""
    from tor_config import TorConfigError, list_clients, onion

    try:
        config = open_instance(home)
        folder = onion(config, "staff").directory
        if not folder.is_dir():
            return None
        return config, {c.name for c in list_clients(folder)}
    except (ConfigError, DatabaseError, TorConfigError, OSError):
        return None


@staff.command("list")
@home_option
def staff_list(home: Path | None) -> None:
    """List staff accounts and who holds a staff onion client key (never their
    passwords, secrets or private keys)."""
    keys = _staff_client_keys(home)
    holders = keys[1] if keys else set()
    with _staff_accounts(home) as accounts:
        rows = accounts.list()
        if not rows:
            click.echo("No staff accounts. Add one with `sesim staff add NAME`.")
        for row in rows:
            role = "admin" if row.is_admin else "staff"
            state = "disabled" if row.disabled else "active"
            key = (
                "no tor folder"
                if keys is None
                else ("onion key" if row.username in holders else "no onion key")
            )
            click.echo(
                f"{row.username:32}  {role:5}  {state:8}  {key:12}  {row.language}  "
                f"{row.created_day}"
            )
        strays = sorted(holders - {row.username for row in rows})
        if strays:
            click.echo(
                "Staff onion keys with no account of that name (revoke with "
                f"`sesim tor revoke-staff-client NAME`): {', '.join(strays)}"
            )


@staff.command("disable")
@home_option
@click.argument("name")
def staff_disable(home: Path | None, name: str) -> None:
    """Refuse an account's logins, end its sessions and revoke its staff onion client
    key (the key of the same name), in one go."""
    with _staff_accounts(home) as accounts:
        accounts.disable(name)
        click.echo(f"Disabled {name!r}; its sessions are ended.")
    _revoke_onion_key(home, name)


def _revoke_onion_key(home: Path | None, name: str) -> None:
    from tor_config import TorConfigError, onion, revoke_client
    from tor_config.cli import reload_tor

    keys = _staff_client_keys(home)
    if keys is None:
        click.echo("This instance has no tor folder: there is no onion key to revoke.")
        return
    config, holders = keys
    if name not in holders:
        click.echo(f"{name!r} holds no staff onion key: nothing to revoke.")
        return
    try:
        revoke_client(onion(config, "staff").directory, name)
    except (TorConfigError, OSError) as exc:
        fail(f"the account is disabled, but its onion key could not be revoked: {exc}")
    click.echo(f"Revoked the staff onion key of {name!r}.")
    reload_tor(config)


@staff.command("enable")
@home_option
@click.argument("name")
def staff_enable(home: Path | None, name: str) -> None:
    """Allow a disabled account to log in again."""
    with _staff_accounts(home) as accounts:
        accounts.enable(name)
        click.echo(f"Enabled {name!r}.")
    keys = _staff_client_keys(home)
    if keys is not None and name not in keys[1]:
        click.echo(
            f"To reach the staff onion she needs a new key: sesim tor add-staff-client {name}"
        )


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
