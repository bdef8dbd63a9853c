"""Instance configuration: a frozen dataclass read once from ``<home>/config.toml``.

An instance lives in one folder (``--home`` or ``$SESIM_HOME``)::

    config.toml           settings below (no secrets)
    secrets/db.key        32 random bytes, hex: the SQLCipher key (0600); on a deployed
                          server a systemd credential instead (see Config.secret_file)
    secrets/session.key   the itsdangerous secret for cookies and tokens (0600)
    secrets/salt          the instance salt for codename derivation (0600)
    secrets/kdf           the Argon2id settings pinned at init (see check_kdf)
    db.sqlite             SQLCipher database (metadata only)
    spool/                uploads being encrypted: anonymous (O_TMPFILE) files only
    store/                ciphertext files of versions before schema 3 (moved into
                          the database by migration 3, then removed)
    run/                  the writer's socket, session lock and derivation slots (0700)

Environment variables ``SESIM_<FIELD>`` (upper case) override the file, which
is how tests and the demo adjust a setting without editing it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crypto import is_onion_address, new_private_file

log = logging.getLogger(__name__)

CONFIG_NAME = "config.toml"
LOCALES = ("az", "ru", "en")
MAX_ANSWER_WITHIN_DAYS = 90
MAX_STATEMENT_CHARS = 500

# The Legal Centre's name in each language: ``[legal_centre]`` in config.toml (and
# in the map's map.toml), shown wherever a page names the centre. The messages
# take it as ``%(centre)s`` in the nominative (the glossary at the top of each
# .po file says how az and ru sentences keep it there), so no translation holds
# a name. English writes "the %(centre)s": give the English name as it reads
# after "the".
DEFAULT_CENTRE_NAMES: dict[str, str] = {
    "az": "Hüquq Mərkəzi",
    "ru": "Юридический центр",
    "en": "Legal Centre",
}
CENTRE_NAME_MAX_CHARS = 80


def parse_centre_names(raw: Any, where: str = "[legal_centre]") -> dict[str, str]:
    """The ``[legal_centre]`` table checked: a name for each of az, ru and en (one
    centre, named in every language, so no language is left with another name),
    each 1-80 printable characters without quotation marks (the ru and az texts
    put the name in «» where a sentence needs them). ConfigError otherwise."""
    if raw is None:
        return dict(DEFAULT_CENTRE_NAMES)
    if not isinstance(raw, dict):
        raise ConfigError(f'{where} must be a table: az = "…", ru = "…", en = "…"')
    unknown = sorted(set(raw) - set(LOCALES))
    if unknown:
        raise ConfigError(f"{where} takes only az, ru and en (not {unknown[0]!r})")
    missing = [lang for lang in LOCALES if lang not in raw]
    if missing:
        raise ConfigError(
            f"{where} must name the centre in az, ru and en (missing: {', '.join(missing)})"
        )
    names: dict[str, str] = {}
    for lang in LOCALES:
        value = raw[lang]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where} {lang} must be a name (text, not empty)")
        value = " ".join(value.split())
        if len(value) > CENTRE_NAME_MAX_CHARS or not value.isprintable():
            raise ConfigError(
                f"{where} {lang} must be at most {CENTRE_NAME_MAX_CHARS} printable characters"
            )
        if any(c in value for c in '"«»“”„'):
            raise ConfigError(f"{where} {lang} must not hold quotation marks: the pages add them")
        names[lang] = value
    return names


class ConfigError(Exception):
    """The instance folder is missing, incomplete or its settings are invalid."""


@dataclass(frozen=True)
class Config:
    """Every setting of an instance. Paths are derived from ``home``."""

    home: Path
    instance_name: str = "Səsim"
    default_locale: str = "az"
    # A neutral site the quick-exit link leads to; it must not reveal Səsim.
    quick_exit_url: str = "https://www.google.az/"
    # Argon2id cost for codenames; pinned at `sesim init` (secrets/kdf) since
    # changing it changes every source's lookup id; a server refuses to start
    # when these differ from the pin. See crypto.codename and check_kdf.
    argon2_opslimit: int = 3
    argon2_memlimit: int = 64 * 1024 * 1024
    # At most this many codename derivations run at once on the machine (each
    # holds argon2_memlimit of memory); at most max_waiting_derivations more
    # wait up to derivation_wait_seconds for one, and the rest get a
    # translated "busy" page at once rather than holding a server thread.
    max_concurrent_derivations: int = 2
    max_waiting_derivations: int = 4
    derivation_wait_seconds: float = 3.0
    max_file_bytes: int = 100 * 1024 * 1024
    max_request_bytes: int = 500 * 1024 * 1024
    max_text_chars: int = 100_000
    # Source sessions live in server memory only; these bound them.
    source_session_idle_minutes: int = 30
    source_session_absolute_minutes: int = 180
    max_sessions: int = 20_000
    # Staff sessions (the Legal Centre's interface).
    staff_session_idle_minutes: int = 30
    staff_session_absolute_minutes: int = 480
    # Ciphertexts up to this size are kept in their item's row; larger ones
    # are chunked rows of their own (blobs); see store.py.
    inline_ciphertext_bytes: int = 256 * 1024
    # VACUUM the database once a day, so its pages follow the random keys, not
    # arrival order. The writer process runs it at its first turn after 00:00
    # UTC (never because of a submission), with its temporary file in the
    # instance's private run/tmp folder. It rewrites the whole file (about
    # 30-50 MB/s here) while writes wait, and needs free disk space of twice
    # the database; set 0 only where that is too costly.
    daily_vacuum: int = 1  # 0: never
    # Above this size the daily VACUUM is skipped (logged once): writes would
    # wait for minutes. The day's arrival order then stays in the page order
    # until `sesim vacuum` is run by hand (see README).
    daily_vacuum_max_bytes: int = 2 * 1024**3
    # Seconds a worker waits for the writer process's answer; then the request
    # gets the "busy, try again" page (her text kept) and the command, if not
    # yet started, is dropped by the writer.
    writer_reply_timeout_seconds: float = 30.0
    # Server processes (0: one per core, at most 4) and threads in each. One
    # per core is the default: one process's GIL let 50 clients hammering the
    # log-in form slow the start page 4-15× on 2 cores, two processes 1.5×
    # (`make bench`, "50 log-ins on 2 slots"); the writer's single commit path
    # keeps writes correct whatever the number. `make bench` measures both shapes.
    server_workers: int = 0
    server_threads: int = 16
    # Seconds a client has to send a request's head (line and headers); then
    # the server closes the connection (securedrop_like/gunicorn_worker.py).
    server_head_timeout_seconds: float = 30.0
    onion_address: str = ""
    clearnet_url: str = ""
    # Tor (tor_config/). ``onion_address`` above is the source interface's
    # onion, ``clearnet_url`` its optional clearnet mirror (https://…); the
    # apps refuse any other Host. The staff onion needs client authorisation.
    staff_onion_address: str = ""
    tor_dir: str = ""  # where tor keeps its state and onion keys; "" is <home>/tor
    tor_control_port: int = 9051
    source_local_port: int = 8080  # where `sesim serve source` listens
    staff_local_port: int = 8081  # where `sesim serve staff` listens
    ssh_onion_port: int = 0  # a local sshd port to reach over an onion too; 0: none
    # Further Host names both apps answer under, comma-separated (`sesim demo
    # --tor` adds 127.0.0.1 beside its onions). Leave empty on a server.
    extra_hosts: str = ""
    # The Legal Centre's name per language ([legal_centre] az/ru/en; see
    # parse_centre_names). Not settable by a SESIM_* variable.
    legal_centre: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_CENTRE_NAMES), hash=False
    )
    # Shown to her where she decides (start page, codename page): how many days
    # she should expect to wait for a lawyer's first answer (1-90).
    answer_within_days: int = 3
    # The Legal Centre's promise never to go to the police or any other
    # authority without her consent, in each language. Empty: the project's
    # translated default sentence. Set all three if you set one: a page shows
    # the text of its own language only (see consent_statement()).
    consent_statement_az: str = ""
    consent_statement_ru: str = ""
    consent_statement_en: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def centre_name(self, lang: str) -> str:
        """The Legal Centre's name in ``lang`` (the default language's for another)."""
        return self.legal_centre.get(lang) or self.legal_centre[self.default_locale]

    @property
    def workers(self) -> int:
        if self.server_workers > 0:
            return self.server_workers
        return max(1, min(4, len(os.sched_getaffinity(0))))

    @property
    def tor_path(self) -> Path:
        # A relative tor_dir is inside the instance folder.
        return self.home / Path(self.tor_dir).expanduser() if self.tor_dir else self.home / "tor"

    @property
    def db_path(self) -> Path:
        return self.home / "db.sqlite"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def db_key_path(self) -> Path:
        return self.secrets_dir / "db.key"

    @property
    def session_key_path(self) -> Path:
        return self.secrets_dir / "session.key"

    @property
    def salt_path(self) -> Path:
        return self.secrets_dir / "salt"

    @property
    def store_dir(self) -> Path:
        """Legacy: where ciphertext files lived before schema 3 (see store.py)."""
        return self.home / "store"

    @property
    def spool_dir(self) -> Path:
        """Where uploads are encrypted, into files that have no name (O_TMPFILE)."""
        return self.home / "spool"

    @property
    def kdf_pin_path(self) -> Path:
        return self.secrets_dir / "kdf"

    def secret_file(self, name: str) -> Path:
        """Where the secret ``secrets/<name>`` is read from: the systemd credential
        ``$CREDENTIALS_DIRECTORY/<name>`` when that variable is set and the file is
        there, else the instance's own ``secrets/<name>`` (which may not exist)."""
        credential = credential_path(name)
        if credential is not None and credential.is_file():
            return credential
        return self.secrets_dir / name

    def read_secret(self, path: Path) -> bytes:
        """Read a hex-encoded secret file. For a file of ``secrets/`` the systemd
        credential of the same name comes first (see :meth:`secret_file`); when
        neither is there the error names both places. Never the content."""
        if path.parent == self.secrets_dir:
            source = self.secret_file(path.name)
            if not source.exists():
                raise ConfigError(missing_secret_message(self, path.name))
            path = source
        try:
            return bytes.fromhex(path.read_text().strip())
        except (OSError, ValueError) as exc:
            # Never the content: a ValueError of fromhex names no byte of it, but
            # say only what kind of failure it was.
            reason = exc.strerror if isinstance(exc, OSError) else "not hex"
            raise ConfigError(f"cannot read secret file {path.name} ({path}): {reason}") from exc

    def consent_statement(self, lang: str) -> str:
        """The configured consent statement for ``lang``; "" means the translated default."""
        if lang not in LOCALES:
            return ""
        return str(getattr(self, f"consent_statement_{lang}")).strip()

    def with_changes(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


# systemd puts a unit's credentials (LoadCredential=, LoadCredentialEncrypted=) in
# this folder and names it in this variable; the units of a deployed server get
# db.key that way (ansible/, issue 13), so the key need not lie beside the database.
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"


def credential_path(name: str) -> Path | None:
    """``$CREDENTIALS_DIRECTORY/<name>``, or None when the variable is not set."""
    folder = os.environ.get(CREDENTIALS_ENV)
    if not folder or not name or "/" in name or name in (".", ".."):
        return None
    return Path(folder) / name


def missing_secret_message(config: Config, name: str) -> str:
    """The error for a secret found in neither place, naming both."""
    folder = os.environ.get(CREDENTIALS_ENV)
    credential = (
        f"${CREDENTIALS_ENV}/{name} ({Path(folder) / name})"
        if folder
        else f"${CREDENTIALS_ENV}/{name} (the variable is not set)"
    )
    return (
        f"the secret {name} is missing: it is neither the systemd credential {credential} "
        f"nor the file {config.secrets_dir / name}"
    )


_SETTABLE = {
    f.name: f for f in dataclasses.fields(Config) if f.name not in ("home", "extra", "legal_centre")
}


def _coerce(name: str, value: Any) -> Any:
    kind = _SETTABLE[name].type
    if isinstance(value, bool):
        raise ConfigError(f"setting {name!r} has an invalid value")
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "str":
            return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r} has an invalid value") from exc
    raise ConfigError(f"setting {name!r} cannot be set")  # pragma: no cover


