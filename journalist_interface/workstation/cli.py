"""``sesim workstation …`` and ``sesim redact …``: the offline workstation's commands."""

from __future__ import annotations

from pathlib import Path

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


# ------------------------------------------ safe renderings (SANITIZE)


@workstation.command("sandbox-check")
def sandbox_check() -> None:
    """Check that the viewer's sandbox holds on this computer.

    Runs the sandbox's probe: it tries to connect to a listener on 127.0.0.1
    and to write a file outside its folder. Exits 1 if either works."""
    import json
    import socket
    import sys
    import tempfile

    from .sanitize import UnsafeFile, probe

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener, \
            tempfile.TemporaryDirectory(prefix="sesim-sandbox-check-") as outside:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = str(listener.getsockname()[1])
        target = Path(outside) / "written-from-the-sandbox"
        try:
            report = probe(["connect", "127.0.0.1", port, "write", str(target)])
        except UnsafeFile as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        wrote = target.exists()
    barriers = report["barriers"]
    click.echo(json.dumps({**report["probe"], **barriers}, sort_keys=True))
    connected = report["probe"].get("connect") == "connected"
    if connected:
        click.echo("Error: code in the sandbox reached the network.", err=True)
    if wrote:
        click.echo("Error: code in the sandbox wrote outside its folder "
                   "(no Landlock on this kernel).", err=True)
    if connected or wrote:
        sys.exit(1)
    for barrier in ("netns", "hidden", "pidns", "no_nested_namespaces", "no_capabilities",
                    "landlock"):
        if not barriers.get(barrier):
            click.echo(f"Warning: barrier {barrier} is missing on this computer "
                       "(see the line above for why).", err=True)
    click.echo("The sandbox holds: no network, no writes outside its folder.")


@workstation.command("render")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the PNG renderings (created if missing).")
@click.option("--max-pages", default=20, show_default=True, help="PDF pages to render at most.")
def render(file: Path, out_dir: Path, max_pages: int) -> None:
    """Render an image or PDF safely (in the sandbox) to clean PNG files."""
    import sys

    from .sanitize import Rendering, UnsafeFile, render_image, render_pdf, sniff

    data = file.read_bytes()
    pages: list[Rendering]
    try:
        if sniff(data) == "pdf":
            pages = render_pdf(data, max_pages=max_pages)
        else:
            pages = [render_image(data)]
    except UnsafeFile as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(pages, start=1):
        path = out_dir / f"{file.stem}-{number}.png"
        path.write_bytes(page.png)
        click.echo(f"{path} {page.width}x{page.height}")
