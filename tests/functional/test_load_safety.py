"""Argon2id work is bounded: beyond the slots, a translated "busy" page, never a crash."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask

from tests.conftest import SourceBrowser


@pytest.fixture
def hold_all_slots(app: Flask) -> Iterator[None]:
    """Play the other, slow log-ins: take every slot and every place in the queue."""
    slots = app.extensions["sesim"].deriver.slots
    held = [slots.try_acquire() for _ in range(app.config["SESIM"].max_concurrent_derivations)]
    held += [slots._try(slots.queue_paths) for _ in slots.queue_paths]  # noqa: SLF001
    try:
        assert all(fd is not None for fd in held)
        yield
    finally:
        for fd in held:
            if fd is not None:
                os.close(fd)


def test_busy_report_keeps_her_text(
    app: Flask, source: SourceBrowser, request: pytest.FixtureRequest
) -> None:
    token = source.token()
    request.getfixturevalue("hold_all_slots")
    response = source.client.post(
        "/report", data={"csrf_token": token, "what_happened": "Please keep this."}
    )
    assert response.status_code == 503
    assert "Please keep this." in response.get_data(as_text=True)


def test_busy_login_gets_a_retry_page(
    app: Flask, source: SourceBrowser, request: pytest.FixtureRequest
) -> None:
    codename = source.report_and_get_codename()
    source.logout()
    request.getfixturevalue("hold_all_slots")
    response = source.login(codename)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    assert 'lang="az"' in response.get_data(as_text=True)
