"""Backups and restore (issue 13): `sesim backup` / `sesim restore` with real SQLCipher
and a real gpg key made here, and the round trip the issue asks for: she files a
report, the instance is backed up and restored into a fresh folder, and she logs in
there with her codename and reads the answer sealed to her."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto import OpenPGP
from securedrop_like import backup as backup_module
from securedrop_like import db
from securedrop_like.config import load_config
from sesim.cli import main
from tests.conftest import Instance, SourceBrowser

REPORT_TEXT = "The manager at the depot 7c1e9a demanded photos."
REPLY_TEXT = "We read your report 3b8d55 and can help."


@pytest.fixture(scope="module")
def admin_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The administrator's backup key pair: (keyring holding the secret key, public key file)."""
    folder = tmp_path_factory.mktemp("admin")
    with OpenPGP(folder / "gnupg") as pgp:
        fingerprint = pgp.generate_test_key("Backup Admin", "backup@example.org")
        public = folder / "backup-key.asc"
        public.write_text(pgp.export_public_key(fingerprint), encoding="ascii")
        yield folder / "gnupg", public


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("SESIM_HOME", raising=False)


def _with_onions(instance: Instance) -> dict[str, str]:
    from tor_config.torrc import prepare

    addresses = prepare(instance.config)
    cache = instance.config.tor_path / "data"
    cache.mkdir(mode=0o700)
    (cache / "cached-microdescs").write_bytes(b"tor's cache, never backed up")
    return addresses


def _decrypted_tar(path: Path, gnupghome: Path) -> bytes:
    with OpenPGP(gnupghome) as pgp:
        return pgp.decrypt(path.read_bytes())


def _run(*args: str, input: bytes | None = None) -> tuple[int, str]:  # noqa: A002
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def _backup(instance: Instance, out: Path, key: Path, *extra: str) -> Path:
    code, output = _run(
        "backup",
        "--home",
        str(instance.home),
        "--out-dir",
        str(out),
        "--recipient",
        str(key),
        *extra,
    )
    assert code == 0, output
    path = Path(output.strip())
    assert path.parent == out.absolute() and path.is_file()
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# -- the round trip ------------------------------------------------------------------------------


