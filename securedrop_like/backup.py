"""Backups and restore of an instance (``sesim backup``, ``sesim restore``; issue 13).

A backup is one tar, streamed into gpg and encrypted to an administrator's
OpenPGP public key, so no plaintext of it ever reaches a disk::

    sesim-backup.json      what this is: format 1, the schema version, the parts
    config.toml
    db.sqlite              a copy by SQLite's online backup API (consistent while
                           the servers write), still SQLCipher-encrypted
    secrets/…              every secret file, db.key included (from the systemd
                           credential when it is not on disk)
    channel.pub, pgp-public.asc   when present
    tor/<onion>/…          each onion folder: keys, hostname, authorized_clients/
                           (not tor's data/ cache)

The tar is normalised (sorted, no owner names, ids 0, every mtime 0; dirs
0700, files 0600, the public files 0644), so it says nothing of when a file
changed. It lands in ``DIR/sesim-backup-YYYY-MM-DD[-N].tar.gpg`` (0600),
published only once complete; then all but the newest ``keep`` are deleted.
What a killed backup left (``DIR/.sesim-backup-*``) is removed a day later.

The database copy is made beside the backups, in a private folder removed at
the end: it is the database's own ciphertext, under the same key.

:func:`restore` reads such a tar (decrypted by gpg, or from a stream), refuses
anything but plain files and folders under the names above, writes into a
private staging folder inside the new home, checks that the database opens
with the restored key, and only then moves the parts into place. The key
itself is kept in memory while extracting (never in the staging folder): it is
then written either to secrets/db.key or, with ``db_key_out``, only to that
new file outside the home (``sesim restore --db-key-out``: a key that must be
sealed should never touch the instance's disk). A backup whose config.toml puts
the tor folder outside the new home is refused before anything is moved.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlcipher3

from crypto import CryptoError, OpenPGP, decrypting_reader

from . import db
from .config import (
    CONFIG_NAME,
    CREDENTIALS_ENV,
    Config,
    ConfigError,
    load_config,
    missing_secret_message,
)
from .pgp_key import KEY_FILE as PGP_KEY_FILE

__all__ = [
    "BACKUP_NAME_RE",
    "BackupError",
    "Restored",
    "backup",
    "restore",
    "restore_from_file",
    "rotate",
    "write_new_key_file",
]

FORMAT = 1
MANIFEST = "sesim-backup.json"
DB_NAME = "db.sqlite"
CHANNEL_PUBLIC = "channel.pub"
PUBLIC_FILES = (CHANNEL_PUBLIC, PGP_KEY_FILE)
TOR = "tor"
SECRETS = "secrets"
ONION_KEY_FILE = "hs_ed25519_secret_key"  # noqa: S105 - a file name
BACKUP_NAME_RE = re.compile(r"^sesim-backup-(\d{4}-\d{2}-\d{2})(?:-([1-9][0-9]{0,5}))?\.tar\.gpg$")
DEFAULT_KEEP = 14
MAX_RECIPIENT_KEY_BYTES = 256 * 1024
_TOP_LEVEL = {MANIFEST, CONFIG_NAME, DB_NAME, SECRETS, TOR, *PUBLIC_FILES}
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
_CHUNK = 1 << 20
DB_KEY_MEMBER = f"{SECRETS}/db.key"
MAX_DB_KEY_BYTES = 256  # 64 hex digits and a newline; anything larger is not a key


class BackupError(Exception):
    """A backup or a restore could not be made; nothing half-made is left."""


# -- backup ------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """One tar member: a folder, bytes in memory, or a file on disk."""

    name: str
    mode: int
    data: bytes | None = None
    path: Path | None = None

    @property
    def is_dir(self) -> bool:
        return self.data is None and self.path is None


def _tarinfo(entry: _Entry, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.name)
    info.type = tarfile.DIRTYPE if entry.is_dir else tarfile.REGTYPE
    info.mode = entry.mode
    info.size = 0 if entry.is_dir else size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _regular_files(folder: Path) -> list[Path]:
    """The regular files directly in ``folder`` (no links), sorted by name."""
    try:
        found = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    except FileNotFoundError:
        return []
    return sorted(found, key=lambda p: p.name)


def _check_name(name: str, where: str) -> None:
    if not _PLAIN_NAME.fullmatch(name):
        raise BackupError(f"refusing to back up {where}/{name!r}: not a plain file name")


def _secret_entries(config: Config) -> list[_Entry]:
    """secrets/ and every file in it, each read where the servers read it (the systemd
    credential first), db.key always."""
    names = {p.name for p in _regular_files(config.secrets_dir)} | {"db.key"}
    credentials = os.environ.get(CREDENTIALS_ENV)
    if credentials:  # a secret given only as a credential (intake.toml, say) is kept too
        names |= {p.name for p in _regular_files(Path(credentials))}
    entries = [_Entry(SECRETS, 0o700)]
    for name in sorted(names):
        _check_name(name, SECRETS)
        source = config.secret_file(name)
        try:
            data = source.read_bytes()
        except FileNotFoundError as exc:
            raise BackupError(missing_secret_message(config, name)) from exc
        except OSError as exc:
            raise BackupError(f"cannot read the secret {name} ({source}): {exc.strerror}") from exc
        entries.append(_Entry(f"{SECRETS}/{name}", 0o600, data=data))
    return entries


def onion_folders(config: Config) -> list[Path]:
    """The onion service folders in the tor folder: those holding an onion key."""
    try:
        folders = [p for p in config.tor_path.iterdir() if p.is_dir() and not p.is_symlink()]
    except FileNotFoundError:
        return []
    return sorted((p for p in folders if (p / ONION_KEY_FILE).is_file()), key=lambda p: p.name)


def _tor_entries(config: Config) -> list[_Entry]:
    """tor/<onion>/ with its files and authorized_clients/ (one level of folders)."""
    folders = onion_folders(config)
    if not folders:
        return []
    entries = [_Entry(TOR, 0o700)]
    for folder in folders:
        _check_name(folder.name, TOR)
        base = f"{TOR}/{folder.name}"
        entries.append(_Entry(base, 0o700))
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            _check_name(path.name, base)
            if path.is_symlink():
                continue
            if path.is_file():
                entries.append(_Entry(f"{base}/{path.name}", 0o600, data=path.read_bytes()))
            elif path.is_dir():
                entries.append(_Entry(f"{base}/{path.name}", 0o700))
                for inner in _regular_files(path):
                    _check_name(inner.name, f"{base}/{path.name}")
                    entries.append(
                        _Entry(f"{base}/{path.name}/{inner.name}", 0o600, data=inner.read_bytes())
                    )
    return entries


def copy_database(config: Config, target: Path) -> int:
    """Copy the live database to ``target`` (new) with SQLite's online backup API, in
    one step: the source holds one read transaction, so the copy is the database as it
    was at one instant, while the servers go on writing (WAL). The copy stays encrypted
    under the same key and is self-contained (no -wal). Returns its schema version."""
    key = config.read_secret(config.db_key_path)
    source = db.connect(config.db_path, key)
    try:
        copy = sqlcipher3.connect(str(target), isolation_level=None)
        try:
            copy.execute(f"PRAGMA key = \"x'{key.hex()}'\"")  # noqa: S608 - hex of our key
            # A work file, read into the tar and removed within seconds: syncing it to
            # the disk (the default, FULL) would only cost I/O; a crash leaves it to
            # sweep_leftovers, never to a restore.
            copy.execute("PRAGMA synchronous = OFF")
            source.backup(copy)  # pages=-1: every page in one step
            copy.execute("PRAGMA journal_mode = DELETE")
            checked = copy.execute("PRAGMA quick_check").fetchone()[0]
            version = db.schema_version(copy)
        finally:
            copy.close()
    except sqlcipher3.Error as exc:
        raise BackupError(f"the database copy failed: {exc}") from exc
    finally:
        source.close()
    if checked != "ok":
        raise BackupError(f"the database copy failed its check: {checked}")
    return version


def _entries(config: Config, db_copy: Path, version: int) -> list[_Entry]:
    entries: list[_Entry] = []
    config_path = config.home / CONFIG_NAME
    entries.append(_Entry(CONFIG_NAME, 0o600, data=config_path.read_bytes()))
    entries.append(_Entry(DB_NAME, 0o600, path=db_copy))
    for name in PUBLIC_FILES:
        path = config.home / name
        if path.is_file() and not path.is_symlink():
            entries.append(_Entry(name, 0o644, data=path.read_bytes()))
    entries += _secret_entries(config)
    entries += _tor_entries(config)
    entries.sort(key=lambda e: e.name)
    manifest = {
        "format": FORMAT,
        "schema_version": version,
        "files": [e.name for e in entries],
    }
    text = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8") + b"\n"
    return [_Entry(MANIFEST, 0o600, data=text), *entries]


def write_tar(entries: list[_Entry], out: IO[bytes]) -> None:
    """The normalised tar of ``entries`` (in their order), streamed into ``out``."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if entry.is_dir:
                tar.addfile(_tarinfo(entry, 0))
            elif entry.data is not None:
                tar.addfile(_tarinfo(entry, len(entry.data)), io.BytesIO(entry.data))
            else:
                assert entry.path is not None  # noqa: S101 - see _Entry
                with entry.path.open("rb") as fh:
                    size = os.fstat(fh.fileno()).st_size
                    tar.addfile(_tarinfo(entry, size), fh)


