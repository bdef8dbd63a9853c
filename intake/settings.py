"""The intake server's settings: ``[intake]`` of config.toml (not secret, read from
``config.extra["intake"]``) and ``secrets/intake.toml`` (0600, flat keys), read like
every secret of the core: the systemd credential ``$CREDENTIALS_DIRECTORY/intake.toml``
first when there is one (``Config.secret_file``), else the instance's file.

A provider is enabled when its table ``[intake.<provider>]`` is present. Each
enabled provider's channel module checks its own table and the secrets it needs
(``load_settings``); this module checks what is common: the join window, the
public URL, that no outbound address is plain http:// beyond this computer, that
the secrets file is its owner's alone, and that every enabled provider has a
module.
"""

from __future__ import annotations

import importlib
import stat
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from securedrop_like.config import CREDENTIALS_ENV, Config, ConfigError
from securedrop_like.intake_store import PROVIDERS

from .base import check_api_base

#: The channel modules, imported by name (each may not exist yet in a checkout).
MODULES = ("intake.sms", "intake.email", "intake.messenger", "intake.x")
SECRETS_NAME = "intake.toml"
DEFAULT_JOIN_WINDOW = 90.0
DEFAULT_OUTBOX_MAX_DAYS = 7  # a queued message older than this many days is deleted
#: Tables of [intake] that are not providers (read by others: the pages, the core).
NOT_PROVIDERS = frozenset({"public"})
TOP_KEYS = frozenset({"join_window_seconds", "public_url", "outbox_max_days"})
#: Keys of a provider's table that name an outbound address (checked here for all).
URL_KEYS = ("api_base", "send_url")


@dataclass(frozen=True)
class IntakeSettings:
    join_window_seconds: float = DEFAULT_JOIN_WINDOW
    public_url: str = ""
    # provider -> its module's settings object (enabled providers only)
    providers: dict[str, Any] = field(default_factory=dict)
    # provider -> the module that serves it
    modules: dict[str, ModuleType] = field(default_factory=dict)
    outbox_max_days: int = DEFAULT_OUTBOX_MAX_DAYS


def load_modules(names: Iterable[str] | None = None) -> list[ModuleType]:
    """The channel modules that exist (one not written yet is left out; one that
    fails to import for another reason is an error). Default: :data:`MODULES`."""
    found = []
    for name in MODULES if names is None else names:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return found


def secrets_path(config: Config) -> Path:
    """Where the intake secrets are read from: the systemd credential
    ``$CREDENTIALS_DIRECTORY/intake.toml`` when it is there, else
    ``secrets/intake.toml`` of the instance (which may not exist)."""
    return config.secret_file(SECRETS_NAME)


def _check_mode(config: Config, path: Path, mode: int) -> None:
    """The instance's file must be its owner's alone (0600 or stricter). A systemd
    credential lies in a folder only the unit can enter, read-only (0400, or 0440
    when systemd grants a user through an ACL, whose mask shows as group bits):
    there only a file others may read is refused."""
    if path.parent == config.secrets_dir:
        if mode & 0o077:
            raise ConfigError(
                f"secrets/{SECRETS_NAME} must be readable by its owner only (chmod 600)"
            )
    elif mode & 0o007:
        raise ConfigError(
            f"the credential ${CREDENTIALS_ENV}/{SECRETS_NAME} ({path}) must not be "
            "readable by others"
        )


def read_secrets(config: Config) -> dict[str, str]:
    """The intake secrets (flat ``key = "value"``) from :func:`secrets_path`, or {} if
    there are none. A file others can read, or one that is not flat text values, is a
    ConfigError that names keys at most, never values."""
    path = secrets_path(config)
    where = (
        f"secrets/{SECRETS_NAME}"
        if path.parent == config.secrets_dir
        else f"${CREDENTIALS_ENV}/{SECRETS_NAME}"
    )
    try:
        info = path.stat()
    except FileNotFoundError:
        return {}
    _check_mode(config, path, stat.S_IMODE(info.st_mode))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # The parser's message can quote a line (a secret): say where, not what.
        raise ConfigError(f"{where} is not valid TOML ({type(exc).__name__})") from None
    for key, value in data.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key!r} must be a text value")
    return dict(data)


def intake_section(config: Config) -> dict[str, Any]:
    section = config.extra.get("intake", {})
    if not isinstance(section, dict):
        raise ConfigError("[intake] must be a table")
    return section


def enabled_providers(config: Config) -> list[str]:
    """The providers whose ``[intake.<provider>]`` table is present."""
    return [k for k, v in intake_section(config).items() if isinstance(v, dict) and k in PROVIDERS]


def load_settings(config: Config, modules: Sequence[ModuleType] | None = None) -> IntakeSettings:
    """Every enabled provider's settings, checked by its module."""
    section = intake_section(config)
    mods = load_modules() if modules is None else list(modules)
    serving: dict[str, ModuleType] = {}
    for module in mods:
        for provider in getattr(module, "PROVIDERS", ()):
            serving[provider] = module
    window = section.get("join_window_seconds", DEFAULT_JOIN_WINDOW)
    if isinstance(window, bool) or not isinstance(window, int | float) or not 0 <= window <= 86400:
        raise ConfigError("[intake] join_window_seconds must be a number of seconds (0 to 86400)")
    max_days = section.get("outbox_max_days", DEFAULT_OUTBOX_MAX_DAYS)
    if isinstance(max_days, bool) or not isinstance(max_days, int) or not 1 <= max_days <= 365:
        raise ConfigError("[intake] outbox_max_days must be a whole number of days (1 to 365)")
    public_url = section.get("public_url", "")
    if public_url:
        public_url = check_api_base(public_url, "[intake] public_url")
    secrets: dict[str, str] | None = None
    providers: dict[str, Any] = {}
    modules_of: dict[str, ModuleType] = {}
    for key, value in section.items():
        if not isinstance(value, dict):
            if key not in TOP_KEYS:
                raise ConfigError(f"[intake] has an unknown setting {key!r}")
            continue
        if key in NOT_PROVIDERS:
            continue
        if key not in PROVIDERS:
            raise ConfigError(
                f"[intake.{key}] is not a provider (known: {', '.join(sorted(PROVIDERS))})"
            )
        if key not in serving:
            raise ConfigError(f"[intake.{key}] is enabled but no channel module serves it")
        for url_key in URL_KEYS:
            if url_key in value:
                check_api_base(value[url_key], f"[intake.{key}] {url_key}")
        module = serving[key]
        if secrets is None:
            secrets = read_secrets(config)
        providers[key] = module.load_settings(key, dict(value), dict(secrets))
        modules_of[key] = module
    return IntakeSettings(float(window), public_url, providers, modules_of, max_days)
