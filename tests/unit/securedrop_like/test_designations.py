"""Designation labels: the word table, labels, capitalisation, parse/matches."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securedrop_like import designations
from securedrop_like.designations import capitalise, label, load, matches, parse, words

LANGS = ("en", "ru", "az")
SCRIPTS = {"en": r"[a-z]+", "ru": r"[а-яё]+", "az": r"[a-zəğıöüşç]+"}

# Stems that must not begin any word, and whole words that must not appear.
# Prefix stems rather than substrings so that e.g. "warm" is not caught by "war".
BANNED_STEMS = {
    "en": ("sex", "rape", "kill", "dead", "blood", "broken", "silent", "naked", "girl", "woman"),
    "ru": ("секс", "смерт", "кров", "бог", "войн", "гол", "девуш", "женщ", "труп", "убий"),
    "az": ("seks", "ölü", "qan", "allah", "müharibə", "çılpaq", "qadın", "qız"),
}
BANNED_WORDS = {
    "en": ("gun", "god", "war", "lost", "baby", "weak", "dirty", "cold", "wounded"),
    "ru": ("бог", "голый", "мёртвый", "слабый", "грязный"),
    "az": ("qız", "qan", "ölü", "zəif", "çirkli"),
}
# Substrings banned anywhere (none of them occur inside an innocent word of the table).
BANNED_ANYWHERE = {
    "en": ("sex", "rape", "kill", "blood", "naked"),
    "ru": ("секс", "смерт", "кров", "войн", "девуш", "женщ"),
    "az": ("seks", "allah", "müharibə", "çılpaq", "qadın"),
}


def all_words(lang: str) -> tuple[str, ...]:
    table = load()
    return table.adjectives[lang] + table.nouns[lang]


def random_tokens(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(48):012x}" for _ in range(n)]


# -- the table -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_sixty_four_of_each_kind(lang: str) -> None:
    table = load()
    assert len(table.adjectives[lang]) == 64
    assert len(table.nouns[lang]) == 64


@pytest.mark.parametrize("lang", LANGS)
def test_words_unique_within_a_column(lang: str) -> None:
    everything = all_words(lang)
    assert len(set(everything)) == len(everything) == 128


@pytest.mark.parametrize("lang", LANGS)
def test_words_are_single_lowercase_words_in_their_script(lang: str) -> None:
    for word in all_words(lang):
        assert re.fullmatch(SCRIPTS[lang], word), word


def test_load_is_cached() -> None:
    assert load() is load()


def test_russian_adjectives_look_masculine() -> None:
    for word in load().adjectives["ru"]:
        assert word.endswith(("ый", "ий", "ой")), word


def test_russian_nouns_do_not_look_feminine_or_neuter() -> None:
    # Masculine nouns here end in a consonant, -й or -ь (лебедь, журавль, тополь).
    for word in load().nouns["ru"]:
        assert not word.endswith(("а", "я", "о", "е", "ё", "ы", "и")), word


@pytest.mark.parametrize("lang", LANGS)
def test_no_banned_words(lang: str) -> None:
    for word in all_words(lang):
        assert not word.startswith(BANNED_STEMS[lang]), word
        assert word not in BANNED_WORDS[lang], word
        assert not any(bad in word for bad in BANNED_ANYWHERE[lang]), word


def test_no_word_looks_like_a_suffix_and_words_name_one_concept() -> None:
    table = load()
    for lang in LANGS:
        for word in all_words(lang):
            assert not re.fullmatch(r"[0-9a-f]{4}", word), word
    assert all(len(ids) == 1 for ids in table.adjective_index.values())
    assert all(len(ids) == 1 for ids in table.noun_index.values())
    assert not set(table.adjective_index) & set(table.noun_index)


def test_malformed_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "words.tsv"
    path.write_text("# header\nadj\tamber\tянтарный\tkəhrəba\n", encoding="utf-8")
    with pytest.raises(ValueError, match="need 64"):
        designations._read(path)


def test_wrong_script_is_refused(tmp_path: Path) -> None:
    lines = [f"adj\ta{'x' * (i + 1)}\tа{'б' * (i + 1)}\tə{'x' * (i + 1)}" for i in range(64)]
    lines += [f"noun\tb{'x' * (i + 1)}\tв{'б' * (i + 1)}\tğ{'x' * (i + 1)}" for i in range(64)]
    lines[0] = "adj\tamber\tyantarny\tkəhrəba"  # Latin in the Russian column
    path = tmp_path / "words.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="plain lowercase ru"):
        designations._read(path)


# -- words and labels ------------------------------------------------------------------


def test_words_uses_the_token_bytes() -> None:
    table = load()
    adjective, noun, suffix = words("41c23f9a", "en")
    assert adjective == table.adjectives["en"][0x41 % 64]
    assert noun == table.nouns["en"][0xC2 % 64]
    assert suffix == "3f9a"


def test_example_concept_reads_the_same_in_every_language() -> None:
    assert label("00000000ab3f", "en") == "Amber lark · ab3f"
    assert label("00000000ab3f", "ru") == "Янтарный жаворонок · ab3f"
    assert label("00000000ab3f", "az") == "Kəhrəba torağay · ab3f"


@pytest.mark.parametrize("bad", ["", "abc", "xyz1", "+1ab", " 1ab", "12_3"])
def test_short_or_non_hex_tokens_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        words(bad, "en")


def test_unknown_language_falls_back_to_english() -> None:
    assert label("0a1b2c3d", "fr") == label("0a1b2c3d", "en")


def test_deterministic_and_same_suffix_everywhere() -> None:
    for token in random_tokens(200):
        labels = [label(token, lang) for lang in LANGS]
        assert labels == [label(token, lang) for lang in LANGS]
        assert {lab.rsplit(" ", 1)[1] for lab in labels} == {token[-4:]}


def test_same_concept_indices_in_every_language() -> None:
    table = load()
    for token in random_tokens(50):
        a, n, _ = words(token, "en")
        i, j = table.adjectives["en"].index(a), table.nouns["en"].index(n)
        for lang in LANGS:
            assert words(token, lang)[:2] == (table.adjectives[lang][i], table.nouns[lang][j])


# -- capitalisation --------------------------------------------------------------------


def test_azerbaijani_capitalisation() -> None:
    assert capitalise("ilıq", "az") == "İlıq"
    assert capitalise("ıssız", "az") == "Issız"
    assert capitalise("işıqlı", "az") == "İşıqlı"
    assert capitalise("şahin", "az") == "Şahin"
    assert capitalise("ilıq", "en") == "Ilıq"
    assert capitalise("ёлочный", "ru") == "Ёлочный"
    assert capitalise("", "az") == ""


def test_capitalise_only_touches_the_first_letter() -> None:
    assert capitalise("mIxed", "en") == "MIxed"
    assert "İlıq" in {label(t, "az").split()[0] for t in [f"{i:02x}00aaaa" for i in range(64)]}


def test_every_label_starts_with_a_capital() -> None:
    for lang in LANGS:
        for i in range(64):
            first = label(f"{i:02x}00beef", lang)[0]
            assert first.isupper(), (lang, i)


# -- parse and matches -----------------------------------------------------------------


def test_parse_normalises() -> None:
    assert parse("  Amber   LARK·3F9A ", "en") == "amber lark · 3f9a"
    assert parse("İLIQ torağay", "az") == "ilıq torağay"
    assert parse("Янтарный  Жаворонок", "ru") == "янтарный жаворонок"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "·", "x" * 101, "amber " * 20, "amber lark owl", "3f9a 3f9b", "lark amber oak"],
)
def test_parse_rejects(text: str) -> None:
    assert parse(text, "en") is None


def test_parse_rejects_over_long_even_if_valid() -> None:
    assert parse("amber lark" + " " * 95, "en") is None
    assert parse("amber lark" + " " * 90, "en") == "amber lark"


@pytest.mark.parametrize("lang", LANGS)
def test_round_trip_200_tokens(lang: str) -> None:
    for token in random_tokens(200, seed=LANGS.index(lang)):
        typed = label(token, lang)
        assert matches(token, typed, lang), (token, typed)
        other = f"{(int(token[-4:], 16) + 1) % 0x10000:04x}"
        assert not matches(token, typed.rsplit(" ", 1)[0] + " " + other, lang)


@settings(max_examples=200, deadline=None)
@given(token=st.binary(min_size=6, max_size=6).map(bytes.hex), lang=st.sampled_from(LANGS))
def test_round_trip_property(token: str, lang: str) -> None:
    typed = label(token, lang)
    assert matches(token, typed, lang)
    assert matches(token, typed.upper(), lang)
    assert matches(token, typed.split(" · ")[0], lang)
    adjective, noun, suffix = words(token, lang)
    assert matches(token, adjective, lang)
    assert matches(token, noun, lang)
    assert matches(token, suffix, lang)


def test_matches_semantics() -> None:
    token = "00000000ab3f"  # Amber lark · ab3f
    assert matches(token, "amber lark", "en")
    assert matches(token, "lark", "en")
    assert matches(token, "AB3F", "en")
    assert matches(token, "amber · ab3f", "en")
    assert not matches(token, "lark amber", "en")
    assert not matches(token, "silver lark", "en")
    assert not matches(token, "amber lark · ab30", "en")
    assert not matches(token, "amber owl", "en")
    assert not matches(token, "", "en")
    assert not matches("zz", "amber", "en")


def test_matches_across_languages_and_yo() -> None:
    token = "00000000ab3f"
    assert matches(token, "Kəhrəba torağay", "ru")
    assert matches(token, "янтарный жаворонок", "en")
    maple = f"00{load().nouns['ru'].index('клён'):02x}1234"
    assert matches(maple, "клен", "ru")
    warm = "2d000000"  # 0x2d = 45 = warm / тёплый / ilıq
    assert matches(warm, "İLIQ", "az")
    assert matches(warm, "iliq", "az")  # typed without ı
    assert matches(warm, "ILIQ", "en")  # upper-cased on a non-Turkic keyboard
