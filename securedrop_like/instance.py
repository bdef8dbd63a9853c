"""Creating an instance folder: settings, secrets and an empty database."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from crypto import new_instance_salt, new_private_file

from . import db, store
from .config import (
    CONFIG_NAME,
    Config,
    ConfigError,
    check_kdf_floor,
    credential_path,
    effective_kdf,
    load_config,
    render_toml,
    write_kdf_pin,
)

log = logging.getLogger(__name__)


def write_secret_file(path: Path, value: bytes) -> None:
    """Create a secret file readable by its owner only, never overwriting one.

    O_EXCL plus mode 0600 at creation: the file is never world-readable, not
    even for the instant between creating and chmod-ing it.
    """
    with new_private_file(path, encoding="ascii") as fh:
        fh.write(value.hex() + "\n")


def given_db_key() -> Path | None:
    """The systemd credential ``db.key`` when there is one, else None. A credential
    that is not a 32-byte key in hex is refused (before anything is made)."""
    credential = credential_path("db.key")
    if credential is None or not credential.is_file():
        return None
    try:
        key = bytes.fromhex(credential.read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != 32:
        raise ConfigError(f"the systemd credential {credential} is not a 32-byte key in hex")
    return credential


def init_instance(home: Path, settings: dict[str, Any] | None = None) -> Config:
    """Create a new instance in ``home``; refuses if one is already there.

    The Argon2id settings are written into ``config.toml`` (to be seen) and
    pinned in ``secrets/kdf`` (see :func:`securedrop_like.config.check_kdf`).

    When the systemd credential ``$CREDENTIALS_DIRECTORY/db.key`` exists, it is the
    database key: the database is made with it and ``secrets/db.key`` is not written
    (a key to be sealed never touches the instance's disk).
    """
    home = home.expanduser().resolve()
    if (home / CONFIG_NAME).exists() or (home / "secrets").exists():
        raise ConfigError(f"{home} already holds a Səsim instance; refusing to overwrite it")
    settings = {**(settings or {}), **effective_kdf(settings or {})}
    check_kdf_floor(settings["argon2_opslimit"], settings["argon2_memlimit"])
    credential = given_db_key()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    secrets_dir = home / "secrets"
    secrets_dir.mkdir(mode=0o700)
    if credential is None:
        write_secret_file(secrets_dir / "db.key", secrets.token_bytes(32))
    write_secret_file(secrets_dir / "session.key", secrets.token_bytes(32))
    write_secret_file(secrets_dir / "salt", new_instance_salt())
    (home / "spool").mkdir(mode=0o700)
    (home / CONFIG_NAME).write_text(render_toml(settings), encoding="utf-8")
    config = open_instance(home)
    write_kdf_pin(config)
    # The channels' keys (issue 12): the thread keys and the channel key pair.
    from .channels import make_channel_keys, make_thread_keys

    make_thread_keys(config)
    make_channel_keys(config)
    return config


def open_instance(home: str | os.PathLike[str] | None) -> Config:
    """Load an instance and bring its database schema up to date."""
    config = load_config(home)
    conn = db.Database.for_config(config).open()
    try:
        db.migrate(conn)
        moved = store.import_legacy_files(conn, config.store_dir)
        if moved:
            log.info("moved %d ciphertext file(s) into the database", moved)
    finally:
        conn.close()
    return config
