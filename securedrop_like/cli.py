"""The core's commands of ``sesim``: make an instance, install reviewer keys, pin the
key derivation, rebuild the database. The ``sesim`` command itself lives in
``sesim/cli.py``, above the apps; ``home_option`` and ``fail`` are shared with the apps'
command groups."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from crypto import CryptoError, read_public_key_file

from . import db, models
from .config import (
    ConfigError,
    check_kdf,
    read_kdf_pin,
    resolve_home,
    write_kdf_pin,
)
from .db import DatabaseError
from .errors import SesimError
from .instance import init_instance, open_instance
from .pgp_key import pgp_key

home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SESIM_HOME",
    help="Instance folder (default: $SESIM_HOME).",
)


def fail(message: str) -> NoReturn:
    """Print ``Error: message`` on stderr and exit 1 (every command's way out)."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


_fail = fail


@click.command()
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


@click.group()
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
        known = {k.key_id: k for k in models.reviewer_keys(conn, active_only=False)}
        if public.key_id in known and known[public.key_id].active:
            _fail(f"key {public.key_id} is already installed")
        conn.execute("BEGIN IMMEDIATE")
        if public.key_id in known:
            models.set_reviewer_key_active(conn, public.key_id, True)
        else:
            models.insert_reviewer_key(
                conn, key_id=public.key_id, name=label, public_key=public.raw, day=db.today()
            )
        conn.execute("COMMIT")
    finally:
        conn.close()
    again = "again " if public.key_id in known else ""
    click.echo(f"Installed reviewer key {public.key_id} ({label}) {again}for new items.")


@keys.command("retire-reviewer")
@home_option
@click.argument("key_id")
@click.option(
    "--last", is_flag=True, help="Retire it even if it is the last active key (reports stop)."
)
def retire_reviewer(home: Path | None, key_id: str, last: bool) -> None:
    """Stop sealing new items to a reviewer's key (items sealed before keep it).

    The servers see the change within seconds, without a restart."""
    try:
        config = open_instance(home)
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
        return
    conn = db.Database.for_config(config).open()
    try:
        active = [k.key_id for k in models.reviewer_keys(conn)]
        if key_id not in active:
            _fail(f"no active reviewer key {key_id} (see `sesim keys list`)")
        if active == [key_id] and not last:
            _fail(
                "this is the last active key: the source interface would refuse every "
                "report. Add the new reviewer's key first, or pass --last."
            )
        conn.execute("BEGIN IMMEDIATE")
        models.set_reviewer_key_active(conn, key_id, False)
        conn.execute("COMMIT")
    finally:
        conn.close()
    click.echo(f"Retired reviewer key {key_id}: new items are no longer sealed to it.")


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


@click.command("pin-kdf")
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


@click.command()
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


@click.group("thread-key")
def thread_key() -> None:
    """The keys of the channels' thread hashes (secrets/thread.keys)."""


@thread_key.command("rotate")
@home_option
def thread_key_rotate(home: Path | None) -> None:
    """Add a new current thread key. Threads made under older keys are still found
    (and moved to the new key when she writes again) until `sesim thread-key retire`."""
    from .channels import rotate_thread_key

    try:
        config = open_instance(home)
        version = rotate_thread_key(config)
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
        return
    click.echo(f"Thread key v{version} is now the current one; older keys are kept.")
    click.echo(
        "Retire the older ones after 30 days (`sesim thread-key retire`): threads not "
        "moved by then start again as new ones."
    )


@thread_key.command("retire")
@home_option
def thread_key_retire(home: Path | None) -> None:
    """Drop every thread key but the current one. Threads still under an older key
    can no longer be found: they are deleted (her source and reports stay)."""
    from .channels import ThreadKeys, retire_thread_keys
    from .service import ReportService

    try:
        config = open_instance(home)
        current = ThreadKeys.load(config).current_version
        dropped = retire_thread_keys(config)
        service = ReportService.open(config)
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
        return
    try:
        gone = service._command("retire_threads", (current,))
        service._command("checkpoint", ())
    finally:
        service.close()
    if not dropped:
        click.echo(f"Only thread key v{current} is kept; nothing to retire.")
        return
    names = ", ".join(f"v{v}" for v in dropped)
    click.echo(f"Retired thread key(s) {names}; {gone} thread(s) under them deleted.")


@click.group("channel-keys")
def channel_keys() -> None:
    """The channel key pair (channel.pub, secrets/channel.key) and the thread keys."""


@channel_keys.command("init")
@home_option
def channel_keys_init(home: Path | None) -> None:
    """Make the channel keys of an instance made before issue 12 (never overwrites)."""
    from .channels import make_channel_keys, make_thread_keys

    try:
        config = open_instance(home)
        made_threads = make_thread_keys(config)
        made_channel = make_channel_keys(config)
    except (ConfigError, DatabaseError, CryptoError) as exc:
        _fail(str(exc))
        return
    if not (made_threads or made_channel):
        click.echo("The channel keys are already there; nothing changed.")
        return
    if made_threads:
        click.echo(f"Made the thread key in {config.secrets_dir / 'thread.keys'}.")
    if made_channel:
        click.echo(
            f"Made the channel key pair: {config.home / 'channel.pub'} and "
            f"{config.secrets_dir / 'channel.key'} (read by the intake server only)."
        )


COMMANDS: tuple[click.Command, ...] = (
    init, keys, pin_kdf, vacuum, thread_key, channel_keys, pgp_key
)
"""The core's own commands: an instance, its reviewer keys and its database. The
``sesim`` command (``sesim/cli.py``) adds them beside the apps' groups."""
