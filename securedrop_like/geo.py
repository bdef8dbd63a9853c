"""Baku's twelve districts (raions), the coarsest place a report can name.

A woman chooses a district, or :data:`ONLINE`, rather than an address:
districts are large enough that naming one does not point at her, yet
useful on the public map. Names come in Azerbaijani, Russian and English
from the bundled OpenStreetMap extract (``data/geo/baku_raions.geojson``);
they are proper names, so they come from the data rather than from the
message catalogues.

Any page or export that shows these boundaries must show :data:`ATTRIBUTION`
(ODbL requires it; see ``data/geo/README.md``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _l

GEOJSON_PATH = Path(__file__).parent / "data" / "geo" / "baku_raions.geojson"
ATTRIBUTION = "Boundaries © OpenStreetMap contributors (ODbL); coastline: Natural Earth"
DISTRICT_COUNT = 12

# A place code for harassment by phone, messenger or social media, which has
# no district. It shares the namespace of district codes, so no district may
# ever be coded "online".
ONLINE = "online"
ONLINE_LABEL = _l("Online or by phone")

# The Azerbaijani Latin alphabet in dictionary order (x after h, q after k).
AZ_ALPHABET = "abcçdeəfgğhxıijkqlmnoöprsştuüvyz"
_AZ_INDEX = {letter: index for index, letter in enumerate(AZ_ALPHABET)}


def az_sort_key(text: str) -> tuple[int, ...]:
    """Sort key for Azerbaijani text: "Xətai" before "Qaradağ" before "Nərimanov".

    Python's own ordering puts ə, ç, ş ... after z and x after q. Characters
    outside the alphabet sort after it, by code point.
    """
    # Azerbaijani casing: I is the capital of ı and İ of i; str.lower() gets
    # both wrong ("İ" would become "i" plus a combining dot).
    lowered = text.replace("I", "ı").replace("İ", "i").lower()
    return tuple(_AZ_INDEX.get(ch, len(AZ_ALPHABET) + ord(ch)) for ch in lowered)


# The Russian alphabet in dictionary order: code points put ё after я.
RU_ALPHABET = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_RU_INDEX = {letter: index for index, letter in enumerate(RU_ALPHABET)}


def ru_sort_key(text: str) -> tuple[int, ...]:
    """Sort key for Russian text in alphabet order (ё right after е, not after я).

    Characters outside the alphabet sort after it, by code point.
    """
    return tuple(_RU_INDEX.get(ch, len(RU_ALPHABET) + ord(ch)) for ch in text.lower())


def sort_key(text: str, locale: str) -> tuple[int, ...]:
    """Sort key for ``text`` in the alphabet of ``locale`` ("az", "ru"; else code points,
    case ignored). Written out rather than taken from ICU, which the servers do not have."""
    language = locale.replace("-", "_").split("_")[0].lower()
    if language == "az":
        return az_sort_key(text)
    if language == "ru":
        return ru_sort_key(text)
    return tuple(ord(ch) for ch in text.casefold())


@dataclass(frozen=True)
class District:
    """One raion. ``code`` is a stable ASCII identifier stored in reports and open data."""

    code: str
    name_az: str
    name_ru: str
    name_en: str
    # None for Nərimanov: its boundary is derived from the Baku City relation
    # and the source data gives it no Wikidata item.
    wikidata: str | None

    def name(self, locale: str) -> str:
        """The name in ``locale`` ("az", "ru", "en", or e.g. "ru_RU"); English otherwise."""
        language = locale.replace("-", "_").split("_")[0].lower()
        names = {"az": self.name_az, "ru": self.name_ru, "en": self.name_en}
        return names.get(language, self.name_en)


def _code_from_english(name_en: str) -> str:
    # "Binagady Raion" -> "binagady". These codes end up in published data:
    # tests pin all twelve, so a changed spelling in a future data export
    # fails loudly instead of silently renaming a district.
    base = name_en.removesuffix(" Raion").strip().lower()
    return "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in base)


def parse_districts(geojson: str) -> tuple[District, ...]:
    """Districts from the GeoJSON text, sorted by Azerbaijani name.

    Raises :class:`RuntimeError` unless there are exactly twelve, with
    names in all three languages and distinct ASCII codes.
    """
    features = json.loads(geojson)["features"]
    districts: list[District] = []
    for feature in features:
        props = feature["properties"]
        names = [str(props.get(key) or "").strip() for key in ("name_az", "name_ru", "name_en")]
        if not all(names):
            raise RuntimeError(f"district without a name in every language: {props!r}")
        wikidata = props.get("wikidata")
        districts.append(
            District(
                code=_code_from_english(names[2]),
                name_az=names[0],
                name_ru=names[1],
                name_en=names[2],
                wikidata=str(wikidata) if wikidata else None,
            )
        )
    found = {district.code for district in districts}
    if len(districts) != DISTRICT_COUNT or len(found) != DISTRICT_COUNT or ONLINE in found:
        raise RuntimeError(f"expected {DISTRICT_COUNT} districts with distinct codes: {found}")
    return tuple(sorted(districts, key=lambda district: az_sort_key(district.name_az)))


@functools.cache
def load_districts() -> tuple[District, ...]:
    """The twelve districts, sorted by Azerbaijani name (read once, then cached)."""
    return parse_districts(GEOJSON_PATH.read_text(encoding="utf-8"))


def district_by_code(code: str) -> District:
    """The district with this code; :class:`KeyError` otherwise (also for :data:`ONLINE`)."""
    for district in load_districts():
        if district.code == code:
            return district
    raise KeyError(code)


def location_codes() -> frozenset[str]:
    """Every valid place code: the twelve districts and :data:`ONLINE`."""
    return frozenset(district.code for district in load_districts()) | {ONLINE}


def districts_in(locale: str) -> tuple[District, ...]:
    """The twelve districts in the alphabetical order of their names in ``locale``."""
    return tuple(sorted(load_districts(), key=lambda d: sort_key(d.name(locale), locale)))
