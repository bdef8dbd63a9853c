"""``sesim map …``: make a map instance and feed it bundles."""

from __future__ import annotations

from pathlib import Path

import click

from securedrop_like.bundles.publication import MAX_PUBLICATION_BYTES
from securedrop_like.cli import fail

from . import store
from .ingest import IngestRefused, ingest
from .instance import MapError, init_map, open_map

map_group = click.Group("map", help="The public map: its own instance, fed signed bundles.")

_home = click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The map's folder.",
)


@map_group.command("init")
@_home
@click.option(
    "--verify-key",
    "verify_key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The workstation's publication.verify file.",
)
def init_command(home: Path, verify_key: Path) -> None:
    """Make a map folder that trusts bundles signed by this workstation's key."""
    try:
        instance = init_map(home, verify_key)
    except MapError as exc:
        fail(str(exc))
    click.echo(f"Map folder {instance.home}")
    click.echo(f"Trusts {instance.verify_key_text}")
    click.echo(f"Site settings: {instance.home / 'map.toml'}")


@map_group.command("ingest")
@_home
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
def ingest_command(home: Path, bundle: Path) -> None:
    """Verify a publication bundle and apply it (the next in sequence only)."""
    try:
        instance = open_map(home)
        with open(bundle, "rb") as handle:
            data = handle.read(MAX_PUBLICATION_BYTES + 1)
        result = ingest(instance, data)
    except OSError as exc:
        fail(f"cannot read {bundle}: {exc.strerror or exc}")
    except (MapError, IngestRefused) as exc:
        fail(str(exc))
    if result.retracted:  # her text out of the WAL file too (the server may hold it open)
        store.truncate_wal(instance.db_path)
    click.echo(f"Sequence {result.sequence}")
    click.echo(f"Entries added: {result.added}")
    click.echo(f"Entries retracted: {result.retracted}")
    if result.retracted_unknown:
        click.echo(f"Retractions of entries this map never held: {result.retracted_unknown}")


@map_group.command("build")
@_home
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the site: new, empty, or an earlier build (replaced).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that render the pages (default: one per core, at most 6).",
)
def build_command(home: Path, out: Path, jobs: int | None) -> None:
    """Write the whole site as static files (for nginx or a CDN).

    Exit status 0 once the new site is live, even if the previous build could not be
    deleted: that is a warning on stderr naming the folder (it may hold retracted
    entries; the next build tries again). OUT's parent folder must not be served."""
    from .build import BuildError, build_site

    try:
        result = build_site(home, out, jobs=jobs)
    except (MapError, BuildError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the site: {exc.strerror or exc} ({exc.filename or out})")
    click.echo(f"Site written to {result.out}")
    click.echo(f"Entries: {result.entries} (bundle sequence {result.sequence})")
    click.echo(f"Pages: {result.pages}; files: {result.files}; {result.seconds:.1f} s")
    for path in result.swept:
        click.echo(f"Deleted {path}, left by an earlier build")
    if result.cleanup_seconds:
        click.echo(f"Previous build deleted in {result.cleanup_seconds:.1f} s")
    for warning in result.warnings:
        click.echo(f"Warning: the new site is live, but {warning}", err=True)


@map_group.command("nginx-maps")
@_home
def nginx_maps_command(home: Path) -> None:
    """Print nginx `map` blocks for the static site's headers: $sesim_csp, the
    Content-Security-Policy `sesim serve map` sends at each address (with this map's
    tile_url), and $sesim_404, each language's 404 page (for nginx's http block)."""
    from .build import nginx_maps

    try:
        instance = open_map(home)
    except MapError as exc:
        fail(str(exc))
    click.echo(nginx_maps(instance.settings.tile_url), nl=False)
