"""Codename and receipt generation, normalisation and early rejection."""

from __future__ import annotations

import math
import random
import time
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securedrop_like import codenames
from securedrop_like.codenames import (
    CODENAME_WORDS,
    MAX_INPUT_CHARS,
    RECEIPT_DIGITS,
    InvalidCodename,
    check_plausible,
    generate_codename,
    generate_receipt,
    load_wordlist,
    looks_like_receipt,
    normalise,
    parse_wordlist,
    unknown_words,
)

WORDS = load_wordlist()

# For each ASCII letter, characters a keyboard in Baku may produce instead
# (Azerbaijani letters and Cyrillic homoglyphs, both cases).
LOOKALIKES: dict[str, str] = {
    "a": "аА",
    "b": "вВ",
    "c": "çÇсС",
    "e": "əƏеЕёЁәӘ",
    "g": "ğĞ",
    "h": "нНһҺ",
    "i": "ıİіІ",
    "j": "јЈ",
    "k": "кК",
    "m": "мМ",
    "o": "öÖоО",
    "p": "рР",
    "s": "şŞѕЅ",
    "t": "тТ",
    "u": "üÜ",
    "x": "хХ",
    "y": "уУүҮ",
}
SEPARATORS = [" ", "  ", "\t", "\n", "\r\n", "-", "‐", "‑", "–", "—", "−", ".", ",", "_", "/"]
SEPARATORS += ["\u00a0", "\u3000", "\u200b"]  # no-break, ideographic and zero-width spaces


# --- the word list ----------------------------------------------------------------


def test_wordlist_has_7776_distinct_words() -> None:
    assert len(WORDS) == len(set(WORDS)) == 7776
    assert WORDS[0] == "abacus"
    assert "t-shirt" in WORDS


def test_wordlist_is_prefix_free_once_hyphens_are_dropped() -> None:
    # Why dropping separators is safe: words run together split back one way.
    stripped = sorted({word.replace("-", "") for word in WORDS})
    assert len(stripped) == 7775  # only "yo-yo" and "yoyo" merge
    assert not [(a, b) for a, b in zip(stripped, stripped[1:], strict=False) if b.startswith(a)]


def test_wordlist_attribution_ships_beside_it() -> None:
    readme = codenames.WORDLIST_PATH.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert "EFF Large Wordlist, Electronic Frontier Foundation, CC BY 3.0 US" in text


def test_parse_wordlist_accepts_dice_numbered_lines() -> None:
    text = "\n".join(f"{i:05d}\t{word}" for i, word in enumerate(WORDS))
    assert parse_wordlist(text) == WORDS


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(WORDS[:-1]),  # one word short
        "\n".join(WORDS[:-1] + (WORDS[0],)),  # a duplicate
        "\n".join(WORDS[:-1] + ("Zebra",)),  # not lowercase ASCII
        "\n".join(WORDS[:-1] + ("two words",)),
    ],
)
def test_parse_wordlist_rejects_a_damaged_list(text: str) -> None:
    with pytest.raises(RuntimeError):
        parse_wordlist(text)


# --- generation -------------------------------------------------------------------


def test_codename_is_seven_list_words_joined_by_single_spaces() -> None:
    codename = generate_codename()
    words = codename.split(" ")
    assert len(words) == CODENAME_WORDS
    assert all(word in WORDS for word in words)


def test_codenames_come_from_the_system_csprng_by_default() -> None:
    assert len({generate_codename() for _ in range(20)}) == 20


def test_injected_rng_makes_codenames_reproducible() -> None:
    assert generate_codename(random.Random(7)) == generate_codename(random.Random(7))


def test_receipt_is_twenty_digits_in_groups_of_four() -> None:
    receipt = generate_receipt()
    groups = receipt.split(" ")
    assert [len(group) for group in groups] == [4, 4, 4, 4, 4]
    assert "".join(groups).isdigit() and len("".join(groups)) == RECEIPT_DIGITS
    assert normalise(receipt) == receipt.replace(" ", "")


