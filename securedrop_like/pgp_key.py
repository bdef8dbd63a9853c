"""The instance's OpenPGP public key: what a woman encrypts her e-mail report to.

The key pair is made on the offline workstation (``sesim workstation pgp-key
generate``); only its public half comes to the server, installed with ``sesim
pgp-key install FILE``, which checks it with GnuPG (one public key, no secret
part, able to encrypt) before writing ``pgp-public.asc`` in the instance folder.
The source interface serves it (``/pgp-key.asc``) and the pages and the map show
its fingerprint, from :func:`public_key`.

The server never decrypts: an encrypted e-mail is stored as received, sealed
again to the reviewers, and opened on the workstation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click

from crypto import CryptoError, OpenPGP

from .config import Config, ConfigError

__all__ = ["KEY_FILE", "PublicPgpKey", "fingerprint_of", "install", "pgp_key", "public_key"]

#: In the instance folder: public, world-readable like channel.pub.
KEY_FILE = "pgp-public.asc"
#: A public key with its subkeys and signatures is a few KB; this is a generous bound.
MAX_KEY_BYTES = 256 * 1024
_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
_END = "-----END PGP PUBLIC KEY BLOCK-----"


@dataclass(frozen=True)
class PublicPgpKey:
    armoured: str  # the ASCII-armoured public key, as served
    fingerprint: str  # 40 hex digits, upper-case

    @property
    def grouped(self) -> str:
        """The fingerprint in groups of four, as people read it aloud."""
        return " ".join(self.fingerprint[i : i + 4] for i in range(0, 40, 4))


def _dearmour(armoured: str) -> bytes:
    lines = armoured.replace("\r\n", "\n").split("\n")
    try:
        start = lines.index(_BEGIN)
        end = lines.index(_END, start)
    except ValueError as exc:
        raise CryptoError("not an ASCII-armoured OpenPGP public key") from exc
    body = lines[start + 1 : end]
    # Armour headers ("Comment: …") end at the first empty line.
    if "" in body:
        body = body[body.index("") + 1 :]
    data = [line for line in body if line and not line.startswith("=")]
    try:
        return base64.b64decode("".join(data), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("the OpenPGP armour is damaged") from exc


def fingerprint_of(armoured: str) -> str:
    """The v4 fingerprint of the (first) primary key in ``armoured``: SHA-1 over 0x99,
    the two-byte length and the public-key packet's body (RFC 4880, 12.2)."""
    data = _dearmour(armoured)
    if len(data) < 2 or not data[0] & 0x80:
        raise CryptoError("not an OpenPGP packet")
    first = data[0]
    if first & 0x40:  # new packet format
        tag = first & 0x3F
        octet = data[1]
        if octet < 192:
            length, offset = octet, 2
        elif octet < 224:
            length, offset = ((octet - 192) << 8) + data[2] + 192, 3
        elif octet == 255:
            length, offset = int.from_bytes(data[2:6], "big"), 6
        else:
            raise CryptoError("a partial-length key packet")
    else:  # old format
        tag = (first >> 2) & 0x0F
        kind = first & 0x03
        size = {0: 1, 1: 2, 2: 4}.get(kind)
        if size is None:
            raise CryptoError("an indeterminate-length key packet")
        length, offset = int.from_bytes(data[1 : 1 + size], "big"), 1 + size
    body = data[offset : offset + length]
    if tag != 6 or len(body) != length or not body or body[0] != 4:
        raise CryptoError("expected a version 4 OpenPGP public key")
    digest = hashlib.sha1(b"\x99" + length.to_bytes(2, "big") + body, usedforsecurity=False)
    return digest.hexdigest().upper()


def _path(config: Config) -> Path:
    return config.home / KEY_FILE


def public_key(config: Config) -> PublicPgpKey | None:
    """The installed key, or None when the instance offers no OpenPGP e-mail."""
    path = _path(config)
    try:
        if path.stat().st_size > MAX_KEY_BYTES:
            return None
        armoured = path.read_text(encoding="ascii")
        return PublicPgpKey(armoured, fingerprint_of(armoured))
    except (OSError, UnicodeDecodeError, CryptoError):
        return None


def check(armoured: str) -> str:
    """GnuPG's word on ``armoured``: exactly one public key (no secret part) that can
    encrypt. Returns its fingerprint; CryptoError (or FormatError) otherwise."""
    if len(armoured.encode("utf-8", "replace")) > MAX_KEY_BYTES:
        raise CryptoError("the key file is too large")
    home = Path(tempfile.mkdtemp(prefix="sesim-pgp-check-"))
    try:
        with OpenPGP(home / "gnupg") as pgp:
            fingerprint = pgp.import_public_key(armoured)
            pgp.encrypt(b"check", fingerprint)  # no encryption subkey: refused here
            exported = pgp.export_public_key(fingerprint)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if fingerprint_of(exported) != fingerprint:
        raise CryptoError("expected a version 4 OpenPGP public key")
    return exported


def install(config: Config, armoured: str) -> PublicPgpKey:
    """Check ``armoured`` and make it the instance's key (replacing any before)."""
    exported = check(armoured)
    path = _path(config)
    tmp = path.with_name(f".{KEY_FILE}.new")
    try:
        tmp.unlink(missing_ok=True)
        tmp.write_text(exported, encoding="ascii")
        tmp.chmod(0o644)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
    key = public_key(config)
    if key is None:  # pragma: no cover - just written and checked
        raise ConfigError(f"cannot read {path} back")
    return key


# -- sesim pgp-key ---------------------------------------------------------------------------


@click.group("pgp-key")
def pgp_key() -> None:
    """The instance's OpenPGP public key, for encrypted e-mail reports."""


# As securedrop_like.cli.home_option (which imports this module, so not imported here).
_home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SESIM_HOME",
    help="Instance folder (default: $SESIM_HOME).",
)


@pgp_key.command("install")
@_home_option
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def install_command(home: Path | None, key_file: Path) -> None:
    """Install the public key made by `sesim workstation pgp-key generate`."""
    from .cli import fail
    from .instance import open_instance

    try:
        config = open_instance(home)
        if key_file.stat().st_size > MAX_KEY_BYTES:
            fail("the key file is too large to be one public key")
        armoured = key_file.read_text(encoding="utf-8")
        key = install(config, armoured)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {key_file}: {exc}")
    except (ConfigError, CryptoError) as exc:
        fail(str(exc))
    click.echo(f"Installed the OpenPGP key {key.grouped}")
    click.echo("The source interface and the map now publish it and its fingerprint.")


@pgp_key.command("show")
@_home_option
def show_command(home: Path | None) -> None:
    """Print the installed key's fingerprint."""
    from .cli import fail
    from .instance import open_instance

    try:
        config = open_instance(home)
    except ConfigError as exc:
        fail(str(exc))
    key = public_key(config)
    if key is None:
        fail("no OpenPGP key is installed (sesim pgp-key install FILE)")
    click.echo(key.grouped)
