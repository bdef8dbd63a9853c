"""The channels' keys and public addresses (issue 12).

- **Thread keys** (``secrets/thread.keys``, 0600): HMAC-SHA256 keys that turn a
  sender's (channel, address) into the hash that finds her thread, and a
  provider's message id into a replay mark. Versioned: ``sesim thread-key rotate``
  adds a new current key; lookups try every kept key and move a thread found
  under an old one to the current one; ``sesim thread-key retire`` drops the old
  keys (threads still under them can no longer be found: they are deleted).
- **The channel key**: an X25519 key pair, ``channel.pub`` in the instance folder
  and ``secrets/channel.key`` (0600), read only by the intake server. Her address
  (while she waits for answers she asked for), the parts of a thread waiting to
  be joined and the outbox are sealed to it.
- ``public_channels(config)``: the numbers and addresses the pages show, from
  ``[intake.public]`` in config.toml, checked.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from crypto import (
    PrivateKey,
    PublicKey,
    new_private_file,
    read_private_key_file,
    read_public_key_file,
    write_private_key_file,
    write_public_key_file,
)

from .config import Config, ConfigError

THREAD_KEYS_NAME = "thread.keys"
CHANNEL_PUBLIC_NAME = "channel.pub"
CHANNEL_PRIVATE_NAME = "channel.key"
_KEY_LINE = re.compile(r"^v([1-9][0-9]{0,8}) ([0-9a-f]{64})$")


def thread_keys_path(config: Config) -> Path:
    return config.secrets_dir / THREAD_KEYS_NAME


def channel_public_path(config: Config) -> Path:
    return config.home / CHANNEL_PUBLIC_NAME


def channel_private_path(config: Config) -> Path:
    return config.secrets_dir / CHANNEL_PRIVATE_NAME


# -- thread keys ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadKeys:
    """The kept thread keys, by version; the highest version is the current one."""

    keys: dict[int, bytes]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError("the thread key file holds no key")

    def __repr__(self) -> str:
        return f"ThreadKeys(versions={sorted(self.keys)})"

    @property
    def current_version(self) -> int:
        return max(self.keys)

    @property
    def versions(self) -> list[int]:
        """Every kept version, the current one first."""
        return sorted(self.keys, reverse=True)

    def thread_hash(self, channel: str, address: str, version: int | None = None) -> str:
        """hex HMAC-SHA256(key, channel ‖ 0x00 ‖ address) under ``version`` (default:
        the current key)."""
        key = self.keys[self.current_version if version is None else version]
        data = channel.encode("utf-8") + b"\x00" + address.encode("utf-8")
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def thread_hashes(self, channel: str, address: str) -> list[tuple[int, str]]:
        """(version, hash) under every kept key, the current one first."""
        return [(v, self.thread_hash(channel, address, v)) for v in self.versions]

    def seen_mark(self, provider: str, message_id: str, version: int | None = None) -> str:
        """The replay mark of a provider's message id (HMAC, so the stored mark does not
        give the provider's id away)."""
        key = self.keys[self.current_version if version is None else version]
        data = b"seen\x00" + provider.encode("utf-8") + b"\x00" + message_id.encode("utf-8")
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def seen_marks(self, provider: str, message_id: str) -> list[str]:
        return [self.seen_mark(provider, message_id, v) for v in self.versions]

    @classmethod
    def load(cls, config: Config) -> ThreadKeys:
        # The systemd credential of the same name first, when there is one.
        return cls.read(config.secret_file(THREAD_KEYS_NAME))

    @classmethod
    def read(cls, path: Path) -> ThreadKeys:
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError as exc:
            raise ConfigError(
                f"{path} is missing: run `sesim channel-keys init` to make the channel keys"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the thread key file {path}") from exc
        keys: dict[int, bytes] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            match = _KEY_LINE.match(line)
            if not match or int(match.group(1)) in keys:
                # Never the line itself: it holds a key.
                raise ConfigError(f"{path}, line {number}: not a 'v<version> <64 hex>' key line")
            keys[int(match.group(1))] = bytes.fromhex(match.group(2))
        return cls(keys)

    def write(self, path: Path) -> None:
        """Replace the file atomically (a new 0600 file, then rename)."""
        lines = ["# Sesim thread keys: HMAC keys of the channels' thread hashes. Secret."]
        lines += [f"v{v} {self.keys[v].hex()}" for v in sorted(self.keys)]
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            with new_private_file(tmp, encoding="ascii") as fh:
                fh.write("\n".join(lines) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def rotated(self) -> ThreadKeys:
        """These keys plus a new current one."""
        return ThreadKeys({**self.keys, self.current_version + 1: secrets.token_bytes(32)})

    def retired(self) -> ThreadKeys:
        """The current key alone."""
        return ThreadKeys({self.current_version: self.keys[self.current_version]})


class ThreadKeyCache:
    """The thread keys of a running server, re-read when the file changes (so a
    rotation reaches the intake server without a restart)."""

    def __init__(self, config: Config) -> None:
        self._path = config.secret_file(THREAD_KEYS_NAME)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys: ThreadKeys | None = None

    def get(self) -> ThreadKeys:
        try:
            st = os.stat(self._path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if self._keys is None or stamp != self._stamp:
                self._keys = ThreadKeys.read(self._path)
                self._stamp = stamp
            return self._keys


def make_thread_keys(config: Config) -> bool:
    """Write a first thread key unless there is one; True if written."""
    path = thread_keys_path(config)
    if path.exists():
        return False
    ThreadKeys({1: secrets.token_bytes(32)}).write(path)
    return True


def rotate_thread_key(config: Config) -> int:
    """Add a new current thread key; returns its version."""
    keys = ThreadKeys.load(config).rotated()
    keys.write(thread_keys_path(config))
    return keys.current_version


def retire_thread_keys(config: Config) -> list[int]:
    """Keep only the current thread key; returns the versions dropped. The caller
    deletes the threads still under them (see :func:`models.delete_threads_not_under`)."""
    keys = ThreadKeys.load(config)
    dropped = [v for v in keys.versions if v != keys.current_version]
    if dropped:
        keys.retired().write(thread_keys_path(config))
    return dropped


# -- the channel key -----------------------------------------------------------------------


def make_channel_keys(config: Config) -> bool:
    """Make the channel key pair unless there is one; True if made. A half-made pair
    (one file without the other) is an error: the administrator decides."""
    public, private = channel_public_path(config), channel_private_path(config)
    if public.exists() and private.exists():
        return False
    if public.exists() or private.exists():
        raise ConfigError(
            f"only one of {public} and {private} exists: restore the other, or remove "
            "both to make a new pair (what was sealed to the old one is then lost)"
        )
    key = PrivateKey.generate()
    write_private_key_file(
        private, key, comment="Səsim channel key: read by the intake server only. Secret."
    )
    write_public_key_file(public, key.public_key, comment="Səsim channel public key")
    return True


def has_channel_key(config: Config) -> bool:
    return channel_public_path(config).exists()


def channel_public_key(config: Config) -> PublicKey:
    path = channel_public_path(config)
    if not path.exists():
        raise ConfigError(f"{path} is missing: run `sesim channel-keys init`")
    try:
        return read_public_key_file(path)
    except Exception as exc:  # CryptoError: a damaged file
        raise ConfigError(f"cannot read the channel public key {path}") from exc


def channel_private_key(config: Config) -> PrivateKey:
    # The systemd credential of the same name first, when there is one.
    path = config.secret_file(CHANNEL_PRIVATE_NAME)
    if not path.exists():
        raise ConfigError(f"{path} is missing: run `sesim channel-keys init`")
    try:
        return read_private_key_file(path)
    except Exception as exc:  # CryptoError: a damaged file; never its content
        raise ConfigError(f"cannot read the channel private key {path}") from exc


# -- what the pages show ---------------------------------------------------------------------


@dataclass(frozen=True)
class PublicChannels:
    """How to reach the Legal Centre on each channel; "" when not offered."""

    sms_number: str = ""
    email: str = ""
    messenger_url: str = ""
    x_handle: str = ""

    @property
    def any(self) -> bool:
        return bool(self.sms_number or self.email or self.messenger_url or self.x_handle)


_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$")
_MESSENGER = re.compile(
    r"^https://(m\.me|www\.messenger\.com|messenger\.com)/[A-Za-z0-9._/-]{1,200}$"
)
_X_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")


def public_channels(config: Config) -> PublicChannels:
    """``[intake.public]`` of config.toml, checked (ConfigError naming the field)."""
    intake = config.extra.get("intake", {})
    if not isinstance(intake, dict):
        raise ConfigError("[intake] in config.toml must be a table")
    raw = intake.get("public", {})
    if not isinstance(raw, dict):
        raise ConfigError("[intake.public] in config.toml must be a table")
    known = {"sms_number", "email", "messenger_url", "x_handle"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"[intake.public]: unknown key(s) {', '.join(unknown)}"
            f" (known: {', '.join(sorted(known))})"
        )
    values: dict[str, str] = {}
    for key in sorted(known):
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise ConfigError(f"[intake.public] {key} must be a string")
        values[key] = value.strip()
    sms = values["sms_number"].replace(" ", "")
    if sms and not _E164.match(sms):
        raise ConfigError(
            "[intake.public] sms_number must be an international number such as +994501234567"
        )
    email = values["email"]
    if email and not _EMAIL.match(email):
        raise ConfigError(
            "[intake.public] email must be an e-mail address such as report@example.org"
        )
    messenger = values["messenger_url"]
    if messenger and not _MESSENGER.match(messenger):
        raise ConfigError(
            "[intake.public] messenger_url must be an https://m.me/… link to the page"
        )
    handle = values["x_handle"].removeprefix("@")
    if values["x_handle"] and not _X_HANDLE.match(handle):
        raise ConfigError(
            "[intake.public] x_handle must be an X user name (letters, digits, _; at most 15)"
        )
    return PublicChannels(sms_number=sms, email=email, messenger_url=messenger, x_handle=handle)
