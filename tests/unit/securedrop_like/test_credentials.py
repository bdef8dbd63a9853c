"""Secrets from systemd credentials ($CREDENTIALS_DIRECTORY) before the instance's files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from securedrop_like import db
from securedrop_like.channels import ThreadKeys, channel_private_key
from securedrop_like.config import ConfigError, load_config
from securedrop_like.instance import open_instance
from sesim.cli import main
from tests.conftest import Instance


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "credentials"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    monkeypatch.delenv("SESIM_HOME", raising=False)
    return folder


def _seal_away(instance: Instance, credentials: Path, name: str = "db.key") -> str:
    """Move secrets/<name> into the credentials folder, as the deployment does."""
    path = instance.config.secrets_dir / name
    text = path.read_text()
    (credentials / name).write_text(text)
    path.unlink()
    return text


def test_the_database_opens_with_the_key_only_in_the_credentials_folder(
    instance: Instance, credentials: Path
) -> None:
    _seal_away(instance, credentials)
    config = open_instance(instance.home)  # runs the migrations: the database opened
    assert config.secret_file("db.key") == credentials / "db.key"
    conn = db.Database.for_config(config).open()
    try:
        assert db.schema_version(conn) == db.migrations()[-1][0]
    finally:
        conn.close()


def test_the_credential_comes_before_the_file(instance: Instance, credentials: Path) -> None:
    (credentials / "db.key").write_text("ab" * 32 + "\n")
    config = load_config(instance.home)
    assert config.read_secret(config.db_key_path) == bytes.fromhex("ab" * 32)
    with pytest.raises(db.DatabaseError, match="wrong key"):
        db.Database.for_config(config).open()


def test_without_the_credential_the_file_is_read(instance: Instance, credentials: Path) -> None:
    config = load_config(instance.home)
    assert config.secret_file("db.key") == config.db_key_path
    db.Database.for_config(config).open().close()


def test_every_secret_is_read_from_a_credential_too(instance: Instance, credentials: Path) -> None:
    for name in ("salt", "session.key", "thread.keys", "channel.key"):
        _seal_away(instance, credentials, name)
    config = load_config(instance.home)
    assert len(config.read_secret(config.salt_path)) == 16
    assert len(config.read_secret(config.session_key_path)) == 32
    assert ThreadKeys.load(config).current_version == 1
    assert channel_private_key(config).public_key is not None


def test_a_missing_key_names_both_places(instance: Instance, credentials: Path) -> None:
    instance.config.db_key_path.unlink()
    config = load_config(instance.home)
    with pytest.raises(ConfigError) as caught:
        config.read_secret(config.db_key_path)
    message = str(caught.value)
    assert "db.key" in message and str(credentials / "db.key") in message
    assert str(config.db_key_path) in message and "CREDENTIALS_DIRECTORY" in message


def test_a_missing_key_without_the_variable_says_it_is_not_set(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    instance.config.db_key_path.unlink()
    with pytest.raises(
        ConfigError, match=r"CREDENTIALS_DIRECTORY/db.key \(the variable is not set\)"
    ):
        open_instance(instance.home)


def test_the_key_is_never_printed(
    instance: Instance, credentials: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither by a command that uses it, nor by one it fails to open."""
    caplog.set_level(logging.DEBUG)
    key = _seal_away(instance, credentials).strip()
    runner = CliRunner()
    outputs = []
    for args in (["db-key", "check"], ["migrate"], ["keys", "list"]):
        result = runner.invoke(main, [*args, "--home", str(instance.home)])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "the systemd credential" in outputs[0]
    wrong = "cd" * 32
    (credentials / "db.key").write_text(wrong + "\n")
    result = runner.invoke(main, ["db-key", "check", "--home", str(instance.home)])
    assert result.exit_code == 1 and "does not open the database" in result.output
    outputs.append(result.output)
    (credentials / "db.key").write_text("not hex " + key[:20] + "\n")
    result = runner.invoke(main, ["db-key", "check", "--home", str(instance.home)])
    assert result.exit_code == 1 and "cannot read secret file db.key" in result.output
    outputs.append(result.output)
    text = "\n".join(outputs) + caplog.text
    for secret in (key, key.upper(), wrong, key[:20]):
        assert secret not in text


@pytest.mark.parametrize("name", ["", ".", "..", "a/b"])
def test_odd_names_are_never_looked_up_in_the_credentials_folder(
    instance: Instance, credentials: Path, name: str
) -> None:
    from securedrop_like.config import credential_path

    assert credential_path(name) is None
