"""Creating an instance, and the ``sesim`` command line that does it and installs keys."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crypto import PrivateKey, write_public_key_file
from securedrop_like import db
from securedrop_like.config import CONFIG_NAME, ConfigError, load_config
from securedrop_like.instance import init_instance, open_instance, write_secret_file
from sesim.cli import main

SECRET_FILES = {"db.key": 32, "session.key": 32, "salt": 16}


@pytest.fixture(autouse=True)
def no_sesim_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SESIM_HOME", raising=False)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def home(tmp_path: Path, runner: CliRunner) -> Path:
    path = tmp_path / "instance"
    result = runner.invoke(main, ["init", "--home", str(path)])
    assert result.exit_code == 0, result.output
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def secrets_of(home: Path) -> dict[str, bytes]:
    return {name: (home / "secrets" / name).read_bytes() for name in SECRET_FILES}


def key_file(tmp_path: Path, name: str = "aysel") -> tuple[Path, PrivateKey]:
    key = PrivateKey.generate()
    path = tmp_path / f"{name}.pub"
    write_public_key_file(path, key.public_key, comment=f"Səsim reviewer key: {name}")
    return path, key


def assert_clean_failure(result: Result, *phrases: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "Error:" in result.output
    for phrase in phrases:
        assert phrase in result.output


# -- sesim init ----------------------------------------------------------------------------


def test_init_creates_settings_private_secrets_and_a_migrated_database(
    runner: CliRunner, tmp_path: Path
) -> None:
    home = tmp_path / "instance"
    result = runner.invoke(main, ["init", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert str(home.resolve()) in result.output
    assert "add-reviewer" in result.output
    assert (home / CONFIG_NAME).is_file()
    assert mode_of(home) == 0o700
    assert mode_of(home / "secrets") == 0o700
    assert mode_of(home / "spool") == 0o700
    assert not (home / "store").exists()  # no ciphertext files: they are rows (schema 3)
    for name, size in SECRET_FILES.items():
        path = home / "secrets" / name
        assert mode_of(path) == 0o600, name
        assert len(bytes.fromhex(path.read_text().strip())) == size, name
    assert len(set(secrets_of(home).values())) == 3
    config = load_config(home)
    conn = db.Database.for_config(config).open()
    try:
        assert db.schema_version(conn) == len(db.migrations())
    finally:
        conn.close()


def test_a_second_init_refuses_and_leaves_the_secrets_unchanged(
    runner: CliRunner, home: Path
) -> None:
    before = secrets_of(home)
    config_before = (home / CONFIG_NAME).read_bytes()
    result = runner.invoke(main, ["init", "--home", str(home)])
    assert_clean_failure(result, "refusing")
    assert secrets_of(home) == before
    assert (home / CONFIG_NAME).read_bytes() == config_before


def test_init_reads_sesim_home(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESIM_HOME", str(tmp_path / "from-env"))
    assert runner.invoke(main, ["init"]).exit_code == 0
    assert (tmp_path / "from-env" / CONFIG_NAME).is_file()


@pytest.mark.parametrize("args", [["init"], ["keys", "list"], ["serve", "source"]])
def test_commands_without_home_or_sesim_home_fail_with_a_clear_message(
    runner: CliRunner, args: list[str]
) -> None:
    assert_clean_failure(runner.invoke(main, args), "--home", "SESIM_HOME")


def test_a_folder_that_is_no_instance_fails_with_a_clear_message(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["keys", "list", "--home", str(tmp_path)])
    assert_clean_failure(result, "sesim init")


# -- sesim keys ----------------------------------------------------------------------------


def test_keys_list_says_when_no_key_is_installed(runner: CliRunner, home: Path) -> None:
    result = runner.invoke(main, ["keys", "list", "--home", str(home)])
    assert result.exit_code == 0
    assert "No reviewer keys installed" in result.output


def test_add_reviewer_installs_a_key_that_keys_list_shows(
    runner: CliRunner, home: Path, tmp_path: Path
) -> None:
    path, key = key_file(tmp_path)
    added = runner.invoke(main, ["keys", "add-reviewer", "--home", str(home), str(path)])
    assert added.exit_code == 0, added.output
    assert key.public_key.key_id in added.output
    listed = runner.invoke(main, ["keys", "list"], env={"SESIM_HOME": str(home)})
    assert listed.exit_code == 0
    [line] = listed.output.strip().splitlines()
    assert line.startswith(key.public_key.key_id)
    assert "active" in line and line.endswith("aysel")
    assert "No reviewer keys" not in listed.output


def test_add_reviewer_takes_a_name(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    path, _ = key_file(tmp_path)
    args = ["keys", "add-reviewer", "--home", str(home), "--name", "Lawyer Nigar", str(path)]
    assert runner.invoke(main, args).exit_code == 0
    listed = runner.invoke(main, ["keys", "list", "--home", str(home)])
    assert listed.output.strip().endswith("Lawyer Nigar")


def test_adding_the_same_key_twice_fails(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    path, key = key_file(tmp_path)
    args = ["keys", "add-reviewer", "--home", str(home), str(path)]
    assert runner.invoke(main, args).exit_code == 0
    assert_clean_failure(runner.invoke(main, args), "already installed", key.public_key.key_id)
    listed = runner.invoke(main, ["keys", "list", "--home", str(home)])
    assert len(listed.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "content",
    ["not a key at all\n", "", "# only a comment\n", "\xff\xfe binary\n"],
)
def test_a_bad_key_file_fails_with_an_error_not_a_traceback(
    runner: CliRunner, home: Path, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "bad.pub"
    path.write_text(content, encoding="latin-1")
    result = runner.invoke(main, ["keys", "add-reviewer", "--home", str(home), str(path)])
    assert_clean_failure(result)
    listed = runner.invoke(main, ["keys", "list", "--home", str(home)])
    assert "No reviewer keys installed" in listed.output


def test_a_missing_key_file_is_a_usage_error(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        main, ["keys", "add-reviewer", "--home", str(home), str(tmp_path / "nope.pub")]
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_a_wrong_database_key_fails_with_an_error_not_a_traceback(
    runner: CliRunner, home: Path
) -> None:
    key_path = home / "secrets" / "db.key"
    key_path.chmod(0o600)
    key_path.write_text(secrets.token_hex(32) + "\n")
    assert_clean_failure(runner.invoke(main, ["keys", "list", "--home", str(home)]))


# -- instance.py directly --------------------------------------------------------------------


def test_init_instance_writes_the_given_settings(tmp_path: Path) -> None:
    config = init_instance(tmp_path / "i", {"instance_name": "Test", "max_sessions": 9})
    assert (config.instance_name, config.max_sessions) == ("Test", 9)
    assert load_config(tmp_path / "i") == config


def test_init_instance_refuses_a_folder_with_secrets_but_no_settings(tmp_path: Path) -> None:
    (tmp_path / "i" / "secrets").mkdir(parents=True)
    with pytest.raises(ConfigError, match="refusing"):
        init_instance(tmp_path / "i")
    assert list((tmp_path / "i" / "secrets").iterdir()) == []


def test_write_secret_file_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "s"
    write_secret_file(path, b"\x01\x02")
    with pytest.raises(FileExistsError):
        write_secret_file(path, b"\x03")
    assert path.read_text() == "0102\n"
    assert mode_of(path) == 0o600


def test_open_instance_creates_and_migrates_a_missing_database(tmp_path: Path) -> None:
    config = init_instance(tmp_path / "i")
    config.db_path.unlink()
    for suffix in ("-wal", "-shm"):
        config.db_path.with_name(config.db_path.name + suffix).unlink(missing_ok=True)
    reopened = open_instance(tmp_path / "i")
    conn = db.Database.for_config(reopened).open()
    try:
        assert db.schema_version(conn) == len(db.migrations())
    finally:
        conn.close()


def test_vacuum_rebuilds_the_database_now_whatever_its_size(runner: CliRunner, home: Path) -> None:
    """For a database over daily_vacuum_max_bytes, whose daily VACUUM the writer skips."""
    (home / CONFIG_NAME).write_text(
        (home / CONFIG_NAME).read_text() + "daily_vacuum_max_bytes = 1\n", encoding="utf-8"
    )
    result = runner.invoke(main, ["vacuum", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.output
    assert (home / "run" / "tmp").stat().st_mode & 0o777 == 0o700
    conn = db.Database.for_config(load_config(home)).open()
    try:
        row = conn.execute("SELECT value FROM housekeeping WHERE key = 'vacuum_day'").fetchone()
    finally:
        conn.close()
    assert row is not None and row[0] == db.today()


def test_vacuum_of_a_folder_that_is_no_instance_fails_cleanly(
    runner: CliRunner, tmp_path: Path
) -> None:
    assert_clean_failure(runner.invoke(main, ["vacuum", "--home", str(tmp_path)]))


def _recipients(home: Path) -> set[str]:
    from securedrop_like.service import ReportService

    service = ReportService.open(open_instance(home))
    try:
        return {key.key_id for key in service.recipients()}
    finally:
        service.close()


def test_retiring_a_reviewer_seals_new_items_to_the_others_only(
    runner: CliRunner, home: Path, tmp_path: Path
) -> None:
    first, aysel = key_file(tmp_path, "aysel")
    second, nigar = key_file(tmp_path, "nigar")
    for path in (first, second):
        result = runner.invoke(main, ["keys", "add-reviewer", "--home", str(home), str(path)])
        assert result.exit_code == 0, result.output
    assert _recipients(home) == {aysel.public_key.key_id, nigar.public_key.key_id}
    gone = aysel.public_key.key_id
    retired = runner.invoke(main, ["keys", "retire-reviewer", "--home", str(home), gone])
    assert retired.exit_code == 0, retired.output
    assert _recipients(home) == {nigar.public_key.key_id}
    listed = runner.invoke(main, ["keys", "list", "--home", str(home)]).output
    assert f"{gone}  " in listed and "retired  aysel" in listed
    # The last active key stays unless the administrator insists.
    last = nigar.public_key.key_id
    args = ["keys", "retire-reviewer", "--home", str(home), last]
    assert_clean_failure(runner.invoke(main, args), "last active key")
    assert _recipients(home) == {last}
    # Adding a retired key again brings it back, under its old row.
    again = runner.invoke(main, ["keys", "add-reviewer", "--home", str(home), str(first)])
    assert again.exit_code == 0 and "again" in again.output
    assert _recipients(home) == {gone, last}


def test_retiring_an_unknown_key_fails_cleanly(runner: CliRunner, home: Path) -> None:
    args = ["keys", "retire-reviewer", "--home", str(home), "0" * 16]
    assert_clean_failure(runner.invoke(main, args), "no active reviewer key")
