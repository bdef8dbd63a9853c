"""The core's commands of ``sesim``: make an instance, install reviewer keys, pin the
key derivation, rebuild the database, migrate it, back it up and restore it, and
wrap, unlock and check its key (issue 13). The ``sesim`` command itself lives in
``sesim/cli.py``, above the apps; ``home_option`` and ``fail`` are shared with the apps'
command groups."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import click

from crypto import (
    WRAP_MEMLIMIT,
    WRAP_OPSLIMIT,
    WRAPPED_KEY_BYTES,
    CryptoError,
    DecryptionError,
    new_private_file,
    read_public_key_file,
    unwrap_key,
    wrap_key,
)

from . import backup as backup_module
from . import db, models
from .config import (
    Config,
    ConfigError,
    check_kdf,
    load_config,
    read_kdf_pin,
    resolve_home,
    weak_kdf_allowed,
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
    if config.secret_file("db.key") != config.db_key_path:
        click.echo(
            f"Its database key is the systemd credential {config.secret_file('db.key')} "
            "(secrets/db.key was not written)."
        )
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


# -- issue 13: migrations, backups, restore and the database key ----------------------------


@click.command()
@home_option
def migrate(home: Path | None) -> None:
    """Bring the database schema up to date (the servers do it too) and print its version."""
    try:
        config = load_config(home)
        if not config.db_path.is_file():
            _fail(f"there is no database at {config.db_path}")
        conn = db.Database.for_config(config).open()
        try:
            before = db.schema_version(conn)
        finally:
            conn.close()
        open_instance(config.home)
        conn = db.Database.for_config(config).open()
        try:
            after = db.schema_version(conn)
        finally:
            conn.close()
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
        return
    if after == before:
        click.echo(f"The database is at schema version {after}; nothing to migrate.")
    else:
        click.echo(f"Migrated the database from schema version {before} to {after}.")


@click.command("backup")
@home_option
@click.option(
    "--out-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the backups (made 0700 if missing).",
)
@click.option(
    "--recipient",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The administrator's OpenPGP public key (ASCII-armoured) to encrypt to.",
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=backup_module.DEFAULT_KEEP,
    show_default=True,
    help="How many backups to keep in --out-dir (the newest).",
)
def backup_command(home: Path | None, out_dir: Path, recipient: Path, keep: int) -> None:
    """Back the instance up while the servers run: database (online copy), config,
    secrets (db.key included), public keys and onion keys, in one tar encrypted with
    gpg to --recipient, as OUT_DIR/sesim-backup-YYYY-MM-DD[-N].tar.gpg (0600). Keeps
    the newest --keep backups. Prints the new file's path."""
    try:
        config = load_config(home)
        if not config.db_path.is_file():
            _fail(f"there is no database at {config.db_path}")
        path = backup_module.backup(config, out_dir, recipient, keep=keep)
    except (ConfigError, DatabaseError, backup_module.BackupError) as exc:
        _fail(str(exc))
        return
    click.echo(str(path))


