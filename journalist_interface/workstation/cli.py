"""``sesim workstation …`` and ``sesim redact …``: the offline workstation's commands.

Each helper of issue 9 appends its own commands in its own section below.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from securedrop_like.cli import fail

workstation = click.Group(
    "workstation",
    help="The offline reviewer workstation: keys, import, cases, replies, publication.",
)

redact = click.Group("redact", help="The redaction check that every published text must pass.")


# -- STORE: keys, import, cases, search, replies, OpenPGP --------------------------------

PASSPHRASE_ENV = "SESIM_WORKSTATION_PASSPHRASE"  # noqa: S105 - a variable name
HOME_ENV = "SESIM_WORKSTATION_HOME"

_home_option = click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    envvar=HOME_ENV,
    help=f"The workstation's folder (or ${HOME_ENV}).",
)
_passphrase_option = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"Read the passphrase from this file (tests, the demo); else ${PASSPHRASE_ENV}, "
    "else it is asked for.",
)


def _passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> str:
    # Taken out of the environment as it is read: no child (gpg, gpg-agent, the sandbox,
    # a shell) inherits it.
    env = os.environ.pop(PASSPHRASE_ENV, None)
    if passphrase_file is not None:
        try:
            return passphrase_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read the passphrase file: {exc}")
    if env:
        return env
    value: str = click.prompt(
        "Passphrase", hide_input=True, confirmation_prompt="Passphrase again" if confirm else False
    )
    return value


@contextlib.contextmanager
def _opened(home: Path, passphrase_file: Path | None) -> Iterator[tuple[Any, Any]]:
    """(unlocked keys, case store) for one command; wiped and closed after."""
    from .casestore import CaseStore
    from .keys import WorkstationError, unlock

    try:
        unlocked = unlock(home, _passphrase(passphrase_file))
    except WorkstationError as exc:
        fail(str(exc))
    try:
        try:
            store = CaseStore.open(home, unlocked)
        except WorkstationError as exc:
            fail(str(exc))
        try:
            yield unlocked, store
        finally:
            store.close()
    finally:
        unlocked.wipe()


def _case_id(store: Any, case: str) -> int:
    if case.isdigit():
        return int(case)
    found = store.case_id(case)
    if found is None:
        fail(f"no case {case!r}")
    return int(found)


@workstation.command("init")
@_home_option
@click.option("--name", default="", help="Your name, written beside your public keys.")
@_passphrase_option
@click.option("--kdf-opslimit", type=int, hidden=True)
@click.option("--kdf-memlimit", type=int, hidden=True)
def ws_init(
    home: Path,
    name: str,
    passphrase_file: Path | None,
    kdf_opslimit: int | None,
    kdf_memlimit: int | None,
) -> None:
    """Make the workstation's keys in a new folder (never overwrites one)."""
    from . import keys

    if home.exists():
        fail(f"{home} already exists: a workstation home is never overwritten")
    if not name:
        name = click.prompt("Your name (shown beside your public keys)")
    passphrase = _passphrase(passphrase_file, confirm=True)
    costs: dict[str, int] = {}
    if kdf_opslimit is not None:
        costs["opslimit"] = kdf_opslimit
    if kdf_memlimit is not None:
        costs["memlimit"] = kdf_memlimit
    try:
        info = keys.init_home(home, passphrase, name=name, **costs)
    except keys.WorkstationError as exc:
        fail(str(exc))
    click.echo(f"Created the workstation in {home}.")
    _show_info(info)
    click.echo("")
    click.echo(f"On the server: sesim keys add-reviewer {info.submission_key_file}")
    click.echo(f"For the public map: copy {info.verify_key_file}")
    click.echo("Read the fingerprints aloud to whoever installs them, and compare.")


def _show_info(info: Any) -> None:
    click.echo(f"Reviewer: {info.name}")
    click.echo(f"Submission key {info.submission_public.key_id} ({info.submission_key_file.name})")
    click.echo(f"  fingerprint: {info.submission_fingerprint}")
    click.echo(f"Publication verify key ({info.verify_key_file.name})")
    click.echo(f"  fingerprint: {info.verify_fingerprint}")


