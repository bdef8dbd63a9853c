"""Fixtures for the pages package's tests: an instance that offers every channel.

``[intake.public]`` goes into the instance's config (``config.extra["intake"]``), read by
the core package's ``securedrop_like.channels.public_channels``; until that module is in
this branch, a stand-in with the same interface reads the same table. The OpenPGP key is
a stand-in of ``securedrop_like.pgp_key.public_key`` (the e-mail package's; its own tests
prove the real parsing): the pages only show what it returns.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from securedrop_like.config import Config
from tests.conftest import Instance

PUBLIC = {
    "sms_number": "+994501234567",
    "email": "report@sesim.example",
    "messenger_url": "https://m.me/sesim.example",
    "x_handle": "sesim_example",
}
FINGERPRINT = "0123456789ABCDEF0123456789ABCDEF01234567"
ARMOURED = (
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZtest\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n"
)


@dataclass(frozen=True)
class _PublicChannels:
    sms_number: str = ""
    email: str = ""
    messenger_url: str = ""
    x_handle: str = ""


@dataclass(frozen=True)
class _PublicPgpKey:
    armoured: str
    fingerprint: str


def _stand_in_channels() -> types.ModuleType:
    module = types.ModuleType("securedrop_like.channels")

    def public_channels(config: Config) -> _PublicChannels:
        public = (config.extra.get("intake") or {}).get("public") or {}
        return _PublicChannels(**{k: str(public.get(k, "")) for k in PUBLIC})

    module.public_channels = public_channels  # type: ignore[attr-defined]
    return module


def has_core_channels() -> bool:
    try:
        module = importlib.import_module("securedrop_like.channels")
    except ModuleNotFoundError:
        return False
    return hasattr(module, "public_channels")


def offering_config(config: Config, public: dict[str, str] | None = None) -> Config:
    extra = dict(config.extra)
    extra["intake"] = {"public": dict(PUBLIC if public is None else public)}
    return dataclasses.replace(config, extra=extra)


def use_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The core's public_channels if it is there, else the stand-in."""
    if not has_core_channels():
        monkeypatch.setitem(sys.modules, "securedrop_like.channels", _stand_in_channels())


def use_pgp_key(monkeypatch: pytest.MonkeyPatch, key: bool = True) -> None:
    module = types.ModuleType("securedrop_like.pgp_key")
    found = _PublicPgpKey(ARMOURED, FINGERPRINT) if key else None
    module.public_key = lambda config: found  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "securedrop_like.pgp_key", module)


def offering_app(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The source app of an instance that offers every channel and has an OpenPGP key
    (for a fixture: ``yield from offering_app(instance, monkeypatch)``)."""
    from source_interface import create_app

    use_channels(monkeypatch)
    use_pgp_key(monkeypatch)
    application = create_app(offering_config(instance.config), TESTING=True)
    yield application
    application.extensions["sesim"].service.close()


def page(app: Flask, path: str, lang: str = "en") -> tuple[int, str, Any]:
    client = app.test_client()
    client.get(f"/lang/{lang}")
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True), response
