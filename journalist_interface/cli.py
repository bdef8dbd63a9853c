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
from securedrop_like.config import LOCALES, ConfigError
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