def test_receipt_digits_are_roughly_uniform() -> None:
    rng = random.Random(2024)
    counts = Counter("".join(generate_receipt(rng).split()) for _ in range(2000))
    digits = Counter("".join(k * v for k, v in counts.items()))
    # 40,000 digits: each should appear about 4,000 times (sd about 60).
    assert set(digits) == set("0123456789")
    assert all(3700 < n < 4300 for n in digits.values())


def test_codename_words_are_roughly_uniform_over_the_list() -> None:
    rng = random.Random(2024)
    index = {word: i for i, word in enumerate(WORDS)}
    buckets = Counter(
        index[word] * 8 // len(WORDS)
        for _ in range(2000)
        for word in generate_codename(rng).split(" ")
    )
    # 14,000 words in 8 equal slices of the list: about 1,750 each (sd about 39).
    assert len(buckets) == 8
    assert all(1550 < n < 1950 for n in buckets.values())


def test_entropy_meets_the_design() -> None:
    assert CODENAME_WORDS * math.log2(len(WORDS)) >= 90
    assert RECEIPT_DIGITS * math.log2(10) >= 66


# --- normalisation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("abacus abdomen", "abacusabdomen"),
        ("ABACUS Abdomen", "abacusabdomen"),
        ("  abacus    abdomen  ", "abacusabdomen"),
        ("abacus\tabdomen\r\n", "abacusabdomen"),
        ("abacus-abdomen", "abacusabdomen"),
        ("abacus – abdomen — abide", "abacusabdomenabide"),
        ("abacus‐abdomen‑abide−abiding", "abacusabdomenabideabiding"),
        ("abacus.abdomen,abide_abiding/able", "abacusabdomenabideabidingable"),
        ("t-shirt", "tshirt"),
        ("T SHIRT", "tshirt"),
        ("tshirt", "tshirt"),
        # Azerbaijani letters typed on an az keyboard.
        ("ƏBƏCUS", "ebecus"),
        ("bısçüİt şöğ", "biscuitsog"),
        # Fullwidth letters and digits, ligatures, accents from autocorrect.
        ("ＡＢＡＣＵＳ", "abacus"),
        ("ﬁnch", "finch"),
        ("café", "cafe"),
        # Receipts: Arabic-Indic, Persian and fullwidth digits.
        ("١٢٣٤ ٥٦٧٨ ٩٠١٢ ٣٤٥٦ ٧٨٩٠", "12345678901234567890"),
        ("۱۲۳۴-۵۶۷۸", "12345678"),
        ("１２３４ ５６７８", "12345678"),
        ("0012 3456", "00123456"),
        # Invisible characters a paste brings along.
        ("aba\u200bcus\u00ad\ufeff", "abacus"),
    ],
)
def test_normalise(typed: str, expected: str) -> None:
    assert normalise(typed) == expected


def test_codename_typed_with_cyrillic_homoglyphs_matches() -> None:
    codename = "backpack cosmic taco basket yeast cheek batch"
    assert all(word in WORDS for word in codename.split())
    # Every letter that has a Cyrillic look-alike is Cyrillic here.
    typed = "васкрасk соsmiс тасо ваsкет уеаsт сhеек ВАТСН"
    assert not typed.isascii()
    assert normalise(typed) == normalise(codename)


def test_cyrillic_capitals_and_yo() -> None:
    assert normalise("АВЕЁКМНОРСТУХІЈЅҮҺӘ") == "abeekmhopctyxijsyhe"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("abacus\x00abdomen", "bad_characters"),
        ("abacus\x1babdomen", "bad_characters"),
        ("abacus 😀 abdomen", "bad_characters"),
        ("abacus! abdomen", "bad_characters"),
        ("abacus ω abdomen", "bad_characters"),  # Greek
        ("ғабажур", "bad_characters"),  # a Kazakh letter: not on a Russian keyboard
        ("", "empty"),
        ("   \t\n", "empty"),
        (" - . / ", "empty"),
        ("a" * (MAX_INPUT_CHARS + 1), "too_long"),
    ],
)
def test_normalise_rejects(typed: str, reason: str) -> None:
    with pytest.raises(InvalidCodename) as excinfo:
        normalise(typed)
    assert excinfo.value.reason == reason
    assert isinstance(excinfo.value, ValueError)