@click.command("restore")
@home_option
@click.option(
    "--from",
    "source",
    required=True,
    help="The backup (FILE.tar.gpg, decrypted with gpg), or - for the decrypted tar on stdin.",
)
@click.option(
    "--gnupghome",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keyring holding the backup key's secret part (default: $GNUPGHOME or ~/.gnupg).",
)
@click.option(
    "--db-key-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the database key (hex, 0600, a new file; its folder must exist) here "
    "only, never into the instance folder.",
)
def restore_command(
    home: Path | None, source: str, gnupghome: Path | None, db_key_out: Path | None
) -> None:
    """Restore a backup into a new instance folder (--home; refused if it holds one).

    Writes secrets/db.key (0600), or with --db-key-out that file instead (the key never
    touches the instance folder, e.g. on a tmpfs for the ansible role to seal). A
    backup whose config.toml puts tor_dir outside the new home is refused."""
    try:
        target = resolve_home(home)
        if source == "-":
            if sys.stdin.isatty():
                _fail("--from - reads the decrypted tar on stdin, which is a terminal")
            restored = backup_module.restore(sys.stdin.buffer, target, db_key_out)
        else:
            restored = backup_module.restore_from_file(Path(source), target, gnupghome, db_key_out)
    except (ConfigError, backup_module.BackupError) as exc:
        _fail(str(exc))
        return
    click.echo(
        f"Restored a Səsim instance into {restored.home} "
        f"(database schema version {restored.schema_version})."
    )
    click.echo(f"Secrets: {', '.join(restored.secrets)}")
    if restored.db_key_out is not None:
        click.echo(f"The database key was written to {restored.db_key_out}, not secrets/db.key.")
    if restored.onions:
        onions = ", ".join(f"{name} ({address})" for name, address in restored.onions.items())
        click.echo(f"Onion services: {onions}")
    else:
        click.echo("Onion services: none in this backup")
    public = [name for name in backup_module.PUBLIC_FILES if name in restored.files]
    click.echo(f"Also: config.toml, db.sqlite{''.join(', ' + name for name in public)}")


@click.group("db-key")
def db_key() -> None:
    """The database key: wrap it under a passphrase, unlock it at boot, check it, rotate it."""


# Shown on the boot console by systemd-ask-password: ASCII, so every console font has it.
ASK_PASSWORD_PROMPT = "Passphrase of the Sesim database key:"  # noqa: S105 - a prompt
UNLOCK_TRIES = 3


def _wrap_costs() -> dict[str, int]:
    """The Argon2id costs of a new wrapped key: the strong defaults, or the cheap test
    ones when the test-only variable allows weak settings (as for codenames)."""
    if weak_kdf_allowed():
        return {"opslimit": 1, "memlimit": 8 * 1024 * 1024}
    return {"opslimit": WRAP_OPSLIMIT, "memlimit": WRAP_MEMLIMIT}


def _line_from_stdin() -> str:
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def _ask_password() -> str:
    binary = shutil.which("systemd-ask-password")
    if binary is None:
        _fail("systemd-ask-password is not installed")
    # Fixed argv, no shell. The passphrase comes back on stdout, never on a command line.
    result = subprocess.run(  # noqa: S603
        [binary, "--timeout=0", ASK_PASSWORD_PROMPT],
        stdout=subprocess.PIPE,
        check=False,
    )
    if result.returncode != 0:
        _fail("systemd-ask-password gave no passphrase")
    text = result.stdout.decode("utf-8", "replace")
    return text[:-1] if text.endswith("\n") else text