def _read_recipient(recipient: Path) -> str:
    try:
        if recipient.stat().st_size > MAX_RECIPIENT_KEY_BYTES:
            raise BackupError(f"{recipient} is too large to be one public key")
        return recipient.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupError(f"cannot read the recipient key {recipient}: {exc}") from exc


def _next_name(out_dir: Path, day: str) -> Iterator[Path]:
    """The day's names after the highest one there: a name freed by rotation is never
    taken again, or the new backup would sort as the day's oldest and be the one
    rotation deletes (keep 3, a fourth backup that day removes the first; a fifth
    would have been named as the first)."""
    numbers = [0]
    for path in out_dir.iterdir():
        match = BACKUP_NAME_RE.fullmatch(path.name)
        if match and match.group(1) == day:
            numbers.append(int(match.group(2) or 1))
    for n in range(max(numbers) + 1, 1_000_000):
        yield out_dir / (
            f"sesim-backup-{day}.tar.gpg" if n == 1 else f"sesim-backup-{day}-{n}.tar.gpg"
        )


def _publish(partial: Path, out_dir: Path, day: str) -> Path:
    """Give the finished ``partial`` the day's next name (never overwriting)."""
    for candidate in _next_name(out_dir, day):
        try:
            os.link(partial, candidate)
        except FileExistsError:
            continue
        partial.unlink()
        return candidate
    raise BackupError(f"no free backup name left for {day} in {out_dir}")  # pragma: no cover