def test_longest_allowed_input_is_accepted() -> None:
    assert normalise("a" * MAX_INPUT_CHARS) == "a" * MAX_INPUT_CHARS


def test_ten_megabytes_are_rejected_before_any_work() -> None:
    blob = "abacus " * (10 * 1024 * 1024 // 7)
    start = time.perf_counter()
    for function in (normalise, unknown_words):
        with pytest.raises(InvalidCodename) as excinfo:
            function(blob)
        assert excinfo.value.reason == "too_long"
    assert time.perf_counter() - start < 0.05


def test_exception_does_not_carry_the_input() -> None:
    with pytest.raises(InvalidCodename) as excinfo:
        normalise("secret words here 😀")
    assert "secret" not in str(excinfo.value) and "secret" not in repr(excinfo.value)


@st.composite
def retyped_codenames(draw: st.DrawFn) -> tuple[str, str]:
    """A real codename and the same codename as someone might type it later."""
    words = draw(st.lists(st.sampled_from(WORDS), min_size=CODENAME_WORDS, max_size=7))
    typed_words = []
    for word in words:
        letters = []
        for letter in word:
            choices = letter + letter.upper() + LOOKALIKES.get(letter, "")
            letters.append(draw(st.sampled_from(choices)))
        typed_words.append("".join(letters))
    separators = st.lists(st.sampled_from(SEPARATORS), max_size=3).map("".join)
    typed = draw(separators)
    for word in typed_words:
        typed += word + draw(separators)
    return " ".join(words), typed


@given(retyped_codenames())
def test_retyped_codename_normalises_like_the_original(pair: tuple[str, str]) -> None:
    codename, typed = pair
    assert normalise(typed) == normalise(codename) == codename.replace(" ", "").replace("-", "")


@given(st.text(max_size=60))
def test_normalise_output_is_canonical_or_raises(text: str) -> None:
    try:
        result = normalise(text)
    except InvalidCodename as exc:
        assert exc.reason in {"empty", "bad_characters"}
        return
    assert set(result) <= set("abcdefghijklmnopqrstuvwxyz0123456789бгджзилпфцчшщъыьэюя")
    assert normalise(result) == result


# --- plausibility and helpful errors -------------------------------------------------


def test_looks_like_receipt() -> None:
    assert looks_like_receipt("12345678901234567890")
    assert not looks_like_receipt("abacus123")
    assert not looks_like_receipt("")


def test_real_codenames_and_receipts_are_plausible() -> None:
    rng = random.Random(1)
    for _ in range(200):
        check_plausible(normalise(generate_codename(rng)))
        check_plausible(normalise(generate_receipt(rng)))
    shortest = min(WORDS, key=len)
    check_plausible(normalise(" ".join([shortest] * CODENAME_WORDS)))


@pytest.mark.parametrize(
    "typed",
    ["1234 5678 9012 3456 789", "abacus abdomen abide", "ace " * 6 + "ac"],
)
def test_short_entries_are_rejected_before_derivation(typed: str) -> None:
    with pytest.raises(InvalidCodename) as excinfo:
        check_plausible(normalise(typed))
    assert excinfo.value.reason == "too_short"


def test_unknown_words_lists_the_typos() -> None:
    typed = "Abacus abdomne T-SHIRT - yoyo İTƏM ƏBİDE zzz 😀"
    # ƏBİDE is "ebide": ə stands for e, never for a.
    assert unknown_words(typed) == ["abdomne", "əbide", "zzz", "😀"]


def test_unknown_words_is_empty_for_receipts_and_good_codenames() -> None:
    assert unknown_words("1234 5678 9012 3456 7890") == []
    assert unknown_words(generate_codename()) == []
    assert unknown_words("") == []


def test_module_constants() -> None:
    assert (codenames.CODENAME_WORDS, codenames.RECEIPT_DIGITS) == (7, 20)
    assert codenames.MAX_INPUT_CHARS == 400
