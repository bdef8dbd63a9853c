"""``sesim workstation …`` and ``sesim redact …``: the offline workstation's commands."""

from __future__ import annotations

import click

workstation = click.Group(
    "workstation",
    help="The offline reviewer workstation: keys, import, cases, replies, publication.",
)

redact = click.Group("redact", help="The redaction check that every published text must pass.")


# ---------------------------------------------------------------- redact (REDACT)


@redact.command("check")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=str))
@click.option(
    "--own-term",
    "own_terms",
    multiple=True,
    help="A name or place from her report to look for (repeatable).",
)
def redact_check(file: str, own_terms: tuple[str, ...]) -> None:
    """Print every hit of FILE (UTF-8 text; - for stdin) as a JSON line.

    Exit status: 0 when nothing was found, 1 when there is any hit, 2 when
    the input cannot be read.
    """
    import json
    import sys

    from .redact import check

    try:
        if file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(file, "rb") as handle:
                data = handle.read()
        text = data.decode("utf-8-sig")
    except OSError as exc:
        click.echo(f"Error: cannot read {file}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except UnicodeDecodeError as exc:
        click.echo(f"Error: {file} is not UTF-8 text (byte {exc.start}).", err=True)
        sys.exit(2)
    hits = check(text, own_terms=own_terms)
    for hit in hits:
        click.echo(json.dumps(hit.as_dict(), ensure_ascii=False))
    sys.exit(1 if hits else 0)
