"""Helpers for the pages package's tests: an instance that offers every channel, and a
real OpenPGP key made by GnuPG.

``[intake.public]`` goes into the instance's config (``config.extra["intake"]``), read by
``securedrop_like.channels.public_channels``; the key is installed with
``securedrop_like.pgp_key.install`` (GnuPG checks it), as ``sesim pgp-key install`` does.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask

from securedrop_like import pgp_key
from securedrop_like.config import Config
from tests.conftest import Instance

PUBLIC = {
    "sms_number": "+994501234567",
    "email": "report@sesim.example",
    "messenger_url": "https://m.me/sesim.example",
    "x_handle": "sesim_example",
}


def gpg(home: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        ["gpg", "--batch", *args],  # noqa: S607
        env={**os.environ, "GNUPGHOME": str(home)},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def gpg_key(home: Path, algo: str = "default") -> tuple[str, str]:
    """A real key made by GnuPG (``default``: ed25519 with an encryption subkey):
    (its armoured public half, its fingerprint as gpg prints it)."""
    home.mkdir(mode=0o700)
    name = "Sesim <report@legal-centre.example.az>"
    usage = "default" if algo == "default" else "sign"
    gpg(home, "--passphrase", "", "--quick-gen-key", name, algo, usage, "never")
    armoured = gpg(home, "--armor", "--export")
    fprs = [line.split(":")[9] for line in gpg(home, "--with-colons", "--fingerprint").splitlines()
            if line.startswith("fpr")]  # fmt: skip
    return armoured, fprs[0]


def offering_config(config: Config, public: dict[str, str] | None = None) -> Config:
    extra = dict(config.extra)
    extra["intake"] = {"public": dict(PUBLIC if public is None else public)}
    return dataclasses.replace(config, extra=extra)


def offering_app(instance: Instance, key: tuple[str, str] | None) -> Iterator[Flask]:
    """The source app of an instance that offers every channel, with ``key`` installed
    (for a fixture: ``yield from offering_app(instance, key)``)."""
    from source_interface import create_app

    if key is not None:
        pgp_key.install(instance.config, key[0])
    application = create_app(offering_config(instance.config), TESTING=True)
    yield application
    application.extensions["sesim"].service.close()


def page(app: Flask, path: str, lang: str = "en") -> tuple[int, str, Any]:
    client = app.test_client()
    client.get(f"/lang/{lang}")
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True), response
