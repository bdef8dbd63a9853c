"""``sesim staff``: staff accounts from the server's command line."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result

from journalist_interface import totp
from journalist_interface.accounts import StaffAccounts
from journalist_interface.errors import BadCredentials
from securedrop_like import codenames, db, models
from securedrop_like.config import load_config
from securedrop_like.instance import init_instance
from sesim.cli import main
from tests.unit.securedrop_like.test_instance_cli import assert_clean_failure

PASSPHRASE_RE = re.compile(r"^Passphrase: ([a-z -]+)$", re.MULTILINE)
URI_RE = re.compile(r"(otpauth://totp/\S+)")
QR_BLOCKS = "█▀▄"
NOW = 1_709_633_245.0


@pytest.fixture(autouse=True)
def no_sesim_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SESIM_HOME", raising=False)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return init_instance(tmp_path / "instance").home


def staff(runner: CliRunner, home: Path, *args: str) -> Result:
    return runner.invoke(main, ["staff", *args, "--home", str(home)])


def passphrase_of(result: Result) -> str:
    match = PASSPHRASE_RE.search(result.output)
    assert match, result.output
    return match.group(1)


def secret_of(result: Result) -> str:
    match = URI_RE.search(result.output)
    assert match, result.output
    return parse_qs(urlsplit(match.group(1)).query)["secret"][0]


def log_in(home: Path, username: str, password: str, secret: str, now: float = NOW) -> None:
    database = db.Database.for_config(load_config(home))
    try:
        code = totp.code_at(secret, totp.step_at(now))
        StaffAccounts(database).authenticate(username, password, code, now)
    finally:
        database.close()


def audit_of(home: Path) -> list[tuple[object, ...]]:
    conn = db.Database.for_config(load_config(home)).open()
    try:
        return [tuple(r) for r in conn.execute("SELECT staff, action, target FROM audit_log")]
    finally:
        conn.close()


def test_add_prints_the_passphrase_once_the_uri_and_a_qr_code(
    runner: CliRunner, home: Path
) -> None:
    result = staff(runner, home, "add", "aysel")
    assert result.exit_code == 0, result.output
    assert "'aysel'" in result.output
    words = passphrase_of(result).split(" ")
    assert len(words) == 7 and set(words) <= set(codenames.load_wordlist())
    assert "shown once" in result.output and "WARNING" in result.output
    uri = URI_RE.search(result.output)
    assert uri and uri.group(1).startswith("otpauth://totp/S%C9%99sim:aysel?")
    assert sum(result.output.count(block) for block in QR_BLOCKS) > 200
    log_in(home, "aysel", passphrase_of(result), secret_of(result))


def test_list_shows_accounts_and_never_their_secrets(runner: CliRunner, home: Path) -> None:
    assert "No staff accounts" in staff(runner, home, "list").output
    added = staff(runner, home, "add", "nigar", "--admin", "--language", "ru")
    staff(runner, home, "add", "aysel")
    listed = staff(runner, home, "list")
    assert listed.exit_code == 0, listed.output
    lines = [line.split() for line in listed.output.strip().splitlines()]
    day = lines[0][-1]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day)
    assert lines == [
        # the onion-key column: this instance has no tor folder yet
        ["aysel", "staff", "active", "no", "tor", "folder", "az", day],
        ["nigar", "admin", "active", "no", "tor", "folder", "ru", day],
    ]
    for secret in (passphrase_of(added), secret_of(added), "$argon2id"):
        assert secret not in listed.output


def test_disable_and_enable_change_what_list_shows(runner: CliRunner, home: Path) -> None:
    added = staff(runner, home, "add", "aysel")
    assert staff(runner, home, "disable", "aysel").exit_code == 0
    assert "disabled" in staff(runner, home, "list").output
    assert staff(runner, home, "enable", "aysel").exit_code == 0
    assert "active" in staff(runner, home, "list").output
    log_in(home, "aysel", passphrase_of(added), secret_of(added))


def test_reset_password_prints_a_new_passphrase_that_replaces_the_old(
    runner: CliRunner, home: Path
) -> None:
    added = staff(runner, home, "add", "aysel")
    reset = staff(runner, home, "reset-password", "aysel")
    assert reset.exit_code == 0, reset.output
    new = passphrase_of(reset)
    assert new != passphrase_of(added) and len(new.split()) == 7
    assert "otpauth" not in reset.output
    with pytest.raises(BadCredentials):
        log_in(home, "aysel", passphrase_of(added), secret_of(added))
    log_in(home, "aysel", new, secret_of(added), NOW + 30)


def test_reset_2fa_prints_a_new_uri_and_qr_code(runner: CliRunner, home: Path) -> None:
    added = staff(runner, home, "add", "aysel")
    reset = staff(runner, home, "reset-2fa", "aysel")
    assert reset.exit_code == 0, reset.output
    assert secret_of(reset) != secret_of(added)
    assert "Passphrase" not in reset.output
    assert sum(reset.output.count(block) for block in QR_BLOCKS) > 200
    with pytest.raises(BadCredentials):
        log_in(home, "aysel", passphrase_of(added), secret_of(added))
    log_in(home, "aysel", passphrase_of(added), secret_of(reset), NOW + 30)


def test_account_commands_are_audited_as_the_command_line(runner: CliRunner, home: Path) -> None:
    for args in (["add", "aysel"], ["disable", "aysel"], ["enable", "aysel"]):
        staff(runner, home, *args)
    staff(runner, home, "reset-password", "aysel")
    staff(runner, home, "reset-2fa", "aysel")
    assert audit_of(home) == [
        (None, "staff_add", "aysel"),
        (None, "staff_disable", "aysel"),
        (None, "staff_enable", "aysel"),
        (None, "staff_reset_password", "aysel"),
        (None, "staff_reset_2fa", "aysel"),
    ]


def test_a_taken_or_invalid_username_fails_cleanly(runner: CliRunner, home: Path) -> None:
    staff(runner, home, "add", "aysel")
    assert_clean_failure(staff(runner, home, "add", "aysel"), "already", "aysel")
    assert_clean_failure(staff(runner, home, "add", "Ay Sel"), "3 to 32")
    assert len(staff(runner, home, "list").output.strip().splitlines()) == 1


def test_an_unknown_language_is_a_usage_error(runner: CliRunner, home: Path) -> None:
    result = staff(runner, home, "add", "aysel", "--language", "fr")
    assert result.exit_code == 2
    assert "No staff accounts" in staff(runner, home, "list").output


@pytest.mark.parametrize("command", ["disable", "enable", "reset-password", "reset-2fa"])
def test_commands_on_an_unknown_account_fail_cleanly(
    runner: CliRunner, home: Path, command: str
) -> None:
    assert_clean_failure(staff(runner, home, command, "nobody"), "no staff account", "nobody")


@pytest.mark.parametrize("args", [["list"], ["add", "aysel"], ["disable", "aysel"]])
def test_staff_commands_need_an_instance(
    runner: CliRunner, tmp_path: Path, args: list[str]
) -> None:
    assert_clean_failure(runner.invoke(main, ["staff", *args]), "--home", "SESIM_HOME")
    result = runner.invoke(main, ["staff", *args, "--home", str(tmp_path)])
    assert_clean_failure(result, "sesim init")


def test_an_instance_made_before_staff_accounts_is_upgraded_and_keeps_its_data(
    runner: CliRunner, tmp_path: Path
) -> None:
    config = init_instance(tmp_path / "old")
    for suffix in ("", "-wal", "-shm"):
        config.db_path.with_name(config.db_path.name + suffix).unlink(missing_ok=True)
    conn = db.Database.for_config(config).open()
    try:
        assert db.migrate(conn, target=1) == 1
        conn.execute("BEGIN IMMEDIATE")
        source_id = models.insert_source(
            conn, lookup_id="cd" * 32, public_key=bytes(32), day="2024-01-02"
        )
        [item_id] = models.insert_items(
            conn, source_id, "2024-01-02", [models.NewItem("report", 10, inline=b"ciphertext")]
        )
        models.insert_reviewer_key(
            conn, key_id="k1", name="Reviewer", public_key=b"\x01" * 32, day="2024-01-02"
        )
        conn.execute("COMMIT")
    finally:
        conn.close()

    assert staff(runner, config.home, "add", "aysel").exit_code == 0

    conn = db.Database.for_config(config).open()
    try:
        assert db.schema_version(conn) == len(db.migrations())
        source = models.source_by_id(conn, source_id)
        assert source is not None and source.lookup_id == "cd" * 32
        assert conn.execute(
            "SELECT starred, assigned_to FROM sources WHERE id = ?", (source_id,)
        ).fetchone() == (0, None)
        assert conn.execute(
            "SELECT kind, inline, exported FROM items WHERE id = ?", (item_id,)
        ).fetchone() == ("report", b"ciphertext", 0)
        assert [k.key_id for k in models.reviewer_keys(conn, active_only=False)] == ["k1"]
        assert conn.execute("SELECT username FROM staff").fetchall() == [("aysel",)]
        assert conn.execute("SELECT count(*) FROM reply_templates").fetchone() == (0,)
    finally:
        conn.close()
