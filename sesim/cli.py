"""The ``sesim`` command: the core's commands, each app's group, and ``serve`` and
``demo``, which start the apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from journalist_interface.cli import staff
from journalist_interface.workstation.cli import redact, workstation
from journalist_interface.workstation.cli import serve_command as workstation_serve
from public_map.cli import map_group
from securedrop_like.cli import COMMANDS, fail, home_option
from securedrop_like.config import ConfigError, check_kdf
from securedrop_like.db import DatabaseError
from securedrop_like.hardening import harden_process
from securedrop_like.instance import open_instance
from securedrop_like.serve import serve as run_server
from tor_config.cli import tor_group

from .demo import run_demo


@click.group()
def main() -> None:
    """Səsim: anonymous reporting of sexual harassment and sextortion."""


for command in (*COMMANDS, staff, tor_group, workstation, redact, map_group):
    main.add_command(command)


@main.command()
@home_option
@click.argument("part", type=click.Choice(["source", "staff", "workstation", "map", "intake"]))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=int,
    help="Port (default: 8080; 8082 for the workstation, 8083 for the map, 8084 for intake).",
)
@click.option("--workers", type=int, help="Processes (default: server_workers; 0 is one per core).")
@click.option("--threads", type=int, help="Threads per process (default: 16).")
@click.pass_context
def serve(
    ctx: click.Context,
    home: Path | None,
    part: str,
    host: str,
    port: int | None,
    workers: int | None,
    threads: int | None,
) -> None:
    """Serve one part: the source or staff interface with gunicorn, or the offline
    workstation (--home is then its folder) on 127.0.0.1 only, or the public map
    (--home is its folder, made by `sesim map init`), or the intake server for
    SMS, e-mail, Messenger and X (one process; its [intake] settings in config.toml)."""
    if part == "map":
        if home is None:
            fail("give the map's folder with --home (made by `sesim map init`)")
        if workers is not None or threads is not None:
            fail("the map is served by one threaded process: no --workers or --threads")
        from public_map.instance import MapError
        from public_map.server import run as run_map

        try:
            run_map(home, host, port or 8083)
        except (MapError, OSError) as exc:
            fail(str(exc))
        return
    if part == "workstation":
        if home is None:
            fail("give the workstation's folder with --home (made by `sesim workstation init`)")
        if workers is not None or threads is not None:
            fail("the workstation is one process holding the key: no --workers or --threads")
        ctx.invoke(workstation_serve, home=home, host=host, port=port or 8082, idle_minutes=15.0)
        return
    try:
        config = open_instance(home)
        check_kdf(config)
    except (ConfigError, DatabaseError) as exc:
        fail(str(exc))
        return
    harden_process()  # before the server holds anything (serve() does it again)
    if part == "intake":
        if workers is not None or threads is not None:
            fail("the intake server is one threaded process: no --workers or --threads")
        from intake.server import DEFAULT_PORT as INTAKE_PORT
        from intake.server import run as run_intake

        try:
            run_intake(config, host, port or INTAKE_PORT)
        except (ConfigError, DatabaseError, OSError) as exc:
            fail(str(exc))
        return

    tasks = master_tasks(config, part)
    run_server(app_factory(config, part), config, host, port or 8080, workers, threads, tasks, part)


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
    try:
        run_demo(home, host, base_port, reports, tor)
    except ConfigError as exc:
        fail(str(exc))
