"""The Azerbaijani and Russian codename word lists: their rules, entropy, the
generator's determinism and log-in across lists, layouts and diacritics."""

from __future__ import annotations

import importlib.util
import math
import random
import sys
from pathlib import Path

import pytest

from securedrop_like import codenames
from securedrop_like.codenames import (
    LANGUAGES,
    WORDS_PER_CODENAME,
    generate_codename,
    load_wordlist,
    normalise,
    unknown_words,
)

ROOT = Path(__file__).resolve().parents[3]


def _load_build():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("words_build", ROOT / "scripts/words/build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["words_build"] = module
    spec.loader.exec_module(module)
    return module


build = _load_build()
LISTS = {lang: load_wordlist(lang) for lang in LANGUAGES}


# --- the generator ---------------------------------------------------------------------


def test_generator_is_deterministic_and_the_committed_lists_are_its_output(tmp_path: Path) -> None:
    assert build.main(["--out", str(tmp_path), "--quiet"]) == 0
    for name in build.FILENAMES.values():
        assert (tmp_path / name).read_bytes() == (codenames.WORDLIST_DIR / name).read_bytes()


def test_header_states_each_rule_count_and_the_entropy() -> None:
    for built in build.build_all():
        text = build.render(built)
        for name, count in built.counts:
            assert f"{count:>6,}  {name}" in text
        size, per = len(built.words), WORDS_PER_CODENAME[built.lang]
        assert f"{size:,} words; {per} words a codename" in text
        assert codenames.WORDLIST_SIZES[built.lang] == len(built.words)


def test_sources_and_licences_are_in_the_project() -> None:
    for name in (
        "LICENSE.az-lang-nlp.Apache-2.0.txt",
        "LICENSE.AzeLexicon.MIT.txt",
        "LICENSE.python-mnemonic.MIT.txt",
    ):
        assert (codenames.WORDLIST_DIR / name).is_file()
        assert (build.SOURCES / name).is_file()
    readme = (codenames.WORDLIST_DIR / "README.md").read_text(encoding="utf-8")
    top = (ROOT / "README.md").read_text(encoding="utf-8")
    for lang, name in build.FILENAMES.items():
        size, per = len(LISTS[lang]), WORDS_PER_CODENAME[lang]
        bits = per * math.log2(size)
        row = f"| `{name}` | {size:,} | {per} | {bits:.1f} bits (log2({size}) x {per}) |"
        assert row in readme
        assert f"{per} words from our" in top and f"{size:,}\n  words, {bits:.1f} bits" in top


# --- every rule holds on the lists, and each can fail ------------------------------------


@pytest.mark.parametrize("lang", ["az", "ru"])
def test_lists_obey_the_rules(lang: str) -> None:
    words = LISTS[lang]
    letters = build.AZ_LETTERS if lang == "az" else build.RU_LETTERS
    exclusions = build.parse_exclusions((build.HERE / "exclusions.txt").read_text(encoding="utf-8"))
    names = build.proper_noun_set()
    folded = [normalise(w) for w in words]
    assert len(set(folded)) == len(words)
    assert all(build.has_length(w) and build.on_keyboard(w, letters) for w in words)
    assert not any(exclusions.category(w) for w in words)
    assert not any(f in names for f in folded)
    spacing = build.Spacing()
    for f in folded:
        assert spacing.conflict(f) is None
        spacing.keep(f)


def test_az_has_no_w_and_ru_keyboard_letters() -> None:
    assert not any("w" in w for w in LISTS["az"])
    assert not build.on_keyboard("şwarma", build.AZ_LETTERS)
    assert build.on_keyboard("şəkər", build.AZ_LETTERS)
    assert not build.on_keyboard("ўлица", build.RU_LETTERS)


def test_rules_reject_violating_words() -> None:
    assert not build.has_length("ev") and not build.has_length("qarışqalar")
    assert build.within_one_edit("almaz", "alman")  # substitution
    assert build.within_one_edit("kitab", "kitabı")  # insertion
    assert build.within_one_edit("qapı", "qpaı")  # neighbours swapped
    assert not build.within_one_edit("qapı", "qaya")
    spacing = build.Spacing()
    spacing.keep(normalise("şəkər"))
    assert spacing.conflict(normalise("səkər")) == "one_edit"  # same once folded
    assert spacing.conflict(normalise("şəkərli")) == "prefix"
    assert spacing.conflict(normalise("şək")) == "prefix"
    assert spacing.conflict(normalise("kitab")) is None
    assert not build.ru_noun_or_adjective("бросить", frozenset())
    assert not build.ru_noun_or_adjective("быстро", frozenset({"быстро"}))
    assert build.ru_noun_or_adjective("окно", frozenset({"быстро"}))


def test_exclusions_catch_stems_inflections_and_words_typed_without_diacritics() -> None:
    ex = build.parse_exclusions("[violent]\nöldür* qan\n[upsetting]\nсмерт*\n")
    assert ex.category("öldürmə") == "violent"
    assert ex.category("oldurucu") == "violent"  # no diacritics
    assert ex.category("qan") == "violent" and ex.category("qanad") is None
    assert ex.category("смертный") == "upsetting"
    real = build.parse_exclusions((build.HERE / "exclusions.txt").read_text(encoding="utf-8"))
    for word in (
        "zorakılıq",
        "cəza",
        "ölüm",
        "polis",
        "həbsxana",
        "qanlı",
        "utanc",
        "sinə",
        "насилие",
        "наказание",
        "смерть",
        "полиция",
        "тюрьма",
        "кровь",
        "позор",
        "грудь",
    ):
        assert real.category(word), word
    with pytest.raises(ValueError):
        build.parse_exclusions("öldür*\n")
    with pytest.raises(ValueError):
        build.parse_exclusions("[nice]\nalma\n")


def test_no_word_is_in_two_lists_once_folded() -> None:
    sets = {lang: {normalise(w) for w in words} for lang, words in LISTS.items()}
    assert not sets["az"] & sets["en"]
    assert not sets["ru"] & sets["en"]
    assert not sets["ru"] & sets["az"]


# --- entropy and generation -----------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_entropy_is_at_least_84_bits(lang: str) -> None:
    assert math.log2(len(LISTS[lang])) * WORDS_PER_CODENAME[lang] >= 84
    assert WORDS_PER_CODENAME[lang] == build.codename_words(len(LISTS[lang])) or lang == "en"


def test_codename_words_is_the_fewest_that_reach_84_bits() -> None:
    assert build.codename_words(4096) == 7
    assert build.codename_words(2048) == 8
    assert build.codename_words(1400) == 9


@pytest.mark.parametrize("lang", LANGUAGES)
def test_codename_is_generated_in_the_page_language(lang: str) -> None:
    rng = random.Random(7)
    for _ in range(50):
        words = generate_codename(rng, lang=lang).split(" ")
        assert len(words) == WORDS_PER_CODENAME[lang]
        assert set(words) <= set(LISTS[lang])
        assert unknown_words(" ".join(words)) == []


def test_unknown_language_gets_english() -> None:
    assert set(generate_codename(random.Random(1), lang="de").split()) <= set(LISTS["en"])
    assert generate_codename(random.Random(1)) == generate_codename(random.Random(1), lang="en")


# --- normalisation across layouts, diacritics and case --------------------------------------

AZ_PLAIN = str.maketrans("əğıöüşçƏĞIİÖÜŞÇ", "egiousceGIIOUSC")


def test_az_codename_typed_without_diacritics_or_in_capitals_matches() -> None:
    rng = random.Random(3)
    for _ in range(100):
        codename = generate_codename(rng, lang="az")
        variants = [
            codename.translate(AZ_PLAIN),
            codename.upper(),  # Python's upper: i -> I, ı -> I
            codename.replace("i", "İ").replace("ı", "I").upper(),  # az keyboard capitals
            "  " + codename.replace(" ", "   ") + "\n",
            codename.replace(" ", "-"),
        ]
        for typed in variants:
            assert normalise(typed) == normalise(codename)


def test_ru_codename_with_yo_short_i_capitals_and_spaces_matches() -> None:
    assert normalise("ЁЛКА Йод") == normalise("елка иод")
    rng = random.Random(4)
    for _ in range(100):
        codename = generate_codename(rng, lang="ru")
        for typed in (codename.upper(), codename.title(), " " + codename.replace(" ", "\t ") + " "):
            assert normalise(typed) == normalise(codename)


def test_az_folded_forms_are_ascii_and_ru_keeps_cyrillic() -> None:
    assert normalise("Şəkər ÇÖRƏK") == "sekercorek"
    assert normalise("Море гвоздь") == "mopeгboздь"


# --- old English codenames keep logging in ----------------------------------------------------

# Captured with the code before the az and ru lists were added.
OLD_EFF = [
    (
        "craving puzzle fester agreeable skied unlinked clavicle",
        "cravingpuzzlefesteragreeableskiedunlinkedclavicle",
    ),
    (
        "upper ninetieth doormat paralegal doorframe afford facedown",
        "upperninetiethdoormatparalegaldoorframeaffordfacedown",
    ),
    ("Yo-Yo T-SHIRT ƏBACUS bısçüİt", "yoyotshirtebacusbiscuit"),
    ("васкрасk соsmiс тасо ваsкет уеаsт сhеек ВАТСН", "backpackcosmictacobasketyeastcheekbatch"),
    (
        "  REATTACH shaping\tcourier—yen isotope ambition mournful ",
        "reattachshapingcourieryenisotopeambitionmournful",
    ),
]
# sha256 over every EFF word's normalised form as typed, in capitals and with
# Cyrillic look-alikes for a e i o s c (same capture).
OLD_EFF_DIGEST = "0cf3d6721a4623fa90668ec5710160a0d3d97ddb72ee121b9944e9e04228948a"


def test_old_eff_codenames_normalise_byte_for_byte_as_before() -> None:
    import hashlib

    for typed, expected in OLD_EFF:
        assert normalise(typed) == expected
    look = str.maketrans("aeiosc", "аеіоѕс")
    text = "\n".join(
        normalise(w) + "|" + normalise(w.upper()) + "|" + normalise(w.translate(look))
        for w in LISTS["en"]
    )
    assert hashlib.sha256(text.encode()).hexdigest() == OLD_EFF_DIGEST


def test_az_words_are_tagged_nouns_or_adjectives_and_lower_case_headwords() -> None:
    tags = {}
    for line in (build.SOURCES / "az_stems_az-lang-nlp_13k.txt").read_text("utf-8").splitlines():
        if line:
            tags[line[1:]] = line[0]
    heads = set((build.SOURCES / "az_words_AzeLexicon_86k.txt").read_text("utf-8").split())
    for word in LISTS["az"]:
        assert tags[word] in "NA", word
        assert word in heads, word


def test_proper_nouns_and_place_names_are_out() -> None:
    names = build.proper_noun_set()
    for name in ("Bakı", "BAKI", "Səbail", "Nəsimi", "İsmayıllı", "Москва", "Россия", "Azərbaycan"):
        assert normalise(build.az_lower(name)) in names, name
    assert build.az_lower("İSMAYILLI") == "ismayıllı"
    unreviewed = {"abbas", "abdulla", "abdullah", "allah", "bakı", "hitler", "qarabağ", "namaz"}
    assert not unreviewed & set(LISTS["az"])
