"""Fixtures shared by the unit tests: an injected clock and a server's shared table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from securedrop_like.shared_sessions import ServerShared
from source_interface import create_app
from tests.conftest import Instance


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shared() -> ServerShared:
    return ServerShared.create(slots=16)


@pytest.fixture
def shared_app(instance: Instance, shared: ServerShared, clock: Clock) -> Iterator[Flask]:
    application = create_app(instance.config, shared=shared, TESTING=True, SESSION_CLOCK=clock)
    yield application
    application.extensions["sesim"].service.close()