@workstation.command("show-keys")
@_home_option
def ws_show_keys(home: Path) -> None:
    """Show this workstation's public keys and fingerprints, and the colleagues' keys."""
    from . import keys

    try:
        info = keys.key_info(home)
        colleagues = keys.colleague_names(home)
    except (keys.WorkstationError, OSError) as exc:
        fail(str(exc))
    _show_info(info)
    click.echo(f"Colleagues ({len(colleagues)}): replies are sealed to them too")
    for key, label in colleagues:
        click.echo(f"  {key.key_id}  {label}")
        click.echo(f"    fingerprint: {keys.fingerprint_words(key.raw)}")


@workstation.command("add-reviewer")
@_home_option
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Who the key belongs to (default: from the file).")
def ws_add_reviewer(home: Path, key_file: Path, name: str | None) -> None:
    """Add a colleague's submission public key (her reviewer.pub)."""
    from . import keys

    try:
        key = keys.add_reviewer(home, key_file, name=name)
    except keys.WorkstationError as exc:
        fail(str(exc))
    click.echo(f"Added reviewer key {key.key_id}.")
    click.echo(f"  fingerprint: {keys.fingerprint_words(key.raw)}")
    click.echo("Compare the fingerprint with her aloud. New replies are sealed to her too.")


@workstation.command("import")
@_home_option
@_passphrase_option
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ws_import(home: Path, passphrase_file: Path | None, bundle: Path) -> None:
    """Import an export bundle from the staff interface and decrypt it."""
    from .importer import import_bundle
    from .keys import WorkstationError

    with _opened(home, passphrase_file) as (unlocked, store):
        bar: Any = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = click.progressbar(length=max(total, 1), label="Importing", file=sys.stderr)
                bar.__enter__()
            bar.update(done - bar.pos)

        try:
            result = import_bundle(store, unlocked, bundle, progress)
        except WorkstationError as exc:
            if bar is not None:
                bar.__exit__(None, None, None)
            fail(str(exc))
        if bar is not None:
            bar.__exit__(None, None, None)
    if result.already_imported:
        click.echo("This bundle was imported before: nothing changed.")
        return
    click.echo(
        f"Imported {result.new_items} new item(s) of {result.items} into "
        f"{len(result.case_ids)} case(s); {result.skipped} already here or withdrawn."
    )
    if result.withdrawals:
        click.echo(f"Applied {result.withdrawals} withdrawal(s): her material is deleted.")
    if result.errors:
        click.echo(f"{result.errors} item(s) did not open:")
        for item_id, reason in result.error_items:
            click.echo(f"  {item_id}: {reason}")
    for designation in result.key_conflicts:
        click.echo(
            f"WARNING: the export names a different key for {designation} after replies were "
            "exchanged with her old key. The old key is kept and replies to her are refused "
            "until you check with her: `sesim workstation accept-new-key "
            f"{designation}` (or `--keep-old`).",
            err=True,
        )


@workstation.command("cases")
@_home_option
@_passphrase_option
def ws_cases(home: Path, passphrase_file: Path | None) -> None:
    """List the cases (no report text is printed)."""
    with _opened(home, passphrase_file) as (_unlocked, store):
        cases = store.list_cases()
    if not cases:
        click.echo("No cases yet: import an export bundle.")
    for case in cases:
        state = f" withdrawn {case.withdrawn_day}" if case.withdrawn_day else ""
        click.echo(
            f"{case.id:>5}  {case.designation:<30} {case.first_day}..{case.last_day}  "
            f"{case.items} item(s), {case.files} file(s), {case.replies} repl(y/ies)"
            f"{', ' + str(case.errors) + ' not opened' if case.errors else ''}"
            f"  {','.join(case.types) or '-'}  {case.district or '-'}{state}"
        )


