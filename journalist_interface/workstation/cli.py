"""``sesim workstation …`` and ``sesim redact …``: the offline workstation's commands."""

from __future__ import annotations

from pathlib import Path

import click

workstation = click.Group(
    "workstation",
    help="The offline reviewer workstation: keys, import, cases, replies, publication.",
)

redact = click.Group("redact", help="The redaction check that every published text must pass.")


# --- APP: serving the local web app ------------------------------------------------


@workstation.command("serve")
@click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The workstation's folder (made by `sesim workstation init`).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address only.")
@click.option("--port", default=8082, show_default=True, type=click.IntRange(0, 65535))
def serve_command(home: Path, host: str, port: int) -> None:
    """Serve the workstation on 127.0.0.1 (never on a network)."""
    from .server import NotLoopback, run

    try:
        run(home, host, port)
    except NotLoopback as exc:
        raise click.ClickException(str(exc)) from None
