"""The map's own instance: a folder (mode 0700) holding

- ``publication.verify``: the workstation's publication verify key (copied at init, in
  the workstation's own text form; the only key the map holds, and it is public);
- ``map.toml``: the site settings (below, with their defaults);
- ``map.sqlite3``: the database (``store``);
- ``build-requested``: made by each ingest that applies a bundle (empty): the static site
  (``sesim map build``) is out of date. Nothing here reads it; a deployment may watch
  for it (the ansible role's ``sesim-map-build.path``), delete it and rebuild.

``map.toml`` (every key optional; an unknown key is an error so a typo is not ignored)::

    [site]
    onion = ""      # the source interface's v3 onion address (56 characters, .onion,
                    # optionally with http://), for "how to report safely"
    sms = ""        # an SMS number that takes reports (digits, +, spaces, -, ( ))
    email = ""      # an e-mail address that takes reports
    messenger_url = ""    # a Facebook Messenger link that takes reports (https://m.me/…)
    x_handle = ""   # an X (Twitter) account that takes direct messages (letters, digits, _)
    pgp_fingerprint = ""  # the e-mail's OpenPGP key fingerprint (40 hex digits, spaces ok)
    tile_url = ""   # a tile server URL template; empty: offline district basemap only
    quick_exit = "https://www.google.az/"   # where "Quick exit" goes: an https URL

    [[help]]        # hotlines and services, one table each, shown in this order
    name = "…"
    phone = "…"     # optional: a phone number (shown as a tel: link)
    url = "…"       # optional: an http(s) URL

    [legal_centre]  # the Legal Centre's name in each language, as in the instance's
    az = "…"        # config.toml (securedrop_like.config.parse_centre_names: all three,
    ru = "…"        # no quotation marks; English as it reads after "the");
    en = "…"        # default Hüquq Mərkəzi / Юридический центр / Legal Centre

Every value is checked when the map opens (``sesim serve map`` refuses to start with a
clear error): a v3 onion address with the right checksum, an e-mail address, phone
numbers of 3 to 15 digits, https for the quick exit, http(s) URLs elsewhere.

An OpenPGP key for encrypted e-mail may sit beside ``map.toml`` as ``pgp-key.asc`` (the
instance's ``pgp-public.asc``, ASCII-armoured): it is served at ``/pgp-key.asc`` and
must have the fingerprint ``pgp_fingerprint`` gives (checked at start, so the page never
shows one key's fingerprint beside another key).

No hotline is listed by default: a wrong number is worse than none, so the operator
writes the list for her city.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crypto import CryptoError, is_onion_address
from securedrop_like.bundles import BundleError
from securedrop_like.bundles.publication import read_verify_key_file, verify_key_text
from securedrop_like.config import DEFAULT_CENTRE_NAMES, ConfigError, parse_centre_names
from securedrop_like.pgp_key import fingerprint_of

from . import store

CONFIG_FILE = "map.toml"
VERIFY_KEY_FILE = "publication.verify"
BUILD_REQUEST_FILE = "build-requested"
_SITE_KEYS = (
    "onion", "sms", "email", "messenger_url", "x_handle", "pgp_fingerprint", "tile_url",
    "quick_exit",
)  # fmt: skip
PGP_KEY_FILE = "pgp-key.asc"
_MAX_PGP_KEY_BYTES = 64 * 1024
_HELP_KEYS = ("name", "phone", "url")
_MAX_SETTING_CHARS = 500

DEFAULT_CONFIG = """\
# Səsim public map: site settings. Every key is optional; restart `sesim serve map`
# after an edit. See public_map/instance.py for what each one does.

[site]
onion = ""      # the source interface's onion address (…onion), for "how to report"
sms = ""        # an SMS number that takes reports
email = ""      # an e-mail address that takes reports
messenger_url = ""    # a Facebook Messenger link that takes reports (https://m.me/…)
x_handle = ""   # an X (Twitter) account that takes direct messages, without the @
pgp_fingerprint = ""  # the OpenPGP key's fingerprint for e-mail (40 hex digits); put
                      # the key itself beside this file as pgp-key.asc
tile_url = ""   # a tile server URL template; empty: the offline district basemap only
quick_exit = "https://www.google.az/"   # where "Quick exit" takes her (an https URL)

# The Legal Centre's name in each language, the same as in the instance's config.toml
# (all three; no quotation marks; English as it reads after "the").
# [legal_centre]
# az = "Hüquq Mərkəzi"
# ru = "Юридический центр"
# en = "Legal Centre"

