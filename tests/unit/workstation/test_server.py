"""The workstation listens on loopback only: check_host refuses every other address."""

from __future__ import annotations

import pytest

from journalist_interface.workstation.server import NotLoopback, check_host


@pytest.mark.parametrize(
    ("host", "bound"),
    [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("LOCALHOST", "127.0.0.1"),
     ("127.0.0.2", "127.0.0.2"), ("::1", "::1"), ("[::1]", "::1"), (" 127.0.0.1 ", "127.0.0.1")],
)  # fmt: skip
def test_loopback_addresses_are_accepted(host: str, bound: str) -> None:
    assert check_host(host) == bound


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "8.8.8.8", "example.org", "localhost.evil",  # noqa: S104
     "", "::ffff:8.8.8.8", "fe80::1", "127.0.0.1.nip.io"],
)  # fmt: skip
def test_every_other_address_is_refused(host: str) -> None:
    with pytest.raises(NotLoopback, match="loopback|127.0.0.1"):
        check_host(host)
