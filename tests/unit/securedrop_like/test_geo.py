"""Baku's districts: bundled data, stable codes, names and attribution."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import Babel, LazyString, force_locale  # type: ignore[import-untyped, unused-ignore]

from securedrop_like import geo
from securedrop_like.geo import (
    ATTRIBUTION,
    GEOJSON_PATH,
    ONLINE,
    ONLINE_LABEL,
    District,
    az_sort_key,
    district_by_code,
    load_districts,
    location_codes,
    parse_districts,
)

# Pinned: these codes are stored in reports and published. A data update that
# changes one must be a deliberate migration, not a side effect.
EXPECTED_CODES = {
    "binagady",
    "karadag",
    "khatay",
    "khazar",
    "narimanov",
    "nasimi",
    "nizami",
    "pirallahi",
    "sabail",
    "sabunchu",
    "surakhany",
    "yasamal",
}


def test_there_are_exactly_twelve_districts() -> None:
    assert len(load_districts()) == 12


def test_codes_are_the_pinned_unique_ascii_codes() -> None:
    found = [district.code for district in load_districts()]
    assert len(set(found)) == len(found)
    assert set(found) == EXPECTED_CODES
    assert all(code.isascii() and code.isalpha() and code.islower() for code in found)


@pytest.mark.parametrize("district", load_districts(), ids=lambda d: d.code)
def test_names_exist_in_all_three_languages(district: District) -> None:
    for locale in ("az", "ru", "en"):
        assert district.name(locale).strip()
    assert district.name("az") == district.name_az
    assert district.name("ru_RU") == district.name_ru
    assert district.name("ru-RU") == district.name_ru
    assert district.name("fr") == district.name_en


def test_azerbaijani_names_use_azerbaijani_letters() -> None:
    names = {district.name_az for district in load_districts()}
    assert {"Nəsimi", "Nərimanov", "Səbail", "Xətai", "Qaradağ", "Sabunçu"} <= names
    assert sum("ə" in name for name in names) >= 5
    russian = {district.name_ru for district in load_districts()}
    assert all(re.fullmatch(r"[А-Яа-яЁё -]+", name) for name in russian)


def test_districts_are_in_azerbaijani_alphabetical_order() -> None:
    assert [district.name_az for district in load_districts()] == [
        "Binəqədi",
        "Xətai",
        "Xəzər",
        "Qaradağ",
        "Nərimanov",
        "Nəsimi",
        "Nizami",
        "Pirallahı",
        "Sabunçu",
        "Səbail",
        "Suraxanı",
        "Yasamal",
    ]


def test_az_sort_key_handles_dotted_and_dotless_i() -> None:
    words = ["İlham", "Ismayıllı", "Həyat", "Xəzər", "ip"]
    assert sorted(words, key=az_sort_key) == ["Həyat", "Xəzər", "Ismayıllı", "İlham", "ip"]


def test_wikidata_ids_are_kept_where_the_data_has_them() -> None:
    ids = {district.code: district.wikidata for district in load_districts()}
    assert ids["nasimi"] == "Q4313899"
    assert ids["narimanov"] is None  # derived boundary, no Wikidata item in the source
    assert all(re.fullmatch(r"Q\d+", qid) for qid in ids.values() if qid is not None)


def test_district_by_code() -> None:
    assert district_by_code("nasimi").name_az == "Nəsimi"
    with pytest.raises(KeyError):
        district_by_code(ONLINE)
    with pytest.raises(KeyError):
        district_by_code("Nasimi")


def test_online_is_a_location_but_not_a_district() -> None:
    assert location_codes() == EXPECTED_CODES | {ONLINE}
    assert isinstance(ONLINE_LABEL, LazyString)
    app = Flask(__name__)
    Babel(app)
    with app.app_context(), force_locale("en"):
        assert str(ONLINE_LABEL).strip()


def test_attribution_text_and_file_ship_with_the_data() -> None:
    assert ATTRIBUTION == "Boundaries © OpenStreetMap contributors (ODbL); coastline: Natural Earth"
    readme = GEOJSON_PATH.parent / "README.md"
    assert ATTRIBUTION in readme.read_text(encoding="utf-8")
    assert GEOJSON_PATH.is_relative_to(Path(geo.__file__).parent)  # inside the package


def test_damaged_data_is_refused() -> None:
    data = json.loads(GEOJSON_PATH.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1]
    with pytest.raises(RuntimeError):
        parse_districts(json.dumps(data))
    data = json.loads(GEOJSON_PATH.read_text(encoding="utf-8"))
    data["features"][0]["properties"]["name_ru"] = ""
    with pytest.raises(RuntimeError):
        parse_districts(json.dumps(data))


# -- alphabetical order in the page's language (no ICU on the servers) --------------------


@pytest.mark.parametrize(
    "ordered",
    [
        ["cəm", "çay", "dağ"],  # ç after c
        ["ev", "əl", "fal"],  # ə after e
        ["gül", "ğır", "hal"],  # ğ after g
        ["hal", "xal", "ılıq", "ilk", "jurnal"],  # x after h; ı before i
        ["kal", "qal", "lal"],  # q after k
        ["ov", "ön", "pal"],  # ö after o
        ["sal", "şal", "tal"],  # ş after s
        ["un", "üz", "var"],  # ü after u
        ["Ilıq", "İlk"],  # capital I is ı, capital İ is i
    ],
)
def test_azerbaijani_order(ordered: list[str]) -> None:
    assert sorted(reversed(ordered), key=lambda w: geo.sort_key(w, "az")) == ordered


def test_russian_order_puts_yo_after_ye_not_after_ya() -> None:
    ordered = ["ель", "ёж", "жук", "яма"]
    assert sorted(reversed(ordered), key=lambda w: geo.sort_key(w, "ru")) == ordered
    assert sorted(["Ёлка", "Ель", "Жук"], key=lambda w: geo.sort_key(w, "ru_RU")) == [
        "Ель",
        "Ёлка",
        "Жук",
    ]


EXPECTED_ORDER = {
    "az": [
        "Binəqədi",
        "Xətai",
        "Xəzər",
        "Qaradağ",
        "Nərimanov",
        "Nəsimi",
        "Nizami",
        "Pirallahı",
        "Sabunçu",
        "Səbail",
        "Suraxanı",
        "Yasamal",
    ],
    "ru": [
        "Бинагадинский район",
        "Гарадагский район",
        "Наримановский район",
        "Насиминский район",
        "Низаминский район",
        "Пираллахинский район",
        "Сабаильский район",
        "Сабунчинский район",
        "Сураханский район",
        "Хазарский район",
        "Хатаинский район",
        "Ясамальский район",
    ],
    "en": [
        "Binagady Raion",
        "Karadag Raion",
        "Khatay Raion",
        "Khazar Raion",
        "Narimanov Raion",
        "Nasimi Raion",
        "Nizami Raion",
        "Pirallahi Raion",
        "Sabail Raion",
        "Sabunchu Raion",
        "Surakhany Raion",
        "Yasamal Raion",
    ],
}


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_districts_in_the_alphabetical_order_of_the_language(lang: str) -> None:
    assert [d.name(lang) for d in geo.districts_in(lang)] == EXPECTED_ORDER[lang]