def test_a_report_filed_before_the_backup_is_hers_after_the_restore(
    app: object,
    instance: Instance,
    source: SourceBrowser,
    admin_key: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    gnupghome, public = admin_key
    onions = _with_onions(instance)
    source.client.get("/lang/en")
    codename = source.report_and_get_codename(REPORT_TEXT)
    service = app.extensions["sesim"].service  # type: ignore[attr-defined]
    source_id = app.extensions["sesim"].sessions.live_data()[0]["source_id"]  # type: ignore[attr-defined]
    service.place_reply(source_id, REPLY_TEXT, "en", "lawyer")

    path = _backup(instance, tmp_path / "backups", public)
    assert path.name.startswith("sesim-backup-") and path.name.endswith(".tar.gpg")
    assert mode_of(path) == 0o600 and mode_of(path.parent) == 0o700
    data = path.read_bytes()
    db_key = instance.config.db_key_path.read_text().strip()
    for secret in (db_key, bytes.fromhex(db_key).hex().upper()):
        assert secret.encode() not in data
    assert bytes.fromhex(db_key) not in data
    assert REPORT_TEXT.encode() not in data and b"depot 7c1e9a" not in data
    assert b"hs_ed25519" not in data and b"config.toml" not in data

    new_home = tmp_path / "restored"
    code, output = _run(
        "restore", "--home", str(new_home), "--from", str(path), "--gnupghome", str(gnupghome)
    )
    assert code == 0, output
    assert f"Restored a Səsim instance into {new_home}" in output
    assert onions["source"] in output and onions["staff"] in output
    assert "db.key" in output and "salt" in output

    # Modes: 0700 folders, 0600 secrets; the same keys, salt and onion keys.
    assert mode_of(new_home) == 0o700 and mode_of(new_home / "secrets") == 0o700
    for name in ("db.key", "session.key", "salt", "kdf", "thread.keys", "channel.key"):
        restored = new_home / "secrets" / name
        assert mode_of(restored) == 0o600, name
        assert restored.read_bytes() == (instance.home / "secrets" / name).read_bytes(), name
    for onion in ("source", "staff"):
        folder = new_home / "tor" / onion
        assert mode_of(folder) == 0o700
        for name in ("hs_ed25519_secret_key", "hs_ed25519_public_key", "hostname"):
            assert (folder / name).read_bytes() == (
                instance.config.tor_path / onion / name
            ).read_bytes()
            assert mode_of(folder / name) == 0o600
    assert (new_home / "tor" / "staff" / "authorized_clients" / "_closed.auth").is_file()
    assert not (new_home / "tor" / "data").exists()  # tor's cache stays behind
    assert (new_home / "channel.pub").read_bytes() == (instance.home / "channel.pub").read_bytes()
    assert mode_of(new_home / "spool") == 0o700
    assert not [p for p in new_home.iterdir() if p.name.startswith(".sesim-restore")]

    # The restored instance runs unchanged: she logs in with her codename and reads
    # the answer sealed to her key (derived from her codename and the restored salt).
    from source_interface import create_app

    restored_config = load_config(new_home)
    restored_app = create_app(restored_config, TESTING=True)
    try:
        her = SourceBrowser(restored_app.test_client())
        her.client.get("/lang/en")
        response = her.login(codename)
        assert response.status_code == 303 and "/case" in response.headers["Location"]
        page = her.case()
        assert "Your case" in page and REPLY_TEXT in page
        # And her report is there for the reviewers, under the reviewer's key.
        restored_service = restored_app.extensions["sesim"].service
        items = [i for i in restored_service.items(source_id) if i.kind == "report"]
        sink = io.BytesIO()
        restored_service.decrypt_item_to(items[0], instance.reviewer_key, sink)
        assert REPORT_TEXT in json.loads(sink.getvalue()).values()
    finally:
        restored_app.extensions["sesim"].service.close()


def test_the_tar_is_normalised_and_holds_db_key_from_the_credential(
    instance: Instance,
    admin_key: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gnupghome, public = admin_key
    _with_onions(instance)
    # The key sealed away: only in the credentials folder, as on a deployed server.
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    key_text = instance.config.db_key_path.read_text()
    (credentials / "db.key").write_text(key_text)
    (credentials / "intake.toml").write_text('imap_password = "only-a-credential"\n')
    instance.config.db_key_path.unlink()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    path = _backup(instance, tmp_path / "out", public)
    plain = _decrypted_tar(path, gnupghome)
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names[0] == "sesim-backup.json"
        assert names[1:] == sorted(names[1:])
        for member in members:
            assert (member.uid, member.gid, member.uname, member.gname, member.mtime) == (
                0,
                0,
                "",
                "",
                0,
            ), member.name
            assert member.isreg() or member.isdir()
            assert member.mode in (0o700, 0o600, 0o644)
        stored_intake = tar.extractfile("secrets/intake.toml")
        assert stored_intake is not None and b"only-a-credential" in stored_intake.read()
        stored_key = tar.extractfile("secrets/db.key")
        assert stored_key is not None and stored_key.read().decode() == key_text
        manifest = json.loads(tar.extractfile("sesim-backup.json").read())  # type: ignore[union-attr]
    assert manifest["format"] == 1 and manifest["schema_version"] >= 1
    assert "tor/source/hs_ed25519_secret_key" in names and "tor/staff/hostname" in names
    assert not any(n.startswith("tor/data") for n in names)
    assert {"config.toml", "db.sqlite", "channel.pub", "secrets/salt"} <= set(names)
    assert not any("wal" in n or "shm" in n for n in names)


def test_a_backup_taken_while_a_writer_commits_is_consistent(
    instance: Instance, admin_key: tuple[Path, Path], tmp_path: Path
) -> None:
    """Another process commits pairs of rows as fast as it can while the backup runs;
    the restored copy passes SQLite's integrity check and holds only whole pairs."""
    gnupghome, public = admin_key
    config = instance.config
    key = config.read_secret(config.db_key_path)
    conn = db.connect(config.db_path, key)
    conn.execute("CREATE TABLE pairs (n INTEGER, half INTEGER, filler BLOB)")
    with db.immediate(conn):  # some bulk, so the copy takes a while
        for n in range(3000):
            conn.execute("INSERT INTO pairs VALUES (?, 0, randomblob(2000))", (-n - 1,))
            conn.execute("INSERT INTO pairs VALUES (?, 1, randomblob(2000))", (-n - 1,))
    conn.close()
    stop = tmp_path / "stop"
    script = (
        "import sys, pathlib\n"
        "from securedrop_like import db\n"
        "conn = db.connect(pathlib.Path(sys.argv[1]), bytes.fromhex(sys.argv[2]))\n"
        "n = 0\n"
        "while not pathlib.Path(sys.argv[3]).exists():\n"
        "    with db.immediate(conn):\n"
        "        conn.execute('INSERT INTO pairs VALUES (?, 0, randomblob(500))', (n,))\n"
        "        conn.execute('INSERT INTO pairs VALUES (?, 1, randomblob(500))', (n,))\n"
        "    n += 1\n"
        "    if n == 1: print('started', flush=True)\n"
        "print(n, flush=True)\n"
    )
    writer = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", script, str(config.db_path), key.hex(), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "started"
        before = _count(config.db_path, key)
        path = backup_module.backup(config, tmp_path / "out", public, keep=3)
        after = _count(config.db_path, key)
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0 and int(out.strip()) > 0
    assert after > before  # the writer really committed while the backup ran

    restored = tmp_path / "restored"
    backup_module.restore_from_file(path, restored, gnupghome)
    conn = db.connect(restored / "db.sqlite", key)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT n, count(*) FROM pairs GROUP BY n").fetchall()
    finally:
        conn.close()
    assert all(count == 2 for _, count in rows)
    copied = len(rows) * 2
    assert before <= copied <= after


def _count(path: Path, key: bytes) -> int:
    conn = db.connect(path, key)
    try:
        return int(conn.execute("SELECT count(*) FROM pairs").fetchone()[0])
    finally:
        conn.close()


# -- names and rotation ------------------------------------------------------------------------


def test_names_count_up_within_a_day_and_keep_holds_the_newest(
    instance: Instance, admin_key: tuple[Path, Path], tmp_path: Path
) -> None:
    _, public = admin_key
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    # Older backups, and files that are not backups (left alone).
    for day in ("2026-01-01", "2026-01-02", "2026-01-02-2"):
        (out / f"sesim-backup-{day}.tar.gpg").write_bytes(b"old")
    (out / "notes.txt").write_text("keep me")
    (out / "sesim-backup-2026-01-03.tar.gpg.bak").write_text("not a backup name")
    config = instance.config
    first = backup_module.backup(config, out, public, keep=10, day="2026-02-01")
    second = backup_module.backup(config, out, public, keep=10, day="2026-02-01")
    third = backup_module.backup(config, out, public, keep=10, day="2026-02-01")
    assert [first.name, second.name, third.name] == [
        "sesim-backup-2026-02-01.tar.gpg",
        "sesim-backup-2026-02-01-2.tar.gpg",
        "sesim-backup-2026-02-01-3.tar.gpg",
    ]
    _backup(instance, out, public, "--keep", "3")  # today, after 2026
    kept = sorted(p.name for p in out.iterdir())
    backups = [n for n in kept if backup_module.BACKUP_NAME_RE.fullmatch(n)]
    assert len(backups) == 3
    assert "sesim-backup-2026-02-01-2.tar.gpg" in backups
    assert "sesim-backup-2026-02-01-3.tar.gpg" in backups
    assert "sesim-backup-2026-02-01.tar.gpg" not in backups
    assert "notes.txt" in kept and "sesim-backup-2026-01-03.tar.gpg.bak" in kept
    assert not [n for n in kept if n.startswith(".")]  # no work folder or partial file left


def test_a_bad_recipient_leaves_no_file(instance: Instance, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-key.asc"
    bad.write_text("hello")
    out = tmp_path / "out"
    code, output = _run(
        "backup", "--home", str(instance.home), "--out-dir", str(out), "--recipient", str(bad)
    )
    assert code == 1 and "recipient key" in output
    assert list(out.iterdir()) == []
    code, output = _run(
        "backup",
        "--home",
        str(instance.home),
        "--out-dir",
        str(out),
        "--recipient",
        str(bad),
        "--keep",
        "0",
    )
    assert code == 2


# -- restore refusals --------------------------------------------------------------------------


def _tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


@pytest.mark.parametrize(
    ("member", "said"),
    [
        (_file("/etc/evil"), "absolute"),
        (_file("../evil"), "leaves its folder"),
        (_file("secrets/../../evil"), "leaves its folder"),
        (_link("secrets/db.key", "/etc/shadow"), "link"),
        (_link("config.toml", "db.sqlite", tarfile.LNKTYPE), "link"),
        (_file("unexpected.txt"), "not part of a Səsim backup"),
        (_file("tor/source/../../x"), "leaves its folder"),
    ],
)
def test_restore_refuses_paths_outside_and_links(
    tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None], said: str
) -> None:
    data = _tar_bytes([_file("sesim-backup.json", b'{"format": 1}'), member])
    home = tmp_path / "new"
    code, output = _run("restore", "--home", str(home), "--from", "-", input=data)
    assert code == 1 and said in output, output
    assert list(home.iterdir()) == []  # the staging folder is gone too
    assert not (tmp_path / "evil").exists()


def test_restore_refuses_a_folder_holding_an_instance(
    instance: Instance, admin_key: tuple[Path, Path], tmp_path: Path
) -> None:
    gnupghome, public = admin_key
    path = _backup(instance, tmp_path / "out", public)
    before = sorted(p.name for p in instance.home.iterdir())
    key = instance.config.db_key_path.read_bytes()
    code, output = _run(
        "restore", "--home", str(instance.home), "--from", str(path), "--gnupghome", str(gnupghome)
    )
    assert code == 1 and "already holds a Səsim instance" in output
    assert sorted(p.name for p in instance.home.iterdir()) == before
    assert instance.config.db_key_path.read_bytes() == key


def test_restore_refuses_a_file_gpg_cannot_open_and_writes_nothing(
    instance: Instance, admin_key: tuple[Path, Path], tmp_path: Path
) -> None:
    gnupghome, public = admin_key
    path = _backup(instance, tmp_path / "out", public)
    changed = bytearray(path.read_bytes())
    changed[len(changed) // 2] ^= 0x55
    broken = tmp_path / "broken.tar.gpg"
    broken.write_bytes(bytes(changed))
    home = tmp_path / "new"
    code, output = _run(
        "restore", "--home", str(home), "--from", str(broken), "--gnupghome", str(gnupghome)
    )
    assert code == 1 and output.startswith("Error:"), output
    assert list(home.iterdir()) == []
    # Without the secret key (an empty keyring): refused too.
    empty = tmp_path / "empty-gnupg"
    empty.mkdir(mode=0o700)
    code, output = _run(
        "restore", "--home", str(home), "--from", str(path), "--gnupghome", str(empty)
    )
    assert code == 1 and "gpg could not decrypt" in output
    assert list(home.iterdir()) == []
    OpenPGP(empty).close()


def test_restore_from_stdin_checks_the_key_opens_the_database(
    instance: Instance, admin_key: tuple[Path, Path], tmp_path: Path
) -> None:
    gnupghome, public = admin_key
    plain = _decrypted_tar(_backup(instance, tmp_path / "out", public), gnupghome)
    # The same tar with another db.key: refused, nothing left.
    source = tarfile.open(fileobj=io.BytesIO(plain))
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for member in source.getmembers():
        data = source.extractfile(member).read() if member.isreg() else None  # type: ignore[union-attr]
        if member.name == "secrets/db.key":
            data = ("ab" * 32 + "\n").encode()
        members.append((member, data))
    home = tmp_path / "wrong-key"
    code, output = _run("restore", "--home", str(home), "--from", "-", input=_tar_bytes(members))
    assert code == 1 and "does not open with its key" in output
    assert list(home.iterdir()) == []
    # The real one from stdin works.
    home = tmp_path / "from-stdin"
    code, output = _run("restore", "--home", str(home), "--from", "-", input=plain)
    assert code == 0, output
    assert "Onion services: none in this backup" in output
    code, output = _run("db-key", "check", "--home", str(home))
    assert code == 0 and "opens the database" in output


# -- migrate -----------------------------------------------------------------------------------


def test_migrate_prints_the_schema_version(instance: Instance, tmp_path: Path) -> None:
    version = db.migrations()[-1][0]
    code, output = _run("migrate", "--home", str(instance.home))
    assert code == 0
    assert output.strip() == f"The database is at schema version {version}; nothing to migrate."
    # An instance whose database is one version behind: migrated, and said so.
    old = tmp_path / "old"
    old.mkdir(mode=0o700)
    shutil.copy(instance.home / "config.toml", old / "config.toml")
    shutil.copytree(instance.home / "secrets", old / "secrets")
    conn = db.connect(old / "db.sqlite", instance.config.read_secret(instance.config.db_key_path))
    assert db.migrate(conn, target=version - 1) == version - 1
    conn.close()
    code, output = _run("migrate", "--home", str(old))
    assert code == 0, output
    assert (
        output.strip() == f"Migrated the database from schema version {version - 1} to {version}."
    )
    code, output = _run("migrate", "--home", str(tmp_path / "nothing"))
    assert code == 1 and "not a Səsim instance" in output


def test_what_a_killed_backup_left_is_removed_a_day_later(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    old_dir = out / ".sesim-backup-abc123"
    old_dir.mkdir()
    (old_dir / "db.sqlite").write_bytes(b"copy")
    old_file = out / ".sesim-backup-0011223344556677.partial"
    old_file.write_bytes(b"half")
    fresh = out / ".sesim-backup-running"
    fresh.mkdir()
    other = out / ".other"
    other.write_text("not ours")
    day_ago = time.time() - 25 * 3600
    for path in (old_dir, old_file, other):
        os.utime(path, (day_ago, day_ago))
    removed = backup_module.sweep_leftovers(out)
    assert sorted(removed) == sorted([old_dir, old_file])
    assert sorted(p.name for p in out.iterdir()) == [".other", ".sesim-backup-running"]


# -- the database key never on the new home's disk (--db-key-out) -------------------------------


def _files_under(folder: Path) -> list[Path]:
    return [Path(root) / name for root, _, names in os.walk(folder) for name in names]


def test_restore_with_db_key_out_writes_the_key_there_only(
    instance: Instance,
    admin_key: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gnupghome, public = admin_key
    _with_onions(instance)
    path = _backup(instance, tmp_path / "out", public)
    key_text = instance.config.db_key_path.read_text()

    # While the database is checked, the staging folder holds no db.key either.
    checked: list[Path] = []
    real_check = backup_module._check_staged

    def spy(staging: Path, names: list[str], key: bytes | None) -> object:
        checked.append(staging)
        assert not (staging / "secrets" / "db.key").exists()
        assert not [p for p in _files_under(staging) if key_text.strip() in p.read_text("latin-1")]
        return real_check(staging, names, key)

    monkeypatch.setattr(backup_module, "_check_staged", spy)
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    key_out = credentials / "db.key"
    new_home = tmp_path / "restored"
    code, output = _run(
        "restore",
        "--home",
        str(new_home),
        "--from",
        str(path),
        "--gnupghome",
        str(gnupghome),
        "--db-key-out",
        str(key_out),
    )
    assert code == 0, output
    assert checked and f"written to {key_out}" in output
    assert key_out.read_text() == key_text and mode_of(key_out) == 0o600
    # No db.key anywhere under the new home, nor the key's text in any file there.
    files = _files_under(new_home)
    assert files and not [p for p in files if p.name == "db.key"]
    assert not [p for p in files if key_text.strip().encode() in p.read_bytes()]
    assert (new_home / "secrets" / "session.key").is_file()
    # The instance opens with the key as its credential.
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    code, output = _run("db-key", "check", "--home", str(new_home))
    assert code == 0 and "systemd credential" in output, output
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")

    # An existing --db-key-out, or one whose folder is missing: refused, nothing restored.
    for bad, said in (
        (key_out, "already exists"),
        (tmp_path / "missing" / "db.key", "is no folder"),
    ):
        home = tmp_path / f"again-{said.replace(' ', '-')}"
        code, output = _run(
            "restore",
            "--home",
            str(home),
            "--from",
            str(path),
            "--gnupghome",
            str(gnupghome),
            "--db-key-out",
            str(bad),
        )
        assert code == 1 and said in output, output
        assert list(home.iterdir()) == []
    assert key_out.read_text() == key_text


def _with_config(plain: bytes, change: Callable[[str], str]) -> bytes:
    source = tarfile.open(fileobj=io.BytesIO(plain))
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for member in source.getmembers():
        data = source.extractfile(member).read() if member.isreg() else None  # type: ignore[union-attr]
        if member.name == "config.toml":
            assert data is not None
            data = change(data.decode("utf-8")).encode("utf-8")
        members.append((member, data))
    return _tar_bytes(members)


@pytest.mark.parametrize("where", ["absolute", "relative", "the home itself"])
def test_restore_refuses_a_tor_dir_outside_the_new_home(
    instance: Instance, admin_key: tuple[Path, Path], tmp_path: Path, where: str
) -> None:
    gnupghome, public = admin_key
    _with_onions(instance)
    plain = _decrypted_tar(_backup(instance, tmp_path / "out", public), gnupghome)
    outside = tmp_path / "outside"
    tor_dir = {"absolute": str(outside), "relative": "../outside", "the home itself": "."}[where]

    def change(text: str) -> str:
        kept = [line for line in text.splitlines() if not line.startswith("tor_dir")]
        return "\n".join([*kept, f'tor_dir = "{tor_dir}"']) + "\n"

    home = tmp_path / "new"
    code, output = _run(
        "restore", "--home", str(home), "--from", "-", input=_with_config(plain, change)
    )
    assert code == 1 and "outside the new home" in output, output
    assert list(home.iterdir()) == []  # nothing moved, the staging folder gone
    assert not outside.exists()
    # A tor_dir inside the new home is fine.
    home = tmp_path / "inside"

    def inside(text: str) -> str:
        kept = [line for line in text.splitlines() if not line.startswith("tor_dir")]
        return "\n".join([*kept, 'tor_dir = "state/tor"']) + "\n"

    code, output = _run(
        "restore", "--home", str(home), "--from", "-", input=_with_config(plain, inside)
    )
    assert code == 0, output
    assert (home / "state" / "tor" / "source" / "hs_ed25519_secret_key").is_file()


# -- rotating the database key and the session key ---------------------------------------------


def test_db_key_rotate_rekeys_and_she_still_logs_in(
    app: object, instance: Instance, source: SourceBrowser, tmp_path: Path
) -> None:
    source.client.get("/lang/en")
    codename = source.report_and_get_codename(REPORT_TEXT)
    service = app.extensions["sesim"].service  # type: ignore[attr-defined]
    source_id = app.extensions["sesim"].sessions.live_data()[0]["source_id"]  # type: ignore[attr-defined]
    service.place_reply(source_id, REPLY_TEXT, "en", "lawyer")
    service.close()  # the servers stopped
    config = instance.config
    old_key = config.read_secret(config.db_key_path)
    new_out = tmp_path / "keys" / "new-db.key"
    new_out.parent.mkdir(mode=0o700)

    # While a writer answers on its socket: refused, nothing changed.
    import socket

    run = instance.home / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(run / "writer-0123456789abcdef.sock"))
        listener.listen(1)
        code, output = _run("db-key", "rotate", "--home", str(instance.home), "--out", str(new_out))
    assert code == 1 and "stop them first" in output, output
    assert not new_out.exists()
    db.connect(config.db_path, old_key).close()
    # An --out that exists: refused, the old key still opens the database.
    new_out.write_text("x")
    code, output = _run("db-key", "rotate", "--home", str(instance.home), "--out", str(new_out))
    assert code == 1 and "already exists" in output, output
    new_out.unlink()
    db.connect(config.db_path, old_key).close()

    code, output = _run("db-key", "rotate", "--home", str(instance.home), "--out", str(new_out))
    assert code == 0, output
    assert mode_of(new_out) == 0o600
    new_key = bytes.fromhex(new_out.read_text())
    assert len(new_key) == 32 and new_key != old_key
    assert old_key.hex() not in output and new_key.hex() not in output
    with pytest.raises(db.DatabaseError):
        db.connect(config.db_path, old_key)
    conn = db.connect(config.db_path, new_key)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()

    # With the new key in place she logs in with her codename and reads the answer.
    config.db_key_path.unlink()
    config.db_key_path.write_text(new_key.hex() + "\n")
    from source_interface import create_app

    restored_app = create_app(load_config(instance.home), TESTING=True)
    try:
        her = SourceBrowser(restored_app.test_client())
        her.client.get("/lang/en")
        response = her.login(codename)
        assert response.status_code == 303 and "/case" in response.headers["Location"]
        assert REPLY_TEXT in her.case()
        items = restored_app.extensions["sesim"].service.items(source_id)
        assert [i for i in items if i.kind == "report"]
    finally:
        restored_app.extensions["sesim"].service.close()


def test_session_key_rotate_writes_a_new_key(instance: Instance) -> None:
    path = instance.config.session_key_path
    before = path.read_text()
    code, output = _run("session-key", "rotate", "--home", str(instance.home))
    assert code == 0 and "every staff and source session ends" in output, output
    after = path.read_text()
    assert after != before and len(bytes.fromhex(after)) == 32 and mode_of(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".")) == []