LEFTOVER_SECONDS = 24 * 3600


def sweep_leftovers(out_dir: Path, now: float | None = None) -> list[Path]:
    """Remove what a backup killed midway left (its work folder, its unfinished file),
    once a day old: a backup running now is never touched. Returns what was removed."""
    now = time.time() if now is None else now
    removed = []
    for path in out_dir.iterdir():
        if not path.name.startswith(".sesim-backup-"):
            continue
        try:
            if now - path.lstat().st_mtime < LEFTOVER_SECONDS:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def _make_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if not out_dir.is_dir():
            raise BackupError(f"{out_dir} is not a folder") from None
        return
    except OSError as exc:
        raise BackupError(f"cannot create {out_dir}: {exc.strerror}") from exc
    os.chmod(out_dir, 0o700)


def backup(
    config: Config,
    out_dir: Path,
    recipient: Path,
    *,
    keep: int = DEFAULT_KEEP,
    day: str | None = None,
) -> Path:
    """Back the instance up into ``out_dir``, encrypted to the OpenPGP public key in the
    file ``recipient``; keep the newest ``keep`` backups. Returns the new file's path.
    ``day`` (YYYY-MM-DD) names the file; default: today (UTC)."""
    if keep < 1:
        raise BackupError("--keep must be at least 1")
    armoured = _read_recipient(recipient)
    out_dir = out_dir.expanduser().absolute()
    _make_out_dir(out_dir)
    sweep_leftovers(out_dir)
    work = Path(tempfile.mkdtemp(prefix=".sesim-backup-", dir=out_dir))
    partial = out_dir / f".sesim-backup-{secrets.token_hex(8)}.partial"
    try:
        db_copy = work / DB_NAME
        version = copy_database(config, db_copy)
        entries = _entries(config, db_copy, version)
        with OpenPGP(work / "gnupg") as pgp:
            try:
                fingerprint = pgp.import_public_key(armoured)
            except CryptoError as exc:
                raise BackupError(f"the recipient key {recipient}: {exc}") from exc
            _encrypt_tar(pgp, fingerprint, entries, partial)
        path = _publish(partial, out_dir, day or db.today())
    except OSError as exc:
        raise BackupError(f"the backup failed: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    rotate(out_dir, keep)
    return path


def _encrypt_tar(pgp: OpenPGP, fingerprint: str, entries: list[_Entry], output: Path) -> None:
    """Stream the tar through a pipe into gpg, which writes ``output`` (0600, new)."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=_CHUNK) as out:
                write_tar(entries, out)
        except BaseException as exc:  # reported by the caller
            failure.append(exc)

    writer = threading.Thread(target=produce, name="sesim-backup-tar", daemon=True)
    writer.start()
    try:
        with os.fdopen(read_fd, "rb", buffering=_CHUNK) as src:
            try:
                pgp.encrypt_file(src, fingerprint, output, compress=False)
            except CryptoError as exc:
                raise BackupError(str(exc)) from exc
    finally:
        # The read end is closed now: a writer still writing gets EPIPE and stops.
        writer.join()
    if failure:
        output.unlink(missing_ok=True)
        error = failure[0]
        raise BackupError(f"the backup failed while writing the archive: {error}") from error


def backups_in(out_dir: Path) -> list[Path]:
    """The backups in ``out_dir``, oldest first (by day, then number)."""
    found: list[tuple[str, int, Path]] = []
    for path in out_dir.iterdir():
        match = BACKUP_NAME_RE.fullmatch(path.name)
        if match and path.is_file() and not path.is_symlink():
            found.append((match.group(1), int(match.group(2) or 1), path))
    found.sort()
    return [path for _, _, path in found]


def rotate(out_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups in ``out_dir``; returns those deleted."""
    if keep < 1:
        raise BackupError("--keep must be at least 1")
    old = backups_in(out_dir)[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old


# -- restore -----------------------------------------------------------------------------------


@dataclass
class Restored:
    """What a restore wrote."""

    home: Path
    schema_version: int
    secrets: list[str] = field(default_factory=list)
    onions: dict[str, str] = field(default_factory=dict)  # folder name: its hostname
    files: list[str] = field(default_factory=list)
    db_key_out: Path | None = None  # where db.key went instead of secrets/db.key


def holds_instance(home: Path) -> bool:
    """True if ``home`` already holds (part of) an instance: never written over."""
    return any((home / name).exists() for name in (CONFIG_NAME, SECRETS, DB_NAME))


def _member_path(member: tarfile.TarInfo) -> tuple[str, ...]:
    """The checked parts of a member's name; BackupError for anything unexpected."""
    name = member.name
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise BackupError(f"refusing the backup: {name!r} is an absolute or odd path")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if not parts or any(part == ".." for part in parts):
        raise BackupError(f"refusing the backup: {name!r} leaves its folder")
    if not (member.isreg() or member.isdir()):
        raise BackupError(f"refusing the backup: {name!r} is a link or special file")
    if parts[0] not in _TOP_LEVEL or len(parts) > 4 or not all(map(_PLAIN_NAME.fullmatch, parts)):
        raise BackupError(f"refusing the backup: {name!r} is not part of a Səsim backup")
    if parts[0] in (SECRETS, TOR) and len(parts) == 1 and not member.isdir():
        raise BackupError(f"refusing the backup: {name!r} must be a folder")
    if parts[0] not in (SECRETS, TOR) and (len(parts) > 1 or not member.isreg()):
        raise BackupError(f"refusing the backup: {name!r} is not part of a Səsim backup")
    if parts[0] == SECRETS and len(parts) > 2:
        raise BackupError(f"refusing the backup: {name!r} is not part of a Səsim backup")
    return parts


def _mode_of(parts: tuple[str, ...], is_dir: bool) -> int:
    if is_dir:
        return 0o700
    return 0o644 if parts[0] in PUBLIC_FILES else 0o600


def _extract(tar: tarfile.TarFile, staging: Path) -> tuple[list[str], bytes | None]:
    """Write every member into ``staging`` (new files, exact modes), but for
    secrets/db.key, which is kept in memory only: the names seen, and that key's
    file content (None when the backup has none)."""
    seen: set[str] = set()
    db_key: bytes | None = None
    for member in tar:
        parts = _member_path(member)
        name = "/".join(parts)
        if name in seen:
            raise BackupError(f"refusing the backup: {name!r} appears twice")
        seen.add(name)
        target = staging.joinpath(*parts)
        parent = target.parent
        if parent != staging and not parent.is_dir():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if member.isdir():
            target.mkdir(mode=0o700, exist_ok=True)
            os.chmod(target, 0o700)
            continue
        src = tar.extractfile(member)
        if src is None:  # pragma: no cover - a regular file always has one
            raise BackupError(f"cannot read {name!r} in the backup")
        if name == DB_KEY_MEMBER:
            if member.size > MAX_DB_KEY_BYTES:
                raise BackupError("refusing the backup: its secrets/db.key is too large")
            db_key = src.read(MAX_DB_KEY_BYTES + 1)
            continue
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(target, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), _mode_of(parts, False))
    return sorted(seen), db_key


def _parse_db_key(text: bytes | None) -> bytes:
    try:
        if text is None:
            raise ValueError("missing")
        key = bytes.fromhex(text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError) as exc:
        raise BackupError("the backup's secrets/db.key cannot be read") from exc
    if len(key) != 32:
        raise BackupError("the backup's secrets/db.key is not a 32-byte key")
    return key


def _check_staged(
    staging: Path, names: list[str], db_key: bytes | None
) -> tuple[Config, int, dict[str, Any], bytes]:
    """The staged instance is whole and its database opens with its key (given from
    memory: it is never written into the staging folder)."""
    for needed in (MANIFEST, CONFIG_NAME, DB_NAME, DB_KEY_MEMBER):
        if needed not in names:
            raise BackupError(f"the backup has no {needed}: not a whole Səsim backup")
    try:
        manifest = json.loads((staging / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError("the backup's sesim-backup.json cannot be read") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("the backup is of an unknown format (sesim-backup.json)")
    # The restored key itself, never a systemd credential of the running command.
    key = _parse_db_key(db_key)
    try:
        staged = load_config(staging)
        conn = db.connect(staged.db_path, key)
    except (ConfigError, db.DatabaseError) as exc:
        raise BackupError(f"the restored database does not open with its key: {exc}") from exc
    try:
        version = db.schema_version(conn)
        conn.execute("PRAGMA journal_mode = DELETE")  # no -wal/-shm left in staging
    finally:
        conn.close()
    return staged, version, manifest, key


def _move_into_place(staging: Path, home: Path, tor_path: Path) -> None:
    """Move the staged parts into ``home`` (tor/… into ``tor_path``); checks first that
    none of them exists there, so a refusal leaves nothing half-moved."""
    moves: list[tuple[Path, Path]] = []
    for entry in sorted(staging.iterdir(), key=lambda p: p.name):
        if entry.name == MANIFEST:
            continue
        if entry.name == TOR:
            for onion in sorted(entry.iterdir(), key=lambda p: p.name):
                moves.append((onion, tor_path / onion.name))
            continue
        moves.append((entry, home / entry.name))
    for _, target in moves:
        if target.exists() or target.is_symlink():
            raise BackupError(f"refusing to restore: {target} already exists")
    if any(source.parent.name == TOR for source, _ in moves):
        tor_path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(tor_path, 0o700)
    for source, target in moves:
        shutil.move(source, target)
    spool = home / "spool"
    spool.mkdir(mode=0o700, exist_ok=True)
    os.chmod(spool, 0o700)
    with contextlib.suppress(OSError):
        fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _prepare_home(home: Path) -> None:
    if holds_instance(home):
        raise BackupError(f"{home} already holds a Səsim instance; refusing to overwrite it")
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(home, 0o700)
    except OSError as exc:
        raise BackupError(f"cannot create {home}: {exc.strerror}") from exc


@contextlib.contextmanager
def _staging(home: Path) -> Iterator[Path]:
    staging = Path(tempfile.mkdtemp(prefix=".sesim-restore-", dir=home))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _tor_path_inside(staged: Config, home: Path) -> Path:
    """Where the restored instance keeps its onion folders: refused unless it lies
    inside the new home (a backup's config.toml could name any folder as tor_dir)."""
    tor_path = staged.with_changes(home=home).tor_path
    real_home = home.resolve()
    real_tor = tor_path.resolve()
    if real_tor == real_home or not real_tor.is_relative_to(real_home):
        raise BackupError(
            f"refusing the backup: its config.toml puts the tor folder (tor_dir) at "
            f"{tor_path}, outside the new home {home}; nothing was restored"
        )
    return tor_path


def write_new_key_file(path: Path, key: bytes) -> None:
    """Write ``key`` as hex and a newline (as secrets/db.key) to ``path``: a new file
    (O_EXCL, never following a link), 0600, synced. Its folder must exist."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(key.hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def _write_db_key_out(path: Path, key: bytes) -> Path:
    path = path.expanduser().absolute()
    if not path.parent.is_dir():
        raise BackupError(f"cannot write the database key to {path}: {path.parent} is no folder")
    try:
        write_new_key_file(path, key)
    except FileExistsError:
        raise BackupError(f"refusing to write the database key: {path} already exists") from None
    except OSError as exc:
        raise BackupError(f"cannot write the database key to {path}: {exc.strerror}") from exc
    return path


def _finish(
    staging: Path, home: Path, names: list[str], db_key: bytes | None, db_key_out: Path | None
) -> Restored:
    staged, version, _, key = _check_staged(staging, names, db_key)
    tor_path = _tor_path_inside(staged, home)
    written: Path | None = None
    if db_key_out is None:  # the key goes where it always went: secrets/db.key
        try:
            (staging / SECRETS).mkdir(mode=0o700, exist_ok=True)
            write_new_key_file(staging / SECRETS / "db.key", key)
        except OSError as exc:
            raise BackupError(f"the restore failed: {exc.strerror or exc}") from exc
    else:  # only to db_key_out, never into the new home
        written = _write_db_key_out(db_key_out, key)
    try:
        _move_into_place(staging, home, tor_path)
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)
        raise
    restored = Restored(home=home, schema_version=version, files=names, db_key_out=written)
    restored.secrets = sorted(n.split("/", 1)[1] for n in names if n.startswith(f"{SECRETS}/"))
    for name in names:
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == TOR and parts[2] == "hostname":
            hostname = (tor_path / parts[1] / "hostname").read_text("ascii", "replace").strip()
            restored.onions[parts[1]] = hostname
    return restored


def restore(stream: IO[bytes], home: Path, db_key_out: Path | None = None) -> Restored:
    """Restore the decrypted backup tar read from ``stream`` into the new ``home``.
    With ``db_key_out``, the database key is written to that new file only, never
    into ``home`` (see :func:`_finish`)."""
    home = home.expanduser().absolute()
    _prepare_home(home)
    with _staging(home) as staging:
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                names, db_key = _extract(tar, staging)
        except tarfile.TarError as exc:
            raise BackupError(f"the backup is not a readable tar: {exc}") from exc
        except OSError as exc:
            raise BackupError(f"the restore failed: {exc.strerror or exc}") from exc
        return _finish(staging, home, names, db_key, db_key_out)


def restore_from_file(
    path: Path, home: Path, gnupghome: Path | None = None, db_key_out: Path | None = None
) -> Restored:
    """Restore ``path`` (a ``.tar.gpg`` from :func:`backup`), decrypted by gpg with a
    secret key of the keyring ``gnupghome`` (default: ``$GNUPGHOME`` or ``~/.gnupg``).
    Nothing is moved into ``home`` before gpg has authenticated the whole file."""
    home = home.expanduser().absolute()
    _prepare_home(home)
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    with _staging(home) as staging:
        names: list[str] = []
        db_key: bytes | None = None
        unreadable: tarfile.TarError | None = None
        try:
            with decrypting_reader(path, gnupghome) as plain:
                try:
                    with tarfile.open(fileobj=plain, mode="r|") as tar:
                        names, db_key = _extract(tar, staging)
                except tarfile.TarError as exc:
                    unreadable = exc  # gpg's own failure, if any, is the better message
            if unreadable is not None:
                raise BackupError(f"the backup is not a readable tar: {unreadable}")
        except CryptoError as exc:
            raise BackupError(str(exc)) from exc
        except OSError as exc:
            raise BackupError(f"the restore failed: {exc.strerror or exc}") from exc
        return _finish(staging, home, names, db_key, db_key_out)