@workstation.command("search")
@_home_option
@_passphrase_option
@click.argument("query")
@click.option("--snippets", is_flag=True, help="Also print the text around each match.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
def ws_search(
    home: Path, passphrase_file: Path | None, query: str, snippets: bool, limit: int
) -> None:
    """Full-text search across cases."""
    with _opened(home, passphrase_file) as (_unlocked, store):
        hits = store.search(query, limit=limit)
    if not hits:
        click.echo("No match.")
    for hit in hits:
        click.echo(
            f"{hit.case_id:>5}  {hit.designation:<30} {hit.kind:<8} {hit.day}  {hit.item_id}"
        )
        if snippets:
            text = "".join(f"[{t}]" if match else t for t, match in hit.parts())
            click.echo("       " + " ".join(text.split()))


def _reply_options(what: str) -> Callable[[Any], Any]:
    """--text-file, --lang and --author: what a reply written from the shell needs."""

    def decorate(command: Any) -> Any:
        command = click.option(
            "--author", help="Your staff name (default: the workstation's name)."
        )(command)
        command = click.option(
            "--lang", type=click.Choice(["az", "ru", "en"]), default="az", show_default=True
        )(command)
        return click.option(
            "--text-file",
            type=click.File("r", encoding="utf-8"),
            default="-",
            help=f"{what} (default: standard input).",
        )(command)

    return decorate


@workstation.command("reply")
@_home_option
@_passphrase_option
@click.argument("case")
@_reply_options("The reply's text")
def ws_reply(
    home: Path,
    passphrase_file: Path | None,
    case: str,
    text_file: Any,
    lang: str,
    author: str | None,
) -> None:
    """Write a reply to a case; it goes out with the next `workstation replies`."""
    from .keys import WorkstationError
    from .replies import add_reply

    text = text_file.read()
    with _opened(home, passphrase_file) as (unlocked, store):
        try:
            reply_id = add_reply(
                store, unlocked, _case_id(store, case), text, lang, author or unlocked.name
            )
        except WorkstationError as exc:
            fail(str(exc))
    click.echo(f"Reply {reply_id} sealed; it goes out with the next reply bundle.")


@workstation.command("accept-new-key")
@_home_option
@_passphrase_option
@click.argument("case")
@click.option(
    "--keep-old", is_flag=True, help="Keep the pinned key: the key the server named is not hers."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def ws_accept_new_key(
    home: Path, passphrase_file: Path | None, case: str, keep_old: bool, yes: bool
) -> None:
    """Resolve a key warning on a case, after comparing the key with her."""
    from .keypin import accept_new_key, keep_old_key, key_conflict
    from .keys import WorkstationError, fingerprint_words

    with _opened(home, passphrase_file) as (_unlocked, store):
        case_id = _case_id(store, case)
        with store.connection() as conn:
            conflict = key_conflict(conn, case_id)
        if conflict is None:
            fail("this case has no key warning: nothing to resolve")
        pinned = fingerprint_words(conflict.pinned_key) if conflict.pinned_key else "-"
        click.echo(f"Key kept:             {pinned}")
        click.echo(f"Key the server named: {fingerprint_words(conflict.offered_key)}")
        question = (
            "Keep the old key and drop the warning?"
            if keep_old
            else "Replies will be sealed to the key the server named. Did she confirm it?"
        )
        if not yes and not click.confirm(question, default=False):
            fail("nothing changed")
        try:
            with store.transaction() as conn:
                (keep_old_key if keep_old else accept_new_key)(conn, case_id)
        except WorkstationError as exc:
            fail(str(exc))
    click.echo("Kept the old key." if keep_old else "Her key is now the new one.")


@workstation.command("replies")
@_home_option
@_passphrase_option
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The reply bundle to write (a new file), for the staff interface.",
)
def ws_replies(home: Path, passphrase_file: Path | None, out: Path) -> None:
    """Write the replies waiting to be sent into a reply bundle."""
    from .keys import WorkstationError
    from .replies import write_reply_bundle

    with _opened(home, passphrase_file) as (_unlocked, store):
        try:
            count = write_reply_bundle(store, out)
        except WorkstationError as exc:
            fail(str(exc))
    if count == 0:
        click.echo("No reply is waiting: no bundle written.")
    else:
        click.echo(f"Wrote {count} reply(ies) to {out}: upload it in the staff interface.")


@workstation.command("export-pgp")
@_home_option
@_passphrase_option
@click.argument("case")
@click.option("--recipient", required=True, help="The OpenPGP key's fingerprint (40 hex).")
@click.option(
    "--gnupghome",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The GnuPG keyring holding that public key.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-files", is_flag=True, help="Leave the attached files out.")
def ws_export_pgp(
    home: Path,
    passphrase_file: Path | None,
    case: str,
    recipient: str,
    gnupghome: Path,
    out: Path,
    no_files: bool,
) -> None:
    """Export one decrypted case re-encrypted to an OpenPGP key (a tar inside)."""
    from .keys import WorkstationError
    from .pgp import export_case

    with _opened(home, passphrase_file) as (_unlocked, store):
        try:
            summary = export_case(
                store,
                _case_id(store, case),
                recipient=recipient,
                gnupghome=gnupghome,
                out=out,
                include_files=not no_files,
            )
        except WorkstationError as exc:
            fail(str(exc))
    click.echo(f"Wrote {out}: {summary.members} part(s), encrypted to {summary.recipient}.")


# -- PUBLISH: drafts of public entries, the publication bundle ----------------------------


def _draft_echo(draft: Any) -> None:
    point = "-"
    if draft.point is not None:
        point = f"{draft.point.kind}:{draft.point.lat}:{draft.point.lon}"
    click.echo(
        f"{draft.id}  case {draft.case_id}  {draft.status}  district {draft.district or '-'}"
        f"  point {point}  month {draft.month or '-'}  public id {draft.public_id or '-'}"
    )


@workstation.command("draft")
@_home_option
@_passphrase_option
@click.argument("case")
def ws_draft(home: Path, passphrase_file: Path | None, case: str) -> None:
    """Start a draft of a public entry from a case (pre-filled from her report)."""
    from .publish import PublishError, create_draft, get_draft

    with _opened(home, passphrase_file) as (_unlocked, store):
        try:
            with store.transaction() as conn:
                draft = get_draft(conn, create_draft(conn, _case_id(store, case)))
        except PublishError as exc:
            fail(str(exc))
    _draft_echo(draft)


@workstation.command("drafts")
@_home_option
@_passphrase_option
@click.option("--case", help="Only this case's drafts (designation or number).")
def ws_drafts(home: Path, passphrase_file: Path | None, case: str | None) -> None:
    """List drafts: id, case, status, district, point, month, public id (no texts)."""
    from .publish import list_drafts

    with _opened(home, passphrase_file) as (_unlocked, store):
        with store.connection() as conn:
            drafts = list_drafts(conn, None if case is None else _case_id(store, case))
    for draft in drafts:
        _draft_echo(draft)


def _read_text(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")


@workstation.command("draft-edit")
@_home_option
@_passphrase_option
@click.argument("draft_id")
@click.option("--types", help="Harassment type codes, comma-separated.")
@click.option("--district", help="A district code, or 'online'.")
@click.option("--lat", type=float, help="The place, to be coarsened (with --lon).")
@click.option("--lon", type=float)
@click.option("--station", help="Put the entry at this metro station (osm-node-…).")
@click.option("--month", help="YYYY-MM, or '-' for unknown.")
@click.option("--perpetrator", help="A perpetrator type code, or '-'.")
@click.option("--service", help="A service code, or '-'.")
@click.option("--language", type=click.Choice(["az", "ru", "en"]))
@click.option("--summary-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--story-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-story", is_flag=True, help="Remove the story.")
def ws_draft_edit(
    home: Path,
    passphrase_file: Path | None,
    draft_id: str,
    types: str | None,
    district: str | None,
    lat: float | None,
    lon: float | None,
    station: str | None,
    month: str | None,
    perpetrator: str | None,
    service: str | None,
    language: str | None,
    summary_file: Path | None,
    story_file: Path | None,
    no_story: bool,
) -> None:
    """Change a draft. Her exact place is never stored: --lat/--lon become a cell centre."""
    from .keys import WorkstationError
    from .publish import get_draft, set_place, set_station, update_draft

    if (lat is None) != (lon is None):
        fail("give both --lat and --lon, or neither")
    if station and (district or lat is not None):
        fail("give a station, or a district and place, not both")
    fields: dict[str, Any] = {}
    if types is not None:
        fields["types"] = [t.strip() for t in types.split(",") if t.strip()]
    for name, value in (("month", month), ("perpetrator", perpetrator), ("service", service)):
        if value is not None:
            fields[name] = None if value == "-" else value
    if language is not None:
        fields["language"] = language
    summary = _read_text(summary_file)
    if summary is not None:
        fields["summary"] = summary.strip()
    story = _read_text(story_file)
    if story is not None:
        fields["story"] = story.strip() or None
    if no_story:
        fields["story"] = None
    with _opened(home, passphrase_file) as (_unlocked, store):
        try:
            with store.transaction() as conn:
                if fields:
                    update_draft(conn, draft_id, **fields)
                if station:
                    set_station(conn, draft_id, station)
                elif district is not None or lat is not None:
                    set_place(conn, draft_id, district, lat, lon)
                draft = get_draft(conn, draft_id)
        except WorkstationError as exc:
            fail(str(exc))
    _draft_echo(draft)


@workstation.command("draft-check")
@_home_option
@_passphrase_option
@click.argument("draft_id")
def ws_draft_check(home: Path, passphrase_file: Path | None, draft_id: str) -> None:
    """Print what stops a draft from being published, one JSON line each; exit 1 if any."""
    import dataclasses

    from .publish import PublishError, draft_problems

    with _opened(home, passphrase_file) as (_unlocked, store):
        try:
            with store.connection() as conn:
                problems = draft_problems(conn, draft_id)
        except PublishError as exc:
            fail(str(exc))
    for problem in problems:
        fields = {k: v for k, v in dataclasses.asdict(problem).items() if v is not None}
        click.echo(json.dumps(fields, ensure_ascii=False))
    if problems:
        sys.exit(1)


@workstation.command("draft-keep")
@_home_option
@_passphrase_option
@click.argument("draft_id")
@click.option("--field", required=True, type=click.Choice(["summary", "story"]))
@click.option("--kind", required=True, help="The hit's kind, as draft-check printed it.")
@click.option("--text", "hit_text", required=True, help="The hit's text, as printed.")
@click.option("--reason", required=True, help="Why it stays (kept with the draft).")
def ws_draft_keep(
    home: Path,
    passphrase_file: Path | None,
    draft_id: str,
    field: str,
    kind: str,
    hit_text: str,
    reason: str,
) -> None:
    """Keep one redaction hit on purpose, with a reason."""
    from .publish import PublishError, keep_hit

    with _opened(home, passphrase_file) as (_unlocked, store):
        try:
            with store.transaction() as conn:
                keep_hit(conn, draft_id, field, kind, hit_text, reason)
        except PublishError as exc:
            fail(str(exc))
    click.echo("Kept.")


@workstation.command("draft-ask")
@_home_option
@_passphrase_option
@click.argument("draft_id")
@_reply_options("Your message to her above the draft")
def ws_draft_ask(
    home: Path,
    passphrase_file: Path | None,
    draft_id: str,
    text_file: Any,
    lang: str,
    author: str | None,
) -> None:
    """Send the draft to her for approval, as a reply (for consent "ask me first")."""
    from .keys import WorkstationError
    from .publish import consent_request, get_draft
    from .replies import add_reply

    text = text_file.read()
    with _opened(home, passphrase_file) as (unlocked, store):
        try:
            with store.transaction() as conn:
                request = consent_request(conn, draft_id)
                case_id = get_draft(conn, draft_id).case_id
            reply_id = add_reply(
                store, unlocked, case_id, text, lang, author or unlocked.name,
                consent_request=request,
            )  # fmt: skip
        except WorkstationError as exc:
            fail(str(exc))
    click.echo(f"Reply {reply_id} asks her about draft {draft_id}; it goes out with the next"
               " reply bundle.")  # fmt: skip


@workstation.command("draft-accept")
@_home_option
@_passphrase_option
@click.argument("draft_id")
def ws_draft_accept(home: Path, passphrase_file: Path | None, draft_id: str) -> None:
    """Accept a draft for the next publication bundle (refused while it has problems)."""
    from .publish import PublishError, accept

    with _opened(home, passphrase_file) as (_unlocked, store):
        try:
            with store.transaction() as conn:
                public_id = accept(conn, draft_id)
        except PublishError as exc:
            for problem in exc.problems:
                click.echo(f"- {problem.message}", err=True)
            fail(str(exc))
    click.echo(f"Accepted as public entry {public_id}.")


@workstation.command("publish")
@_home_option
@_passphrase_option
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The publication bundle to write (a new file), for the public map.",
)
def ws_publish(home: Path, passphrase_file: Path | None, out: Path) -> None:
    """Write the next signed publication bundle: accepted entries and retractions."""
    from .publish import PublishError, write_publication

    with _opened(home, passphrase_file) as (unlocked, store):
        try:
            summary = write_publication(store, unlocked, out)
        except PublishError as exc:
            fail(str(exc))
    click.echo(
        f"Wrote publication bundle {summary.sequence} to {out}: {summary.entries} entries,"
        f" {summary.retractions} retractions; SHA-256 {summary.sha256}."
    )
    if summary.held_back:
        click.echo(
            f"{len(summary.held_back)} accepted draft(s) held back: their checks failed again"
            " (see `sesim workstation draft-check`)."
        )


@workstation.command("retract")
@_home_option
@_passphrase_option
@click.argument("public_id")
def ws_retract(home: Path, passphrase_file: Path | None, public_id: str) -> None:
    """Take one published entry off the public map with the next publication bundle."""
    from .publish import PublishError, retract

    with _opened(home, passphrase_file) as (_unlocked, store):
        try:
            with store.transaction() as conn:
                retract(conn, public_id.strip().lower())
        except PublishError as exc:
            fail(str(exc))
    click.echo(
        f"Entry {public_id} is queued for retraction: run `sesim workstation publish` and"
        " carry the bundle to the public map."
    )


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
@click.option(
    "--idle-minutes",
    default=15.0,
    show_default=True,
    type=click.FloatRange(1, 24 * 60),
    help="Lock (wipe the key from memory) after this long without a request.",
)
def serve_command(home: Path, host: str, port: int, idle_minutes: float) -> None:
    """Serve the workstation on 127.0.0.1 (never on a network)."""
    from . import errors, keys
    from .server import NotLoopback, run

    try:
        run(home, host, port, idle_minutes=idle_minutes)
    except (NotLoopback, keys.WorkstationError, errors.WorkstationError) as exc:
        raise click.ClickException(str(exc)) from None


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

    Runs the sandbox's probe: it tries to connect to a listener on 127.0.0.1,
    to make a Unix socket and to write a file outside. Exits 1 if any works, or
    if a barrier without which the viewer refuses to render is missing."""
    import sys

    from .sanitize import UnsafeFile, probe

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener, \
            tempfile.TemporaryDirectory(prefix="sesim-sandbox-check-") as outside:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = str(listener.getsockname()[1])
        target = Path(outside) / "written-from-the-sandbox"
        try:
            report = probe(["connect", "127.0.0.1", port, "socket", "unix",
                            "write", str(target)])
        except UnsafeFile as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        wrote = target.exists()
    barriers = report["barriers"]
    click.echo(json.dumps({**report["probe"], **barriers}, sort_keys=True))
    connected = report["probe"].get("connect") == "connected"
    unix = report["probe"].get("socket-AF_UNIX") == "created"
    if connected:
        click.echo("Error: code in the sandbox reached the network.", err=True)
    if unix:
        click.echo("Error: code in the sandbox made a Unix socket.", err=True)
    if wrote:
        click.echo("Error: code in the sandbox wrote a file "
                   "(no Landlock on this kernel).", err=True)
    refuses = [b for b in ("hidden", "seccomp") if not barriers.get(b)]
    if refuses:
        click.echo(f"Error: the viewer refuses to render here: {', '.join(refuses)} missing "
                   "(see the line above for why).", err=True)
    if connected or unix or wrote or refuses:
        sys.exit(1)
    for barrier in ("netns", "pidns", "no_nested_namespaces", "no_capabilities", "landlock"):
        if not barriers.get(barrier):
            click.echo(f"Warning: barrier {barrier} is missing on this computer "
                       "(see the line above for why).", err=True)
    click.echo("The sandbox holds: no network, no sockets, no writes, folders hidden.")


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


# -- E-MAIL (issue 12): the instance's OpenPGP key -------------------------------------------

pgp_key_group = click.Group(
    "pgp-key", help="The instance's OpenPGP key, for e-mail reports encrypted to it."
)
workstation.add_command(pgp_key_group)


@pgp_key_group.command("generate")
@_home_option
@_passphrase_option
@click.option("--address", required=True, help="The reporting mailbox's address (the key's id).")
@click.option("--name", default="Səsim", show_default=True, help="The name on the key.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the public key (for `sesim pgp-key install` on the server).",
)
def ws_pgp_key_generate(
    home: Path, passphrase_file: Path | None, address: str, name: str, out: Path
) -> None:
    """Make the OpenPGP key pair here and export its public part.

    The secret part stays in this workstation's GnuPG home, locked by a passphrase
    derived from your unlocked keys; e-mail encrypted to it opens in the case page."""
    from .keys import WorkstationError, unlock
    from .mail import generate_key

    try:
        unlocked = unlock(home, _passphrase(passphrase_file))
    except WorkstationError as exc:
        fail(str(exc))
    try:
        fingerprint = generate_key(unlocked, name, address, out)
    except WorkstationError as exc:
        fail(str(exc))
    finally:
        unlocked.wipe()
    grouped = " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4))
    click.echo(f"Made the OpenPGP key {grouped}")
    click.echo(f"Wrote its public part to {out}: on the server, run `sesim pgp-key install {out}`.")
