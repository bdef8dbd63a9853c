"""The Argon2id settings are pinned at init; a server refuses to start on any other,
or on settings under the floor outside the test suite."""

from __future__ import annotations

import logging
import re
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from securedrop_like.config import (
    CONFIG_NAME,
    TESTING_WEAK_KDF_ENV,
    ConfigError,
    check_kdf,
    load_config,
    read_kdf_pin,
    warn_if_weak_kdf,
)
from securedrop_like.instance import init_instance
from sesim.cli import main
from tests.conftest import FAST_ARGON2, Instance
from tests.unit.securedrop_like.test_instance_cli import assert_clean_failure

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _serve(runner: CliRunner, home: Path) -> Result:
    # Every failure here happens before the server binds a port.
    return runner.invoke(main, ["serve", "source", "--home", str(home), "--port", "1"])


def test_init_writes_and_pins_the_settings(instance: Instance) -> None:
    settings = tomllib.loads((instance.home / CONFIG_NAME).read_text())
    assert settings["argon2_opslimit"] == 1 and settings["argon2_memlimit"] == 8 * 1024 * 1024
    pin = instance.config.kdf_pin_path
    assert stat.S_IMODE(pin.stat().st_mode) == 0o600
    assert read_kdf_pin(instance.config) == (1, 8 * 1024 * 1024)
    check_kdf(instance.config)


def test_sesim_init_pins_the_production_settings(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TESTING_WEAK_KDF_ENV)
    home = tmp_path / "instance"
    assert runner.invoke(main, ["init", "--home", str(home)]).exit_code == 0
    config = load_config(home)
    assert read_kdf_pin(config) == (3, 64 * 1024 * 1024)
    settings = tomllib.loads((home / CONFIG_NAME).read_text())
    assert (settings["argon2_opslimit"], settings["argon2_memlimit"]) == (3, 64 * 1024 * 1024)
    check_kdf(config)


@pytest.mark.parametrize(
    ("name", "value"), [("ARGON2_MEMLIMIT", "16777216"), ("ARGON2_OPSLIMIT", "4")]
)
def test_a_stray_variable_stops_the_server_with_a_clear_message(
    runner: CliRunner, instance: Instance, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"SESIM_{name}", value)
    assert_clean_failure(_serve(runner, instance.home), name.lower(), "pinned")


def test_an_edited_config_stops_the_server(runner: CliRunner, instance: Instance) -> None:
    path = instance.home / CONFIG_NAME
    path.write_text(path.read_text().replace("argon2_opslimit = 1", "argon2_opslimit = 2"))
    assert_clean_failure(_serve(runner, instance.home), "argon2_opslimit", "pinned")


def test_a_changed_default_stops_the_server(instance: Instance) -> None:
    # An instance whose config.toml does not name the settings gets the defaults,
    # which are not what its codenames were made with.
    path = instance.home / CONFIG_NAME
    kept = [line for line in path.read_text().splitlines() if not line.startswith("argon2_")]
    path.write_text("\n".join(kept) + "\n")
    with pytest.raises(ConfigError, match="pinned"):
        check_kdf(load_config(instance.home))


def test_without_a_pin_the_server_says_which_command_pins_it(
    runner: CliRunner, instance: Instance
) -> None:
    instance.config.kdf_pin_path.unlink()
    result = _serve(runner, instance.home)
    assert_clean_failure(result, "sesim pin-kdf --home", "argon2_opslimit=1")
    pinned = runner.invoke(main, ["pin-kdf", "--home", str(instance.home)])
    assert pinned.exit_code == 0, pinned.output
    assert read_kdf_pin(instance.config) == (1, 8 * 1024 * 1024)
    check_kdf(load_config(instance.home))
    again = runner.invoke(main, ["pin-kdf", "--home", str(instance.home)])
    assert again.exit_code == 0 and "already pinned" in again.output


def test_pin_kdf_will_not_repin_other_values(
    runner: CliRunner, instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESIM_ARGON2_OPSLIMIT", "2")
    result = runner.invoke(main, ["pin-kdf", "--home", str(instance.home)])
    assert_clean_failure(result, "pinned")
    assert read_kdf_pin(instance.config) == (1, 8 * 1024 * 1024)


def test_outside_tests_weak_settings_are_refused_at_init_and_at_start(
    runner: CliRunner, instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TESTING_WEAK_KDF_ENV)
    with pytest.raises(ConfigError, match="floor"):
        init_instance(tmp_path / "weak", dict(FAST_ARGON2))
    assert not (tmp_path / "weak").exists()
    result = runner.invoke(
        main, ["init", "--home", str(tmp_path / "weak2")], env={"SESIM_ARGON2_OPSLIMIT": "2"}
    )
    assert_clean_failure(result, "floor")
    # An instance pinned to weak settings (here: the test fixture's) does not serve either.
    assert_clean_failure(_serve(runner, instance.home), "floor")
    monkeypatch.setenv(TESTING_WEAK_KDF_ENV, "yes")  # only exactly "1" counts
    assert_clean_failure(_serve(runner, instance.home), "floor")


def test_only_the_test_suite_sets_the_weak_kdf_flag() -> None:
    flag = re.compile(re.escape(TESTING_WEAK_KDF_ENV) + r"|TESTING_WEAK_KDF_ENV")
    allowed = {
        ROOT / "securedrop_like" / "config.py",  # where it is defined and read
        ROOT / "tests" / "conftest.py",
        ROOT / "bench" / "__main__.py",
    }
    found = set()
    for folder in (
        "securedrop_like",
        "sesim",
        "source_interface",
        "journalist_interface",
        "tor_config",
        "crypto",
        "public_map",
        "scripts",
        "bench",
    ):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in {".py", ".sh", ".toml", ".cfg", ".service", ""}:
                if flag.search(path.read_text(errors="replace")):
                    found.add(path)
    for name in ("Makefile", "pyproject.toml", "setup.cfg"):
        if flag.search((ROOT / name).read_text()):
            found.add(ROOT / name)
    assert found <= allowed, found - allowed


def test_the_weak_kdf_flag_is_logged_as_a_warning_when_in_effect(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """L8: honoured, never silently (serve() calls this at every start)."""
    caplog.set_level(logging.WARNING)
    assert warn_if_weak_kdf() is True
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "floor is OFF" in caplog.records[0].getMessage()
    caplog.clear()
    monkeypatch.setenv(TESTING_WEAK_KDF_ENV, "yes")  # only exactly "1" counts
    assert warn_if_weak_kdf() is False
    assert caplog.records == []
