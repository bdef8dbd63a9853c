"""The ``sesim`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from crypto import CryptoError, read_public_key_file

from . import db, models
from .config import ConfigError, resolve_home
from .db import DatabaseError
from .instance import init_instance, open_instance

home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SESIM_HOME",
    help="Instance folder (default: $SESIM_HOME).",
)


def _fail(message: str) -> None:
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


@main.command()
@home_option
@click.argument("part", type=click.Choice(["source"]))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", type=int, help="Processes (default: one per core, at most 4).")
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

    def factory(shared: Any) -> Any:
        from source_interface import create_app

        return create_app(config, shared=shared)

    run_server(factory, config, host, port, workers, threads)


@main.command()
@home_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--base-port", default=8080, show_default=True, type=int)
@click.option("--reports", default=36, show_default=True, type=int)
def demo(home: Path | None, host: str, base_port: int, reports: int) -> None:
    """Make a throw-away demo instance with synthetic reports, and serve it."""
    from .demo import run_demo

    run_demo(home, host, base_port, reports)
