"""`sesim db-key wrap | unlock | check`: the database key sealed to a passphrase typed at
boot, for servers without a TPM (issue 13)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from crypto import unwrap_key
from securedrop_like import db
from securedrop_like.config import load_config
from sesim.cli import main
from tests.conftest import Instance

PASSPHRASE = "four tired owls sing at dawn"


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("SESIM_HOME", raising=False)


def _run(*args: str, input: str | None = None) -> tuple[int, str]:  # noqa: A002
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def _wrap(instance: Instance, out: Path, passphrase: str = PASSPHRASE) -> None:
    code, output = _run(
        "db-key", "wrap", "--home", str(instance.home), "--out", str(out), input=passphrase + "\n"
    )
    assert code == 0, output
    assert f"into {out}" in output


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_wrap_then_unlock_gives_back_the_key_and_it_opens_the_database(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_text = instance.config.db_key_path.read_text()
    wrapped = tmp_path / "db.key.wrapped"
    _wrap(instance, wrapped)
    assert mode_of(wrapped) == 0o600
    content = wrapped.read_text()
    assert key_text.strip() not in content and PASSPHRASE not in content
    assert unwrap_key(bytes.fromhex(content), PASSPHRASE) == bytes.fromhex(key_text)

    out = tmp_path / "run" / "credstore" / "sesim-db.key"  # its folder is made, 0700
    code, output = _run(
        "db-key", "unlock", "--wrapped", str(wrapped), "--out", str(out), input=PASSPHRASE + "\n"
    )
    assert code == 0, output
    assert out.read_text() == key_text and mode_of(out) == 0o600
    assert mode_of(out.parent) == 0o700
    assert key_text.strip() not in output and PASSPHRASE not in output
    # A second unlock replaces the file atomically (a restarted unlock unit).
    code, output = _run(
        "db-key", "unlock", "--wrapped", str(wrapped), "--out", str(out), input=PASSPHRASE + "\n"
    )
    assert code == 0 and out.read_text() == key_text
    assert sorted(p.name for p in out.parent.iterdir()) == ["sesim-db.key"]

    # The servers read it as their credential once secrets/db.key is gone.
    instance.config.db_key_path.unlink()
    (tmp_path / "creds").mkdir()
    os.link(out, tmp_path / "creds" / "db.key")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    code, output = _run("db-key", "check", "--home", str(instance.home))
    assert code == 0, output
    assert f"the systemd credential {tmp_path / 'creds' / 'db.key'}" in output


def test_a_wrong_passphrase_exits_1_and_writes_nothing(instance: Instance, tmp_path: Path) -> None:
    wrapped = tmp_path / "db.key.wrapped"
    _wrap(instance, wrapped)
    credstore = tmp_path / "credstore"
    credstore.mkdir()
    out = credstore / "sesim-db.key"
    code, output = _run(
        "db-key",
        "unlock",
        "--wrapped",
        str(wrapped),
        "--out",
        str(out),
        input="not it at all, no\n",
    )
    assert code == 1 and "wrong passphrase" in output
    assert list(credstore.iterdir()) == []  # no key, no temporary file


def test_wrap_refuses_a_short_passphrase_and_a_key_that_does_not_open(
    instance: Instance, tmp_path: Path
) -> None:
    out = tmp_path / "db.key.wrapped"
    code, output = _run(
        "db-key", "wrap", "--home", str(instance.home), "--out", str(out), input="short\n"
    )
    assert code == 1 and "at least 16 characters" in output and not out.exists()
    instance.config.db_key_path.write_text("ab" * 32 + "\n")
    code, output = _run(
        "db-key", "wrap", "--home", str(instance.home), "--out", str(out), input=PASSPHRASE + "\n"
    )
    assert code == 1 and "wrong key" in output and not out.exists()


def test_unlock_refuses_what_is_not_a_wrapped_key(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus"
    bogus.write_text("hello\n")
    out = tmp_path / "out"
    code, output = _run(
        "db-key", "unlock", "--wrapped", str(bogus), "--out", str(out), input=PASSPHRASE + "\n"
    )
    assert code == 1 and "not a wrapped key" in output and not out.exists()
    bogus.write_text("00" * 106 + "\n")
    code, output = _run(
        "db-key", "unlock", "--wrapped", str(bogus), "--out", str(out), input=PASSPHRASE + "\n"
    )
    assert code == 1 and "not a Səsim wrapped key" in output and not out.exists()


def _fake_ask_password(folder: Path, answers: list[str]) -> Path:
    """A systemd-ask-password that answers from a list (one answer per call) and
    records its arguments."""
    folder.mkdir(exist_ok=True)
    (folder / "answers").write_text("".join(a + "\n" for a in answers))
    script = folder / "systemd-ask-password"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{folder}/calls"\n'
        f'line=$(head -n 1 "{folder}/answers")\n'
        f'sed -i 1d "{folder}/answers"\n'
        'printf "%s\\n" "$line"\n'
    )
    script.chmod(0o755)
    return folder


def test_ask_password_asks_systemd_and_retries_a_wrong_passphrase(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapped = tmp_path / "db.key.wrapped"
    _wrap(instance, wrapped)
    fake = _fake_ask_password(tmp_path / "bin", ["a wrong one, but long", PASSPHRASE])
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    out = tmp_path / "sesim-db.key"
    code, output = _run(
        "db-key", "unlock", "--wrapped", str(wrapped), "--out", str(out), "--ask-password"
    )
    assert code == 0, output
    assert "Wrong passphrase, try again." in output
    assert out.read_text() == instance.config.db_key_path.read_text()
    calls = (fake / "calls").read_text().splitlines()
    assert calls == ["--timeout=0 Passphrase of the Sesim database key:"] * 2


def test_ask_password_gives_up_after_three_wrong_passphrases(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapped = tmp_path / "db.key.wrapped"
    _wrap(instance, wrapped)
    fake = _fake_ask_password(tmp_path / "bin", ["wrong passphrase number 1"] * 3 + [PASSPHRASE])
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    out = tmp_path / "sesim-db.key"
    code, output = _run(
        "db-key", "unlock", "--wrapped", str(wrapped), "--out", str(out), "--ask-password"
    )
    assert code == 1 and "wrong passphrase" in output and not out.exists()
    assert len((fake / "calls").read_text().splitlines()) == 3


def test_check_says_which_key_and_fails_on_a_wrong_one(instance: Instance) -> None:
    code, output = _run("db-key", "check", "--home", str(instance.home))
    assert code == 0
    version = db.migrations()[-1][0]
    assert output.strip() == (
        f"The database key from {instance.config.db_key_path} opens the database "
        f"(schema version {version})."
    )
    instance.config.db_key_path.write_text("ab" * 32 + "\n")
    code, output = _run("db-key", "check", "--home", str(instance.home))
    assert code == 1 and "does not open the database" in output
    instance.config.db_key_path.unlink()
    code, output = _run("db-key", "check", "--home", str(instance.home))
    assert code == 1 and "the secret db.key is missing" in output


def test_wrap_reads_the_key_from_the_credential(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    key_text = instance.config.db_key_path.read_text()
    (creds / "db.key").write_text(key_text)
    instance.config.db_key_path.unlink()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    out = tmp_path / "w"
    _wrap(instance, out)
    assert unwrap_key(bytes.fromhex(out.read_text()), PASSPHRASE) == bytes.fromhex(key_text)
    assert load_config(instance.home).secret_file("db.key") == creds / "db.key"


def test_wrap_to_stdout_then_unlock_of_that_text(instance: Instance, tmp_path: Path) -> None:
    key_text = instance.config.db_key_path.read_text()
    result = CliRunner().invoke(
        main,
        ["db-key", "wrap", "--home", str(instance.home), "--out", "-"],
        input=PASSPHRASE + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "(on stdout)" in result.stderr and "(on stdout)" not in result.stdout
    assert not (instance.home / "-").exists() and not Path("-").exists()
    wrapped = tmp_path / "written-by-root.wrapped"
    wrapped.write_text(result.stdout)
    assert key_text.strip() not in result.stdout
    out = tmp_path / "unlocked" / "db.key"
    code, output = _run(
        "db-key", "unlock", "--wrapped", str(wrapped), "--out", str(out), input=PASSPHRASE + "\n"
    )
    assert code == 0, output
    assert out.read_text() == key_text


def test_init_with_a_credential_writes_no_db_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    key = os.urandom(32)
    (credentials / "db.key").write_text(key.hex() + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    home = tmp_path / "instance"
    code, output = _run("init", "--home", str(home))
    assert code == 0, output
    assert "secrets/db.key was not written" in output
    assert not (home / "secrets" / "db.key").exists()
    assert (home / "secrets" / "session.key").is_file()
    db.connect(home / "db.sqlite", key).close()  # made with the credential's key
    with pytest.raises(db.DatabaseError):
        db.connect(home / "db.sqlite", os.urandom(32))
    code, output = _run("db-key", "check", "--home", str(home))
    assert code == 0 and "systemd credential" in output, output
    # Without the credential the instance does not open (the key is nowhere else).
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    code, output = _run("db-key", "check", "--home", str(home))
    assert code == 1 and "missing" in output
    # A credential that is not a key: refused before anything is made.
    (credentials / "db.key").write_text("not a key\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    code, output = _run("init", "--home", str(tmp_path / "other"))
    assert code == 1 and "not a 32-byte key" in output
    assert not (tmp_path / "other").exists()
    # Without one, init is unchanged: secrets/db.key is written.
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    code, output = _run("init", "--home", str(tmp_path / "plain"))
    assert code == 0 and (tmp_path / "plain" / "secrets" / "db.key").is_file()
