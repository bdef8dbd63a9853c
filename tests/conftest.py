"""Fixtures shared by every test: an instance, the source app, and a source's browser.

Instances use real SQLCipher, real libsodium and a real Argon2id, but with
the cheapest Argon2id settings so the suite stays fast; the production
settings are pinned by crypto's known-answer vectors.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crypto import PrivateKey
from securedrop_like.config import TESTING_WEAK_KDF_ENV, Config
from securedrop_like.demo import install_demo_reviewer
from securedrop_like.instance import init_instance

FAST_ARGON2 = {"argon2_opslimit": 1, "argon2_memlimit": 8 * 1024 * 1024}
# The one place that lets the suite (and the servers it starts, which inherit
# the environment) use Argon2id settings under the production floor; see
# securedrop_like.config.check_kdf_floor. No production path sets it.
os.environ[TESTING_WEAK_KDF_ENV] = "1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CODENAME_RE = re.compile(r'class="codename" lang="en">([^<]+)<')


@dataclass
class Instance:
    config: Config
    reviewer_key: PrivateKey

    @property
    def home(self) -> Path:
        return self.config.home


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    config = init_instance(tmp_path / "instance", dict(FAST_ARGON2))
    return Instance(config, install_demo_reviewer(config))


@pytest.fixture
def app(instance: Instance) -> Iterator[Flask]:
    from source_interface import create_app

    application = create_app(instance.config, TESTING=True)
    yield application
    application.extensions["sesim"].service.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class SourceBrowser:
    """What a woman does, step by step, through the Flask test client."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.codename = ""

    def token(self, path: str = "/report") -> str:
        return csrf_of(self.client.get(path).get_data(as_text=True))

    def report(
        self,
        text: str = "Something happened at the service centre.",
        files: list[tuple[bytes, str]] | None = None,
        **fields: Any,
    ) -> Any:
        data: dict[str, Any] = {"csrf_token": self.token(), "what_happened": text, **fields}
        if files:
            data["files"] = [(io.BytesIO(body), name) for body, name in files]
        return self.client.post("/report", data=data, content_type="multipart/form-data")

    def report_and_get_codename(self, text: str = "Something happened.", **kwargs: Any) -> str:
        response = self.report(text, **kwargs)
        # The codename page is the answer to the POST itself (no redirect to lose).
        assert response.status_code == 200, response.get_data(as_text=True)[:2000]
        page = response.get_data(as_text=True)
        match = CODENAME_RE.search(page)
        assert match, page[:2000]
        self.codename = match.group(1)
        return self.codename

    def login(self, codename: str | None = None) -> Any:
        token = self.token("/login")
        return self.client.post(
            "/login", data={"csrf_token": token, "codename": codename or self.codename}
        )

    def logout(self) -> Any:
        return self.client.post("/logout", data={"csrf_token": self.token("/case")})

    def case(self) -> str:
        response = self.client.get("/case")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def send_message(self, text: str, files: list[tuple[bytes, str]] | None = None) -> Any:
        data: dict[str, Any] = {"csrf_token": self.token("/case"), "message": text}
        if files:
            data["files"] = [(io.BytesIO(body), name) for body, name in files]
        return self.client.post("/case/message", data=data, content_type="multipart/form-data")


@pytest.fixture
def source(client: FlaskClient) -> SourceBrowser:
    return SourceBrowser(client)