def resolve_home(home: str | os.PathLike[str] | None) -> Path:
    value = home or os.environ.get("SESIM_HOME")
    if not value:
        raise ConfigError("no instance folder: pass --home DIR or set SESIM_HOME")
    return Path(value).expanduser().resolve()


def load_config(home: str | os.PathLike[str] | None = None) -> Config:
    """Load ``config.toml`` from the instance folder, then ``SESIM_*`` overrides."""
    root = resolve_home(home)
    path = root / CONFIG_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{root} is not a Səsim instance (run `sesim init`)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    settings: dict[str, Any] = {"legal_centre": parse_centre_names(data.pop("legal_centre", None))}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SETTABLE:
            settings[key] = _coerce(key, value)
        else:
            extra[key] = value
    for key in _SETTABLE:
        env = os.environ.get(f"SESIM_{key.upper()}")
        if env is not None:
            settings[key] = _coerce(key, env)
    config = Config(home=root, extra=extra, **settings)
    validate(config)
    return config


def validate(config: Config) -> None:
    if config.default_locale not in LOCALES:
        raise ConfigError(f"default_locale must be one of {', '.join(LOCALES)}")
    if config.max_concurrent_derivations < 1:
        raise ConfigError("max_concurrent_derivations must be at least 1")
    if config.max_waiting_derivations < 0:
        raise ConfigError("max_waiting_derivations must not be negative")
    if not 0 < config.max_file_bytes <= config.max_request_bytes:
        raise ConfigError("max_file_bytes must be positive and at most max_request_bytes")
    positive = (
        "max_sessions",
        "source_session_idle_minutes",
        "source_session_absolute_minutes",
        "inline_ciphertext_bytes",
        "max_text_chars",
        "argon2_opslimit",
        "argon2_memlimit",
    )
    for name in positive:
        if getattr(config, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    if not 1 <= config.answer_within_days <= MAX_ANSWER_WITHIN_DAYS:
        raise ConfigError(
            f"answer_within_days must be a number of days from 1 to {MAX_ANSWER_WITHIN_DAYS}"
        )
    for lang in LOCALES:
        if len(config.consent_statement(lang)) > MAX_STATEMENT_CHARS:
            raise ConfigError(
                f"consent_statement_{lang} must be at most {MAX_STATEMENT_CHARS} characters"
            )
    if not config.quick_exit_url.startswith("https://"):
        raise ConfigError("quick_exit_url must be an https:// address")
    for name in ("onion_address", "staff_onion_address"):
        value = getattr(config, name)
        if value and not is_onion_address(value):
            raise ConfigError(f"{name} must be a v3 address: 56 letters and digits, then .onion")
    clearnet = config.clearnet_url
    if clearnet and not (clearnet.startswith("https://") and urlsplit(clearnet).hostname):
        raise ConfigError("clearnet_url must be an https:// address")
    if clearnet and not config.onion_address:
        raise ConfigError("clearnet_url needs onion_address: the mirror's banner points to it")
    for name in ("tor_control_port", "source_local_port", "staff_local_port", "ssh_onion_port"):
        if not 0 <= getattr(config, name) <= 65535:
            raise ConfigError(f"{name} must be a port number")


def render_toml(settings: dict[str, Any]) -> str:
    """Write a flat settings dict as TOML (strings, ints, floats only)."""
    lines = ["# Səsim instance settings. Secrets live in secrets/, never here.", ""]
    for key, value in settings.items():
        if isinstance(value, str):
            # A JSON string is a valid TOML basic string (same escapes, \uXXXX).
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        else:
            lines.append(f"{key} = {value!r}")
    return "\n".join(lines) + "\n"


def run_dir(config: Config) -> Path:
    """The instance's ``run/`` folder (mode 0700): the writer's socket, the slot files."""
    path = config.home / "run"
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def sqlite_tmp_dir(config: Config) -> Path:
    """``run/tmp`` (mode 0700): where SQLite puts a VACUUM's temporary file, not
    the system's /var/tmp, whose times a seized disk would show. Made when a
    writer starts, never during a request."""
    path = run_dir(config) / "tmp"
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


# --- The Argon2id settings, pinned at init ---------------------------------------------

ARGON2_FLOOR_OPSLIMIT = 3
ARGON2_FLOOR_MEMLIMIT = 64 * 1024 * 1024
# Honoured only so the test suite (tests/conftest.py) and `make bench` can use
# a cheap Argon2id. Nothing in securedrop_like, the apps or the CLI sets it.
TESTING_WEAK_KDF_ENV = "SESIM_TESTING_ALLOW_WEAK_KDF"
_KDF_KEYS = ("argon2_opslimit", "argon2_memlimit")


def effective_kdf(settings: dict[str, Any]) -> dict[str, int]:
    """The Argon2id settings a new instance gets: ``SESIM_*``, else given, else the default."""
    chosen: dict[str, int] = {}
    for key in _KDF_KEYS:
        env = os.environ.get(f"SESIM_{key.upper()}")
        value = env if env is not None else settings.get(key, _SETTABLE[key].default)
        chosen[key] = _coerce(key, value)
    return chosen


def weak_kdf_allowed() -> bool:
    return os.environ.get(TESTING_WEAK_KDF_ENV) == "1"


def warn_if_weak_kdf() -> bool:
    """Log at WARNING (a server calls it at every start) if the weak-KDF test
    flag is in effect: a stray variable in a unit file must not pass unseen."""
    if not weak_kdf_allowed():
        return False
    # Said without the variable's full name: the log filter (logs.py) takes any
    # 24-character word for an id.
    log.warning(
        "the Argon2id floor is OFF: the test-only variable SESIM_TESTING_*"
        " ALLOW_WEAK_KDF is 1; remove it on a real server"
    )
    return True


def check_kdf_floor(opslimit: int, memlimit: int) -> None:
    """Refuse Argon2id settings under the floor (64 MiB, 3 passes) outside tests."""
    if weak_kdf_allowed():
        return
    if opslimit < ARGON2_FLOOR_OPSLIMIT or memlimit < ARGON2_FLOOR_MEMLIMIT:
        raise ConfigError(
            f"the Argon2id settings (argon2_opslimit={opslimit}, argon2_memlimit={memlimit}) "
            f"are under the floor of {ARGON2_FLOOR_OPSLIMIT} passes and "
            f"{ARGON2_FLOOR_MEMLIMIT} bytes (64 MiB): codenames would be too cheap to guess"
        )


def read_kdf_pin(config: Config) -> tuple[int, int] | None:
    """The pinned (opslimit, memlimit), or None if this instance has no pin."""
    try:
        data = tomllib.loads(config.kdf_pin_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {config.kdf_pin_path}: {exc}") from exc
    try:
        ops, mem = (int(data[key]) for key in _KDF_KEYS)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{config.kdf_pin_path} does not hold both Argon2id settings") from exc
    return ops, mem


def write_kdf_pin(config: Config) -> None:
    """Pin the effective Argon2id settings; never overwrites a pin (O_EXCL, 0600)."""
    check_kdf_floor(config.argon2_opslimit, config.argon2_memlimit)
    text = render_toml({key: getattr(config, key) for key in _KDF_KEYS})
    try:
        with new_private_file(config.kdf_pin_path, encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError as exc:
        raise ConfigError(f"{config.kdf_pin_path} already pins the Argon2id settings") from exc


def check_kdf(config: Config) -> None:
    """Refuse to serve with Argon2id settings other than the pinned ones, or too weak.

    Every source's lookup id depends on these settings: a changed default or a
    stray ``SESIM_ARGON2_*`` variable would lock every source out (or make new
    codenames cheap to guess) without a word.
    """
    pinned = read_kdf_pin(config)
    effective = (config.argon2_opslimit, config.argon2_memlimit)
    if pinned is None:
        raise ConfigError(
            f"this instance has no pinned Argon2id settings ({config.kdf_pin_path} is missing). "
            f"If every codename of this instance was made with the current settings "
            f"(argon2_opslimit={effective[0]}, argon2_memlimit={effective[1]}), pin them with: "
            f"sesim pin-kdf --home {config.home}"
        )
    for key, want, got in zip(_KDF_KEYS, pinned, effective, strict=True):
        if want != got:
            raise ConfigError(
                f"{key} is {got} (from config.toml or SESIM_{key.upper()}) but this instance "
                f"was pinned to {want} at init ({config.kdf_pin_path}); every source's codename "
                f"depends on it. Remove the override or set {key} = {want} in config.toml."
            )
    check_kdf_floor(*effective)
