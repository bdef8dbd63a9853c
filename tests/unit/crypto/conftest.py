"""Shared keys for the crypto tests.

Keys are session-scoped (and deterministic, from fixed seeds) so hypothesis
tests can use them: hypothesis refuses function-scoped fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from crypto import PrivateKey


def key_from_byte(value: int) -> PrivateKey:
    return PrivateKey.from_seed(bytes([value]) * 32)


@pytest.fixture(scope="session")
def alice() -> PrivateKey:
    return key_from_byte(0xA1)


@pytest.fixture(scope="session")
def bob() -> PrivateKey:
    return key_from_byte(0xB0)


@pytest.fixture(scope="session")
def carol() -> PrivateKey:
    return key_from_byte(0xC4)


@pytest.fixture(scope="session")
def mallory() -> PrivateKey:
    return key_from_byte(0x66)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Files made under it show the mode their writer chose, not the umask's."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)