# Hotlines and services, shown in this order on "where to get help". None by default:
# list the ones you know to be right for Baku today.
# [[help]]
# name = "…"
# phone = "+994 …"   # optional
# url = "https://…"  # optional
"""
DEFAULT_QUICK_EXIT = "https://www.google.az/"


class MapError(Exception):
    """Anything wrong with a map instance, with a message fit to show an administrator."""


@dataclass(frozen=True)
class HelpLine:
    name: str
    phone: str = ""
    url: str = ""

    @property
    def tel_url(self) -> str:
        return f"tel:{tel_digits(self.phone)}" if self.phone else ""


def tel_digits(number: str) -> str:
    """A phone number as a ``tel:``/``sms:`` link wants it: digits, with a leading + if
    it had one (``+994 (12) 345-67-89`` -> ``+994123456789``)."""
    digits = "".join(c for c in number if c.isdigit())
    return ("+" + digits) if number.lstrip().startswith("+") else digits


@dataclass(frozen=True)
class SiteSettings:
    onion: str = ""
    sms: str = ""
    email: str = ""
    messenger_url: str = ""
    x_handle: str = ""
    pgp_fingerprint: str = ""  # 40 hex digits, upper-case, no spaces
    tile_url: str = ""
    quick_exit: str = DEFAULT_QUICK_EXIT
    help: tuple[HelpLine, ...] = field(default_factory=tuple)
    legal_centre: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_CENTRE_NAMES), hash=False
    )

    @property
    def onion_url(self) -> str:
        """The onion address as a link (``http://….onion/``), or "" when not set."""
        return f"http://{self.onion}/" if self.onion else ""

    @property
    def sms_url(self) -> str:
        return f"sms:{tel_digits(self.sms)}" if self.sms else ""

    @property
    def email_url(self) -> str:
        return f"mailto:{self.email}" if self.email else ""

    @property
    def x_url(self) -> str:
        return f"https://x.com/{self.x_handle}" if self.x_handle else ""

    @property
    def pgp_fingerprint_grouped(self) -> str:
        """In groups of four, as OpenPGP programs show it."""
        found = self.pgp_fingerprint
        return " ".join(found[i : i + 4] for i in range(0, len(found), 4))


@dataclass(frozen=True)
class MapInstance:
    """An opened map folder."""

    home: Path
    verify_key: bytes
    settings: SiteSettings
    pgp_key: str = ""  # the armoured OpenPGP key (pgp-key.asc), "" without one

    @property
    def verify_key_text(self) -> str:
        return verify_key_text(self.verify_key)

    @property
    def db_path(self) -> Path:
        return self.home / store.DB_FILE


def init_map(home: Path, verify_key_file: Path) -> MapInstance:
    """Make a new map folder at ``home`` (which must not exist or be empty) for the
    workstation whose ``publication.verify`` file is ``verify_key_file``."""
    home = Path(home)
    try:
        raw = read_verify_key_file(Path(verify_key_file))
    except BundleError as exc:
        raise MapError(str(exc)) from None
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise MapError(f"{home} exists and is not an empty folder")
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(home, 0o700)
        text = verify_key_text(raw)
        (home / VERIFY_KEY_FILE).write_text(
            f"# Səsim publication verify key (copied from {Path(verify_key_file).name})\n{text}\n",
            "utf-8",
        )
        (home / CONFIG_FILE).write_text(DEFAULT_CONFIG, "utf-8")
        store.create(home / store.DB_FILE, text)
    except OSError as exc:
        raise MapError(f"cannot make the map folder {home}: {exc.strerror or exc}") from None
    return open_map(home)


def open_map(home: Path) -> MapInstance:
    """Open an existing map folder; MapError if it is not one."""
    home = Path(home)
    if not (home / store.DB_FILE).is_file():
        raise MapError(f"{home} is not a map folder (make one with `sesim map init`)")
    try:
        raw = read_verify_key_file(home / VERIFY_KEY_FILE)
    except BundleError as exc:
        raise MapError(str(exc)) from None
    settings = load_settings(home / CONFIG_FILE)
    instance = MapInstance(home, raw, settings, load_pgp_key(home / PGP_KEY_FILE, settings))
    conn = store.connect(instance.db_path)
    try:
        keys = [row[0] for row in conn.execute("SELECT verify_key FROM chain")]
    except sqlite3.Error as exc:
        raise MapError(f"cannot read the map database: {exc}") from None
    finally:
        conn.close()
    if keys != [instance.verify_key_text]:
        # A map follows one workstation's chain; another key would start a second chain
        # from sequence 1 beside the first. Make a new map for a new key.
        raise MapError(
            f"{home / VERIFY_KEY_FILE} is not the key this map was made with: a map follows"
            " one workstation's chain (make a new map folder for another key)"
        )
    return instance


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_SETTING_CHARS:
        raise MapError(f"{CONFIG_FILE}: {where} must be text of at most {_MAX_SETTING_CHARS}")
    if not value.isprintable():
        raise MapError(f"{CONFIG_FILE}: {where} holds a control character")
    return value.strip()


_X_HANDLE = re.compile(r"@?([A-Za-z0-9_]{1,15})")
_HEX40 = re.compile(r"[0-9A-F]{40}")


def openpgp_fingerprint(armoured: str) -> str:
    """The v4 fingerprint (40 hex, upper-case) of the first key in an ASCII-armoured
    OpenPGP public key block, as the instance computes it; ValueError if it is not one."""
    try:
        return fingerprint_of(armoured)
    except CryptoError as exc:
        raise ValueError(f"is not a usable OpenPGP public key ({exc})") from None


def load_pgp_key(path: Path, settings: SiteSettings) -> str:
    """The armoured key beside map.toml, checked against ``site.pgp_fingerprint``; ""
    when there is no such file."""
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_PGP_KEY_BYTES + 1)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise MapError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > _MAX_PGP_KEY_BYTES:
        raise MapError(f"{PGP_KEY_FILE} is larger than {_MAX_PGP_KEY_BYTES} bytes")
    try:
        text = data.decode("ascii")
        fingerprint = openpgp_fingerprint(text)
    except UnicodeDecodeError:
        raise MapError(f"{PGP_KEY_FILE} is not an ASCII-armoured OpenPGP key") from None
    except ValueError as exc:
        raise MapError(f"{PGP_KEY_FILE} {exc}") from None
    if not settings.pgp_fingerprint:
        raise MapError(
            f"{PGP_KEY_FILE} is here but {CONFIG_FILE} has no site.pgp_fingerprint: write"
            f" the key's fingerprint there ({fingerprint}) after checking it with the"
            " workstation"
        )
    if fingerprint != settings.pgp_fingerprint:
        raise MapError(
            f"{PGP_KEY_FILE} has the fingerprint {fingerprint}, not site.pgp_fingerprint"
            f" {settings.pgp_fingerprint}: the page would show one key beside another"
        )
    return text


