"""Which Host names each app answers under, and the tor settings that decide it."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto import OnionServiceKey
from securedrop_like.config import Config, ConfigError, validate
from securedrop_like.hosts import LOCAL_HOSTS, allowed_hosts, clearnet_host, host_name

SOURCE = OnionServiceKey.generate().address
STAFF = OnionServiceKey.generate().address


@pytest.mark.parametrize(
    "header, name",
    [
        ("Example.Onion", "example.onion"),
        ("example.onion:80", "example.onion"),
        ("example.onion.", "example.onion"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("[::1]:8080", "::1"),
        ("[::1]", "::1"),
        ("[::1", ""),
        ("host:port", ""),
        ("", ""),
        (" localhost ", "localhost"),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_without_an_onion_only_this_machine(tmp_path: Path) -> None:
    config = Config(home=tmp_path)
    assert allowed_hosts(config, "source") == allowed_hosts(config, "staff") == LOCAL_HOSTS
    assert LOCAL_HOSTS == {"localhost", "127.0.0.1", "::1"}


def test_with_onions_only_the_onions_and_the_mirror(tmp_path: Path) -> None:
    config = Config(
        home=tmp_path,
        onion_address=SOURCE,
        staff_onion_address=STAFF,
        clearnet_url="https://sesim.example.org/",
    )
    assert allowed_hosts(config, "source") == {SOURCE, "sesim.example.org"}
    assert allowed_hosts(config, "staff") == {STAFF}  # never the mirror, never localhost
    assert clearnet_host(config) == "sesim.example.org"


def test_each_app_is_local_until_its_own_onion_is_set(tmp_path: Path) -> None:
    config = Config(home=tmp_path, onion_address=SOURCE)
    assert allowed_hosts(config, "source") == {SOURCE}
    assert allowed_hosts(config, "staff") == LOCAL_HOSTS


@pytest.mark.parametrize(
    "changes",
    [
        {"onion_address": "example.onion"},
        {"onion_address": SOURCE.upper()},
        {"staff_onion_address": STAFF[:-6]},
        {"staff_onion_address": ("b" if STAFF[0] == "a" else "a") + STAFF[1:]},  # checksum off
        {"clearnet_url": "http://sesim.example.org", "onion_address": SOURCE},
        {"clearnet_url": "https://", "onion_address": SOURCE},
        {"clearnet_url": "https://sesim.example.org"},  # a mirror with no onion to point to
        {"tor_control_port": 70000},
        {"ssh_onion_port": -1},
    ],
)
def test_invalid_tor_settings_are_refused(tmp_path: Path, changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        validate(Config(home=tmp_path, **changes))  # type: ignore[arg-type]


def test_valid_tor_settings_pass(tmp_path: Path) -> None:
    validate(
        Config(
            home=tmp_path,
            onion_address=SOURCE,
            staff_onion_address=STAFF,
            clearnet_url="https://sesim.example.org",
            ssh_onion_port=22,
        )
    )


def test_extra_hosts_are_answered_beside_the_onions(tmp_path: Path) -> None:
    config = Config(home=tmp_path, onion_address=SOURCE, extra_hosts="127.0.0.1, LocalHost:8080")
    assert allowed_hosts(config, "source") == {SOURCE, "127.0.0.1", "localhost"}
    assert allowed_hosts(Config(home=tmp_path, extra_hosts="demo.test"), "staff") == (
        LOCAL_HOSTS | {"demo.test"}
    )