def _write_key_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as a new 0600 file, then move it into place atomically
    (so a reader never sees half a key, and nothing is left when writing fails)."""
    path = path.expanduser().absolute()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.new")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # e.g. /run/credstore
        with new_private_file(tmp, encoding="ascii") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        _fail(f"cannot write {path}: {exc.strerror or exc}")


def _db_key_and_source(config: Config) -> tuple[bytes, Path]:
    source = config.secret_file("db.key")
    return config.read_secret(config.db_key_path), source


def _where(config: Config, source: Path) -> str:
    if source != config.db_key_path:
        return f"the systemd credential {source}"
    return str(source)


@db_key.command("wrap")
@home_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="The wrapped key file to write (0600; replaced atomically), or - for stdout.",
)
def db_key_wrap(home: Path | None, out: Path) -> None:
    """Seal the database key under a passphrase (Argon2id, 4 passes, 512 MiB) into --out.

    With --out - the wrapped key's text goes to stdout (the message to stderr), so
    root can write the file itself. The passphrase is read from stdin (one line) when
    it is not a terminal, else asked twice. At least 16 characters."""
    try:
        config = load_config(home)
        key, source = _db_key_and_source(config)
        if not config.db_path.is_file():
            _fail(f"there is no database at {config.db_path}")
        db.connect(config.db_path, key).close()
    except (ConfigError, DatabaseError) as exc:
        _fail(str(exc))
        return
    if sys.stdin.isatty():
        passphrase = click.prompt(
            "Passphrase for the database key",
            hide_input=True,
            confirmation_prompt="Repeat the passphrase",
            err=True,
        )
    else:
        passphrase = _line_from_stdin()
    try:
        wrapped = wrap_key(key, passphrase, **_wrap_costs())
    except CryptoError as exc:
        _fail(str(exc))
        return
    if str(out) == "-":
        click.echo(wrapped.hex())
        click.echo(f"Wrapped the database key from {_where(config, source)} (on stdout).", err=True)
        return
    _write_key_file(out, wrapped.hex() + "\n")
    click.echo(f"Wrapped the database key from {_where(config, source)} into {out}.")


@db_key.command("unlock")
@click.option(
    "--wrapped",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The file written by `sesim db-key wrap`.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the database key (0600, atomically), e.g. /run/credstore/sesim-db.key.",
)
@click.option(
    "--ask-password",
    is_flag=True,
    help="Ask through systemd-ask-password (at boot), up to 3 times.",
)
def db_key_unlock(wrapped: Path, out: Path, ask_password: bool) -> None:
    """Unwrap the database key with its passphrase and write it to --out (hex, 0600).

    Without --ask-password the passphrase is read from stdin (one line) when it is not
    a terminal, else asked once. A wrong passphrase writes nothing and exits 1."""
    try:
        text = wrapped.read_text(encoding="ascii").strip()
        if len(text) > 2 * WRAPPED_KEY_BYTES + 16:
            raise ValueError("too long")
        data = bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError):
        _fail(f"{wrapped} is not a wrapped key made by `sesim db-key wrap`")
        return
    interactive = ask_password or sys.stdin.isatty()
    tries = UNLOCK_TRIES if interactive else 1
    key = b""
    for attempt in range(1, tries + 1):
        if ask_password:
            passphrase = _ask_password()
        elif sys.stdin.isatty():
            passphrase = click.prompt("Passphrase of the database key", hide_input=True, err=True)
        else:
            passphrase = _line_from_stdin()
        try:
            key = unwrap_key(data, passphrase)
            break
        except DecryptionError:
            if attempt == tries:
                _fail("wrong passphrase: the database key was not unlocked")
            click.echo("Wrong passphrase, try again.", err=True)
        except CryptoError as exc:
            _fail(f"{wrapped}: {exc}")
    _write_key_file(out, key.hex() + "\n")
    click.echo(f"Unlocked the database key into {out}.")


@db_key.command("check")
@home_option
def db_key_check(home: Path | None) -> None:
    """Check that the database key found (the systemd credential in
    $CREDENTIALS_DIRECTORY first, else secrets/db.key) opens the database."""
    try:
        config = load_config(home)
        if not config.db_path.is_file():
            _fail(f"there is no database at {config.db_path}")
        key, source = _db_key_and_source(config)
    except ConfigError as exc:
        _fail(str(exc))
        return
    try:
        conn = db.connect(config.db_path, key)
        try:
            version = db.schema_version(conn)
        finally:
            conn.close()
    except DatabaseError as exc:
        _fail(f"the database key from {_where(config, source)} does not open the database: {exc}")
        return
    click.echo(
        f"The database key from {_where(config, source)} opens the database "
        f"(schema version {version})."
    )


def _refuse_if_servers_run(config: Config) -> None:
    from .writer_process import writer_running

    socket_path = writer_running(config)
    if socket_path is not None:
        _fail(
            f"the servers of this instance are running (a writer answers on {socket_path}): "
            "stop them first"
        )


@db_key.command("rotate")
@home_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new key (hex, 0600, a new file; its folder must exist).",
)
def db_key_rotate(home: Path | None, out: Path) -> None:
    """Re-encrypt the database under a new random key (after a seizure, say).

    The old key is read as usual (the systemd credential, else secrets/db.key); the
    new one is written to --out only. Stop the servers first. Then seal the new key
    and remove the old one: backups made before stay under the old key."""
    try:
        config = load_config(home)
        if not config.db_path.is_file():
            _fail(f"there is no database at {config.db_path}")
        old_key, source = _db_key_and_source(config)
    except ConfigError as exc:
        _fail(str(exc))
        return
    _refuse_if_servers_run(config)
    try:
        version = rekey_database(config.db_path, old_key, out.expanduser().absolute())
    except (DatabaseError, backup_module.BackupError) as exc:
        _fail(str(exc))
        return
    click.echo(
        f"The database (schema version {version}) is now encrypted under a new key, "
        f"written to {out}; the old key from {_where(config, source)} no longer opens it."
    )
    if source == config.db_key_path:
        click.echo(f"Replace {source} with the new key (or seal it and remove both).")
    else:
        click.echo("Seal the new key in place of the old one (run the play again).")


def rekey_database(path: Path, old_key: bytes, out: Path) -> int:
    """Rekey the database at ``path`` from ``old_key`` to a new random key, written
    first to the new file ``out`` (so a failure never loses the key); checks that
    the new key opens it and the old one no longer does. Returns its schema version."""
    import sqlcipher3

    conn = db.connect(path, old_key)
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            raise DatabaseError("the database is in use (the WAL could not be checkpointed)")
        new_key = secrets.token_bytes(32)
        if not out.parent.is_dir():
            raise DatabaseError(f"cannot write the new key to {out}: {out.parent} is no folder")
        try:
            backup_module.write_new_key_file(out, new_key)
        except FileExistsError:
            raise DatabaseError(f"refusing to write the new key: {out} already exists") from None
        except OSError as exc:
            raise DatabaseError(f"cannot write the new key to {out}: {exc.strerror}") from exc
        try:
            if conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0].lower() != "delete":
                raise DatabaseError("the database is in use (cannot leave WAL mode)")
            conn.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")  # noqa: S608 - hex of our key
        except (sqlcipher3.Error, DatabaseError) as exc:
            out.unlink(missing_ok=True)
            raise DatabaseError(f"the rekey failed, the old key still opens it: {exc}") from exc
    finally:
        conn.close()
    check = db.connect(path, new_key)  # sets WAL mode again
    try:
        version = db.schema_version(check)
        result = check.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        check.close()
    if result != "ok":
        raise DatabaseError(f"the rekeyed database failed its check: {result}")
    try:
        db.connect(path, old_key).close()
    except DatabaseError:
        return version
    raise DatabaseError("the old key still opens the database after the rekey")


@click.group("session-key")
def session_key() -> None:
    """The servers' session key (secrets/session.key: cookies and CSRF tokens)."""


@session_key.command("rotate")
@home_option
def session_key_rotate(home: Path | None) -> None:
    """Replace secrets/session.key with a new random key: once the servers start
    again, every staff and source session has ended. Stop the servers first."""
    from .config import credential_path

    try:
        config = load_config(home)
    except ConfigError as exc:
        _fail(str(exc))
        return
    credential = credential_path("session.key")
    if credential is not None and credential.is_file():
        _fail(f"the session key is the systemd credential {credential}: replace that instead")
    _refuse_if_servers_run(config)
    _write_key_file(config.session_key_path, secrets.token_bytes(32).hex() + "\n")
    click.echo(
        f"Wrote a new session key to {config.session_key_path}: every staff and source "
        "session ends. Start the servers again."
    )


COMMANDS: tuple[click.Command, ...] = (
    init,
    keys,
    pin_kdf,
    vacuum,
    thread_key,
    channel_keys,
    pgp_key,
    migrate,
    backup_command,
    restore_command,
    db_key,
    session_key,
)
"""The core's own commands: an instance, its reviewer keys and its database. The
``sesim`` command (``sesim/cli.py``) adds them beside the apps' groups."""