_PHONE = re.compile(r"\+?[0-9 ()\-]+")
_EMAIL = re.compile(
    r"[A-Za-z0-9._+\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_ONION = re.compile(r"(?:https?://)?([a-z2-7]{56}\.onion)/?", re.IGNORECASE)
_TILE_PLACES = ("{z}", "{x}", "{y}")
#: The placeholders Leaflet fills in a tile URL (any other makes it throw).
TILE_PLACEHOLDERS = ("{s}", "{z}", "{x}", "{y}", "{r}")
#: What ``{s}`` becomes (Leaflet's default ``subdomains``): one CSP origin each.
TILE_SUBDOMAINS = "abc"
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_NETLOC = re.compile(r"([^:]*)(?::([0-9]{1,5}))?")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def tile_origins(tile_url: str) -> tuple[str, ...]:
    """The origins a tile URL template loads from (the map page's CSP ``img-src``):
    ``scheme://host[:port]``, one per subdomain when ``{s}`` is a label of the host;
    never a wildcard. ValueError (its reason, to follow "site.tile_url") if the template
    is not one Leaflet and a browser's CSP both take: ``{s}``, ``{z}``, ``{x}``, ``{y}``,
    ``{r}`` the only placeholders, an ASCII host name (IDNA for another script) or an
    IPv4 address, a port of digits."""
    unknown = sorted({p for p in _PLACEHOLDER.findall(tile_url) if p not in TILE_PLACEHOLDERS})
    if unknown or "{" in _PLACEHOLDER.sub("", tile_url) or "}" in _PLACEHOLDER.sub("", tile_url):
        raise ValueError(
            "may hold only the placeholders {s}, {z}, {x}, {y} and {r}"
            + (f" (not {', '.join(unknown)})" if unknown else "")
        )
    if not all(place in tile_url for place in _TILE_PLACES):
        raise ValueError("must hold {z}, {x} and {y}")
    parts = urlsplit(tile_url)
    found = _NETLOC.fullmatch(parts.netloc)
    if (
        parts.scheme not in ("https", "http")
        or found is None
        or not 0 < int(found.group(2) or 1) < 65536
    ):
        raise ValueError("must start scheme://host or scheme://host:port (a number)")
    host, port = found.group(1), found.group(2)
    if not host.isascii():
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_host = "its IDNA (xn--…) form"
        raise ValueError(f"must have an ASCII host name: write {ascii_host} instead of {host}")
    labels = host.split(".")
    if not all(label == "{s}" or _LABEL.fullmatch(label) for label in labels) or (
        "{s}" in labels and len(labels) < 3
    ):
        raise ValueError(
            "must name one host (letters, digits, hyphens and dots; {s} only as a whole"
            " label of a longer name, e.g. {s}.tile.example.org)"
        )
    hosts = [host.replace("{s}", sub) for sub in TILE_SUBDOMAINS] if "{s}" in labels else [host]
    return tuple(f"{parts.scheme}://{h.lower()}" + (f":{port}" if port else "") for h in hosts)


def _phone(value: str, where: str) -> str:
    digits = sum(c.isdigit() for c in value)
    if not _PHONE.fullmatch(value) or not 3 <= digits <= 15:
        raise MapError(
            f"{CONFIG_FILE}: {where} must be a phone number (3 to 15 digits; only +, spaces,"
            f" hyphens and brackets besides), not {value!r}"
        )
    return value


def _url(value: str, where: str, schemes: tuple[str, ...] = ("https", "http")) -> str:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
    if (
        not host
        or parts.scheme not in schemes
        or parts.username is not None
        or any(c.isspace() or c in '"<>\\' for c in value)
    ):
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise MapError(f"{CONFIG_FILE}: {where} must be a URL starting {wanted}, not {value!r}")
    return value


def _site_value(name: str, value: str) -> str:
    where = f"site.{name}"
    if value == "" and name != "quick_exit":
        return value
    if name == "onion":
        found = _ONION.fullmatch(value)
        address = found.group(1).lower() if found else ""
        if not is_onion_address(address):
            raise MapError(
                f"{CONFIG_FILE}: {where} must be a v3 onion address (56 letters and digits,"
                f" then .onion, optionally after http://) with the right checksum, not {value!r}"
            )
        return address
    if name == "sms":
        return _phone(value, where)
    if name == "email":
        if not _EMAIL.fullmatch(value) or len(value) > 254:
            raise MapError(f"{CONFIG_FILE}: {where} must be an e-mail address, not {value!r}")
        return value
    if name == "messenger_url":
        return _url(value, where, ("https",))
    if name == "x_handle":
        found = _X_HANDLE.fullmatch(value)
        if not found:
            raise MapError(
                f"{CONFIG_FILE}: {where} must be an X account name (1 to 15 letters, digits"
                f" or _, optionally after @), not {value!r}"
            )
        return found.group(1)
    if name == "pgp_fingerprint":
        compact = "".join(value.split()).upper()
        if not _HEX40.fullmatch(compact):
            raise MapError(
                f"{CONFIG_FILE}: {where} must be an OpenPGP fingerprint (40 hex digits,"
                f" spaces allowed), not {value!r}"
            )
        return compact
    if name == "quick_exit":
        return _url(value, where, ("https",))
    if name == "tile_url":
        _url(value, where)
        try:
            tile_origins(value)
        except ValueError as exc:
            raise MapError(f"{CONFIG_FILE}: {where} {exc} (it is {value!r})") from None
        return value
    return value


def load_settings(path: Path) -> SiteSettings:
    """Read ``map.toml``; the defaults where it is missing."""
    if not path.exists():
        return SiteSettings()
    try:
        doc: dict[str, Any] = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MapError(f"cannot read {path}: {exc}") from None
    unknown = set(doc) - {"site", "help", "legal_centre"}
    if unknown:
        raise MapError(f"{CONFIG_FILE}: unknown section {sorted(unknown)[0]!r}")
    site = doc.get("site", {})
    if not isinstance(site, dict) or set(site) - set(_SITE_KEYS):
        raise MapError(f"{CONFIG_FILE}: [site] takes only {', '.join(_SITE_KEYS)}")
    helps = doc.get("help", [])
    if not isinstance(helps, list):
        raise MapError(f"{CONFIG_FILE}: help must be [[help]] tables")
    lines = []
    for number, item in enumerate(helps, 1):
        if not isinstance(item, dict) or set(item) - set(_HELP_KEYS) or "name" not in item:
            raise MapError(f"{CONFIG_FILE}: help #{number} takes name and optional phone, url")
        values = {k: _text(v, f"help #{number} {k}") for k, v in item.items()}
        if not values["name"]:
            raise MapError(f"{CONFIG_FILE}: help #{number} needs a name")
        if values.get("phone"):
            _phone(values["phone"], f"help #{number} phone")
        if values.get("url"):
            _url(values["url"], f"help #{number} url")
        lines.append(HelpLine(**values))
    values = {k: _site_value(k, _text(v, f"site.{k}")) for k, v in site.items()}
    try:
        centre = parse_centre_names(doc.get("legal_centre"), f"{CONFIG_FILE}: [legal_centre]")
    except ConfigError as exc:
        raise MapError(str(exc)) from None
    return SiteSettings(**values, help=tuple(lines), legal_centre=centre)
