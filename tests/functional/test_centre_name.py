"""The Legal Centre's name: one setting ([legal_centre] az/ru/en in config.toml and in
the map's map.toml), shown by each app in the page's language wherever a page names the
centre, and written in no translation. Also pins the reviewed harassment-type wording
(review of December 2026, shared/reviews/translations-az-ru.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask

from journalist_interface import create_app as create_staff_app
from journalist_interface.accounts import StaffAccounts
from public_map.app import create_app as create_map_app
from public_map.instance import MapError, init_map, load_settings
from securedrop_like.config import (
    CONFIG_NAME,
    DEFAULT_CENTRE_NAMES,
    Config,
    ConfigError,
    load_config,
    parse_centre_names,
)
from securedrop_like.db import Database
from source_interface import create_app as create_source_app
from tests.conftest import Instance
from tests.unit.public_map.chain import write_verify_file

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "securedrop_like" / "translations"
# A name unlike any default, per language, so a page showing it can only have read it
# from the setting.
NAMES = {"az": "Qadın Hüquqları Klinikası", "ru": "Клиника прав женщин", "en": "Women's Law Clinic"}
TABLE = "\n[legal_centre]\n" + "".join(f'{lang} = "{name}"\n' for lang, name in NAMES.items())


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture(autouse=True)
def no_sesim_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SESIM_") and name != "SESIM_TESTING_ALLOW_WEAK_KDF":
            monkeypatch.delenv(name)


# --- the setting ---------------------------------------------------------------------


def test_default_names_one_centre_in_every_language(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text("", "utf-8")
    config = load_config(tmp_path)
    assert config.legal_centre == DEFAULT_CENTRE_NAMES
    assert DEFAULT_CENTRE_NAMES == {
        "az": "Hüquq Mərkəzi",
        "ru": "Юридический центр",
        "en": "Legal Centre",
    }
    assert [config.centre_name(lang) for lang in ("az", "ru", "en")] == [
        "Hüquq Mərkəzi",
        "Юридический центр",
        "Legal Centre",
    ]
    assert Config(home=tmp_path).legal_centre == DEFAULT_CENTRE_NAMES
    hash(config)  # the table must not make the frozen settings unhashable


def test_config_toml_names_the_centre_per_language(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text('instance_name = "Səsim"\n' + TABLE, "utf-8")
    config = load_config(tmp_path)
    assert config.legal_centre == NAMES
    assert "legal_centre" not in config.extra
    assert config.centre_name("ru") == "Клиника прав женщин"
    assert config.centre_name("xx") == NAMES["az"]  # another language: the default one's


def test_spaces_in_a_name_are_tidied() -> None:
    names = parse_centre_names({"az": "  Hüquq \t Mərkəzi ", "ru": "Центр", "en": "Centre"})
    assert names["az"] == "Hüquq Mərkəzi"


@pytest.mark.parametrize(
    "table, says",
    [
        ('legal_centre = "Legal Centre"', "must be a table"),
        ('[legal_centre]\naz = "A"\nru = "B"', "missing: en"),
        ('[legal_centre]\naz = "A"\nru = "B"\nen = "C"\nde = "D"', "not 'de'"),
        ('[legal_centre]\naz = ""\nru = "B"\nen = "C"', "az must be a name"),
        ('[legal_centre]\naz = 5\nru = "B"\nen = "C"', "az must be a name"),
        ('[legal_centre]\naz = "A"\nru = "«Центр»"\nen = "C"', "quotation marks"),
        ('[legal_centre]\naz = "A"\nru = "B"\nen = "a \\"b\\""', "quotation marks"),
        ('[legal_centre]\naz = "A\\u0007"\nru = "B"\nen = "C"', "printable"),
        (f'[legal_centre]\naz = "{"x" * 81}"\nru = "B"\nen = "C"', "at most 80"),
    ],
)
def test_a_bad_table_is_refused_with_a_clear_error(tmp_path: Path, table: str, says: str) -> None:
    (tmp_path / CONFIG_NAME).write_text(table + "\n", "utf-8")
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_config(tmp_path)


def test_map_toml_takes_the_same_table(tmp_path: Path) -> None:
    path = tmp_path / "map.toml"
    path.write_text('[site]\nsms = "+994 50 123 45 67"\n' + TABLE, "utf-8")
    assert load_settings(path).legal_centre == NAMES
    path.write_text("[site]\n", "utf-8")
    assert load_settings(path).legal_centre == DEFAULT_CENTRE_NAMES
    path.write_text('[legal_centre]\naz = "A"\n', "utf-8")
    with pytest.raises(MapError, match=r"map\.toml: \[legal_centre\] must name the centre"):
        load_settings(path)


# --- each app shows it, in az, ru and en ---------------------------------------------


@pytest.fixture
def named_instance(instance: Instance) -> Config:
    path = instance.home / CONFIG_NAME
    path.write_text(path.read_text("utf-8") + TABLE, "utf-8")
    return load_config(instance.home)


@pytest.fixture
def source_app(named_instance: Config) -> Iterator[Flask]:
    app = create_source_app(named_instance, TESTING=True)
    yield app
    app.extensions["sesim"].service.close()


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_the_source_start_page_names_the_configured_centre(source_app: Flask, lang: str) -> None:
    client = source_app.test_client()
    client.get(f"/lang/{lang}")
    page = _text(client.get("/").get_data(as_text=True))
    assert NAMES[lang] in page
    for other in set(NAMES) - {lang}:
        assert NAMES[other] not in page
    for default in DEFAULT_CENTRE_NAMES.values():
        assert default not in page
    lawyers = {
        "az": f"{NAMES['az']} hüquqşünasları hər müraciəti oxuyur.",
        "ru": f"Каждое обращение читают юристы организации «{NAMES['ru']}».",
        "en": f"Lawyers of the {NAMES['en']} read every report.",
    }
    assert lawyers[lang] in page


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_the_staff_log_in_page_names_the_configured_centre(
    named_instance: Config, lang: str
) -> None:
    accounts = StaffAccounts(
        Database.for_config(named_instance), opslimit=1, memlimit=8 * 1024 * 1024
    )
    client = create_staff_app(named_instance, accounts=accounts, TESTING=True).test_client()
    client.get(f"/lang/{lang}")
    page = client.get("/login").get_data(as_text=True)
    assert f'lang="{lang}"' in page
    assert unescape(re.search(r"<title>([^<]*)</title>", page).group(1)).endswith(  # type: ignore[union-attr]
        f"— {NAMES[lang]}"
    )
    assert NAMES[lang] in _text(page)
    assert "Legal Centre" not in page


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_the_map_about_page_names_the_centre_from_map_toml(tmp_path: Path, lang: str) -> None:
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    (home / "map.toml").write_text(TABLE, "utf-8")
    client = create_map_app(home).test_client()
    url = "/about/" if lang == "az" else f"/{lang}/about/"
    page = _text(client.get(url).get_data(as_text=True))
    reviewers = {
        "az": f"{NAMES['az']} rəyçiləri hər müraciəti",
        "ru": f"Рецензенты организации «{NAMES['ru']}» читают",
        "en": f"Reviewers of the {NAMES['en']} read each report",
    }
    assert reviewers[lang] in page
    for default in DEFAULT_CENTRE_NAMES.values():
        assert default not in page


def test_the_map_uses_the_defaults_without_a_table(tmp_path: Path) -> None:
    home = tmp_path / "map"
    init_map(home, write_verify_file(tmp_path / "publication.verify"))
    page = _text(create_map_app(home).test_client().get("/ru/about/").get_data(as_text=True))
    assert "Рецензенты организации «Юридический центр» читают" in page


# --- no translation holds a name ------------------------------------------------------

# The names the catalogues used to spell out (and the defaults), in any case form. Case
# matters: "xidmət mərkəzində" (a service centre) is no Legal Centre.
OLD_NAMES = re.compile(
    r"[Ll]egal [Cc]ent(re|er)|Hüquq\w* (Yardım )?Mərkəz|Mərkəz(i|in|ə|indən|dən)\b"
    r"|[Юю]ридическ\w+ центр"
)


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_no_message_spells_out_the_centre_name(lang: str) -> None:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    found = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found += [text for text in (*ids, *strings) if text and OLD_NAMES.search(text)]
        if any("%(centre)s" in i for i in ids):  # the name is there, as the placeholder
            assert all("%(centre)s" in s for s in strings if s), message.id
    assert found == []


# --- the reviewed harassment types -------------------------------------------------------


@pytest.mark.parametrize(
    "lang, present, absent",
    [
        (
            "az",
            [
                "Kimsə siz istəmədiyiniz halda sizə toxunub və ya bədənini sizə sıxıb.",
                "arxanızca fit çalıb və ya söz atıb.",
                "İsrarlı baxışlar, nalayiq jestlər",
            ],
            ["sıxılıb", "səslənib"],
        ),
        (
            "ru",
            [
                "Сексуальные замечания, шутки или выкрики вслед",
                "Пристальные взгляды, непристойные жесты или обнажение перед вами",
                "свистел или кричал вам вслед.",
            ],
            ["намёки", "окликал", "Взгляды, жесты или обнажение"],
        ),
    ],
)
def test_the_report_form_shows_the_reviewed_harassment_types(
    source_app: Flask, lang: str, present: list[str], absent: list[str]
) -> None:
    client = source_app.test_client()
    client.get(f"/lang/{lang}")
    page = _text(client.get("/report").get_data(as_text=True))
    for text in present:
        assert text in page
    for text in absent:
        assert text not in page


def test_sextortion_asks_about_an_exam_grade_not_a_price() -> None:
    with (TRANSLATIONS / "az" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="az")
    message = catalog.get(
        "Someone asked for sex or a sexual act in exchange for a service, a document, a job,"
        " a grade or a favour."
    )
    assert message is not None
    assert "imtahan qiyməti" in message.string
    assert "cinsi xarakterli hərəkət" in message.string
