"""Instance configuration: TOML file, SESIM_* overrides, validation, secrets."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from securedrop_like.config import (
    CONFIG_NAME,
    Config,
    ConfigError,
    load_config,
    render_toml,
    resolve_home,
    validate,
)


@pytest.fixture(autouse=True)
def no_sesim_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings in the developer's environment must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("SESIM_"):
            monkeypatch.delenv(name)


def home_with(tmp_path: Path, text: str) -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / CONFIG_NAME).write_text(text, encoding="utf-8")
    return home


def test_defaults_are_valid(tmp_path: Path) -> None:
    config = load_config(home_with(tmp_path, ""))
    assert config == Config(home=tmp_path / "home")
    assert config.quick_exit_url.startswith("https://")
    assert config.default_locale == "az"


def test_load_config_reads_settings_and_keeps_unknown_keys_as_extra(tmp_path: Path) -> None:
    home = home_with(
        tmp_path,
        'instance_name = "Test Səsim"\nmax_sessions = 7\n'
        'derivation_wait_seconds = 0.5\ndefault_locale = "ru"\nfuture_setting = [1, 2]\n',
    )
    config = load_config(home)
    assert config.instance_name == "Test Səsim"
    assert config.max_sessions == 7
    assert config.derivation_wait_seconds == 0.5
    assert config.default_locale == "ru"
    assert config.extra == {"future_setting": [1, 2]}
    assert config.home == home.resolve()


def test_environment_overrides_the_file_and_is_coerced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = home_with(tmp_path, "max_sessions = 7\n")
    monkeypatch.setenv("SESIM_MAX_SESSIONS", "9")
    monkeypatch.setenv("SESIM_DERIVATION_WAIT_SECONDS", "1.25")
    monkeypatch.setenv("SESIM_INSTANCE_NAME", "From env")
    config = load_config(home)
    assert config.max_sessions == 9
    assert config.derivation_wait_seconds == 1.25
    assert config.instance_name == "From env"


def test_sesim_home_is_used_when_no_folder_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = home_with(tmp_path, 'instance_name = "via env"\n')
    monkeypatch.setenv("SESIM_HOME", str(home))
    assert load_config().instance_name == "via env"
    assert resolve_home(None) == home.resolve()


def test_an_explicit_folder_wins_over_sesim_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESIM_HOME", str(tmp_path / "elsewhere"))
    assert resolve_home(tmp_path) == tmp_path.resolve()


def test_no_folder_and_no_sesim_home_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--home DIR or set SESIM_HOME"):
        load_config(None)


def test_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a Səsim instance"):
        load_config(tmp_path / "does-not-exist")


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(home_with(tmp_path, "max_sessions = = 3\n"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_SESSIONS", "lots"),
        ("MAX_FILE_BYTES", "1.5"),
        ("DERIVATION_WAIT_SECONDS", "soon"),
        ("ARGON2_OPSLIMIT", ""),
    ],
)
def test_an_invalid_environment_value_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"SESIM_{name}", value)
    with pytest.raises(ConfigError, match=name.lower()):
        load_config(home_with(tmp_path, ""))


def test_an_invalid_file_value_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_sessions"):
        load_config(home_with(tmp_path, 'max_sessions = "many"\n'))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"default_locale": "fr"}, "default_locale"),
        ({"max_concurrent_derivations": 0}, "max_concurrent_derivations"),
        ({"max_file_bytes": 0}, "max_file_bytes"),
        ({"max_file_bytes": 11, "max_request_bytes": 10}, "max_file_bytes"),
        ({"quick_exit_url": "http://www.google.az/"}, "quick_exit_url"),
        ({"quick_exit_url": "www.google.az"}, "quick_exit_url"),
        ({"quick_exit_url": "javascript:alert(1)"}, "quick_exit_url"),
    ],
)
def test_validate_refuses_unsafe_or_inconsistent_settings(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(Config(home=tmp_path, **changes))


def test_load_config_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESIM_QUICK_EXIT_URL", "http://example.org/")
    with pytest.raises(ConfigError, match="https"):
        load_config(home_with(tmp_path, ""))


def test_validate_accepts_equal_file_and_request_limits(tmp_path: Path) -> None:
    validate(Config(home=tmp_path, max_file_bytes=10, max_request_bytes=10))


def test_paths_derive_from_home(tmp_path: Path) -> None:
    config = Config(home=tmp_path)
    assert config.db_path == tmp_path / "db.sqlite"
    assert config.store_dir == tmp_path / "store"
    assert config.db_key_path == tmp_path / "secrets" / "db.key"
    assert config.session_key_path == tmp_path / "secrets" / "session.key"
    assert config.salt_path == tmp_path / "secrets" / "salt"


def test_config_is_frozen_and_with_changes_makes_a_copy(tmp_path: Path) -> None:
    config = Config(home=tmp_path)
    changed = config.with_changes(max_sessions=5)
    assert changed.max_sessions == 5
    assert config.max_sessions == Config(home=tmp_path).max_sessions
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_sessions = 1  # type: ignore[misc]


def test_read_secret_decodes_hex(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("00ff10\n")
    assert Config(home=tmp_path).read_secret(tmp_path / "s") == b"\x00\xff\x10"


@pytest.mark.parametrize("content", [None, "zz-not-hex-zz", "abc"])
def test_an_unreadable_secret_is_a_config_error_that_does_not_echo_it(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "db.key"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match="db.key") as caught:
        Config(home=tmp_path).read_secret(path)
    assert content is None or content not in str(caught.value)


def test_render_toml_round_trips_strings_numbers_and_escapes() -> None:
    settings = {
        "instance_name": 'Səsim "test" \\ centre',
        "max_sessions": 12,
        "derivation_wait_seconds": 2.5,
    }
    text = render_toml(settings)
    assert text.startswith("#")
    assert tomllib.loads(text) == settings


def test_render_toml_round_trips_control_characters() -> None:
    settings = {"instance_name": "line one\nline two\ttabbed"}
    assert tomllib.loads(render_toml(settings)) == settings
