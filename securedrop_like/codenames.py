"""Source codenames and receipts: how they are made and how typed ones are read back.

A *codename* is words from the list of the page's language: seven from the EFF
large word list in English (7,776 words, about 90 bits), eight from the
Azerbaijani list (2,551 words, about 91 bits), nine from the Russian list
(1,306 words, about 93 bits); see ``data/wordlists/README.md``. Log-in accepts
a codename from any of the three lists, whatever the page's language. A
*receipt* is 20 decimal digits (about 66 bits) for women who report by SMS or
e-mail and cannot easily type words. Either is shown once and is the only way
back to her report.

:func:`normalise` turns what she types, possibly weeks later on another phone
with another keyboard, into the canonical string that
``crypto.codename.derive_source_keys(normalised, salt)`` feeds to Argon2id.
Key derivation itself lives in ``crypto/``; nothing here is secret-keyed.

.. warning::
   Codenames, receipts and anything derived from what a source typed must
   never be logged or put in an exception message. :class:`InvalidCodename`
   carries only a reason code for that reason.
"""

from __future__ import annotations

import functools
import random
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

CODENAME_WORDS = 7
RECEIPT_DIGITS = 20
RECEIPT_GROUP = 4
WORDLIST_SIZE = 7776
# Checked before any other work: a pasted 10 MB blob must cost nothing. The
# longest real codename is well under 100 characters even with odd spacing.
MAX_INPUT_CHARS = 400

WORDLIST_DIR = Path(__file__).parent / "data" / "wordlists"
WORDLIST_PATH = WORDLIST_DIR / "en_eff_large_7776.txt"

# A codename is drawn from the list of the page's language. az and ru lists are
# built by scripts/words/build.py (see the README beside them); each size is
# pinned here so that a truncated or altered file stops the app instead of
# silently weakening every codename, and the number of words is chosen so that
# a codename carries at least 84 bits (len(list) ** words >= 2 ** 84).
LANGUAGES = ("en", "az", "ru")
WORDLIST_PATHS = {
    "en": WORDLIST_PATH,
    "az": WORDLIST_DIR / "az_sesim.txt",
    "ru": WORDLIST_DIR / "ru_sesim.txt",
}
WORDLIST_SIZES = {"en": WORDLIST_SIZE, "az": 2551, "ru": 1306}
WORDS_PER_CODENAME = {"en": CODENAME_WORDS, "az": 8, "ru": 9}
MIN_CODENAME_BITS = 84
# Letters each list may use, as written (before folding).
_LIST_LETTERS = {
    "en": frozenset("abcdefghijklmnopqrstuvwxyz"),
    "az": frozenset("abcçdeəfgğhxıijkqlmnoöprsştuüvyz"),
    "ru": frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя"),
}

Rng = secrets.SystemRandom | random.Random


class InvalidCodename(ValueError):
    """What she typed cannot be a codename or receipt.

    ``reason`` is one of ``"too_long"``, ``"empty"``, ``"bad_characters"``,
    ``"too_short"``; the error handler turns it into a translated message.
    The typed text is deliberately not kept on the exception.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- the word lists ---------------------------------------------------------------


def parse_wordlist(text: str, lang: str = "en") -> tuple[str, ...]:
    """Parse a word list with one word a line, or ``<dice digits><TAB>word`` lines.

    Lines starting with ``#`` are the list's header. Raises
    :class:`RuntimeError` unless it holds exactly ``WORDLIST_SIZES[lang]``
    distinct words of lowercase letters of that language's keyboard (hyphens
    allowed inside an English word, as in "t-shirt"): a truncated or altered
    list would silently weaken every codename issued from then on.
    """
    size = WORDLIST_SIZES[lang]
    words: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 2 and fields[0].isdigit():
            fields = fields[1:]
        if len(fields) != 1 or not _is_list_word(fields[0], lang):
            raise RuntimeError(f"word list line {len(words) + 1} is not a single word")
        words.append(fields[0])
    if len(words) != size or len(set(words)) != size:
        raise RuntimeError(
            f"word list must hold {size} distinct words, "
            f"found {len(words)} ({len(set(words))} distinct)"
        )
    return tuple(words)


def _is_list_word(word: str, lang: str = "en") -> bool:
    parts = word.split("-") if lang == "en" else [word]
    return all(part and set(part) <= _LIST_LETTERS[lang] for part in parts)


@functools.cache
def load_wordlist(lang: str = "en") -> tuple[str, ...]:
    """The codename words of ``lang`` ("en", "az" or "ru"), in file order (read once)."""
    return parse_wordlist(WORDLIST_PATHS[lang].read_text(encoding="utf-8"), lang)


@functools.cache
def _normalised_words() -> frozenset[str]:
    # Every list's words as normalise() gives them ("t-shirt" is "tshirt", "şəkər"
    # is "seker"): log-in accepts a codename from any list, whatever the page.
    return frozenset(normalise(word) for lang in LANGUAGES for word in load_wordlist(lang))


@functools.cache
def _shortest_codename() -> int:
    return min(
        WORDS_PER_CODENAME[lang] * min(len(normalise(word)) for word in load_wordlist(lang))
        for lang in LANGUAGES
    )


# --- generation -------------------------------------------------------------------


def _picker(rng: Rng | None) -> Callable[[Sequence[str]], str]:
    # Tests inject a seeded random.Random; production always uses the OS CSPRNG.
    return secrets.choice if rng is None else rng.choice


def generate_codename(rng: Rng | None = None, lang: str = "en") -> str:
    """Words of the ``lang`` list joined by single spaces, each chosen uniformly and
    independently: seven English, eight Azerbaijani or nine Russian words
    (:data:`WORDS_PER_CODENAME`). Any other ``lang`` gets the English list."""
    lang = lang if lang in WORDLIST_PATHS else "en"
    pick = _picker(rng)
    words = load_wordlist(lang)
    return " ".join(pick(words) for _ in range(WORDS_PER_CODENAME[lang]))


def generate_receipt(rng: Rng | None = None) -> str:
    """Twenty uniform decimal digits shown in groups of four ("1234 5678 ... 7890").

    Leading zeros are kept: the receipt is a string, not a number.
    """
    pick = _picker(rng)
    digits = "".join(pick("0123456789") for _ in range(RECEIPT_DIGITS))
    return " ".join(digits[i : i + RECEIPT_GROUP] for i in range(0, RECEIPT_DIGITS, RECEIPT_GROUP))


# --- normalisation ----------------------------------------------------------------

# Tab and line breaks arrive when she pastes from a note or message; any other
# control character (NUL above all) means the input is not something she typed.
_ALLOWED_CONTROLS = frozenset("\t\n\r")

# Letters that keyboards in Baku produce for an ASCII letter they resemble, and
# that have no Unicode decomposition to strip (ö, ü, ş, ç, ğ, İ and ё lose their
# marks in the NFKD step instead). Only lower case is listed: casefold() runs
# first, so Ə, I-with-dot, Cyrillic capitals etc. arrive here already lowered.
_LOOKALIKES = str.maketrans(
    {
        # Azerbaijani Latin: schwa and dotless i.
        "ə": "e",
        "ı": "i",
        # Cyrillic, as typed on a Russian or Azerbaijani-Cyrillic layout; ә is
        # the Cyrillic schwa, the same letter as Latin ə.
        "а": "a",
        "в": "b",
        "е": "e",
        "ә": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ү": "y",
        "һ": "h",
    }
)

# Besides whitespace and Unicode dash punctuation (category Pd: - ‐ ‑ – — ...).
_EXTRA_SEPARATORS = frozenset("\u2212.,_/\\")  # minus sign, dot, comma, underscore, slashes
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Pd"})
_MARKS = frozenset({"Mn", "Me"})  # non-spacing and enclosing combining marks
# Russian letters with no Latin look-alike stay Cyrillic in the canonical form
# (й arrives as и, ё as е -> e: their marks go in the NFKD step). Nothing that was
# accepted before they were added changes: they used to be "bad_characters".
_CYRILLIC_KEPT = "бгджзилпфцчшщъыьэюя"
_CANONICAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789" + _CYRILLIC_KEPT)


def _is_separator(ch: str) -> bool:
    return (
        ch.isspace() or unicodedata.category(ch) in _SEPARATOR_CATEGORIES or ch in _EXTRA_SEPARATORS
    )


def normalise(text: str) -> str:
    """The canonical form of a typed codename or receipt: ``[a-z0-9]`` and, for
    Russian words, the Cyrillic letters with no Latin look-alike (``б г д ж з и л
    п ф ц ч ш щ ъ ы ь э ю я``).

    The same codename typed on any phone or keyboard must give the same
    string, because a mismatch locks her out of her report for good. Steps:

    1. Reject input longer than :data:`MAX_INPUT_CHARS` (``"too_long"``) before
       looking at it, and any control character other than tab and line breaks
       (``"bad_characters"``).
    2. Drop invisible format characters (Unicode category Cf: zero-width
       spaces, soft hyphens, direction marks, byte-order marks). Copy-paste from
       messengers and PDFs inserts them and she cannot see them to remove them.
    3. NFKC: fullwidth and other compatibility forms become plain letters and
       digits ("ＡＢＣ" -> "ABC", "１" -> "1", "ﬁ" -> "fi").
    4. casefold(): case never matters.
    5. NFKD and drop combining marks: Azerbaijani ö ü ş ç ğ become o u s c g,
       "İ" (already "i" plus a dot) becomes i, and any other accent typed by an
       autocorrecting keyboard goes.
    6. Map look-alikes with no decomposition: Azerbaijani ə -> e and ı -> i; the
       Cyrillic letters a Russian or Azerbaijani-Cyrillic keyboard produces for
       a Latin one that looks the same (а в е ә к м н о р с т у х і ј ѕ ү һ ->
       a b e e k m h o p c t y x i j s y h). English codenames never contain
       these, so folding them together loses nothing; a Russian word is folded
       the same way ("море" -> "mope"), and the Russian and Azerbaijani lists
       were built on these folded forms (no two words the same, within one
       edit or a prefix of another once folded; none equal to an English or
       the other list's word). Other Russian letters stay Cyrillic; й -> и and
       ё -> е -> e lost their marks in step 5. So an Azerbaijani word typed
       without ə ğ ı ö ü ş ç, or a Russian one with и for й or е for ё, still
       matches. Existing English codenames fold exactly as before: the added
       letters were rejected until then.
    7. Any Unicode decimal digit (Arabic-Indic ٣, Persian ۳ ...) becomes the
       ASCII digit, so a receipt typed on an Arabic-script keypad still works.
    8. Drop every separator: whitespace of any kind, dashes and hyphens of any
       kind (and the minus sign), dots, commas, underscores and slashes. She
       may type the words run together, one per line or joined by dashes.

    Dropping separators is deliberate. Hyphenated list words ("t-shirt",
    "yo-yo") then match however they are typed ("tshirt", "T SHIRT"). The cost
    is negligible: the list without hyphens is prefix-free, so a run of words
    still splits back in exactly one way, and the only two words that merge
    are "yo-yo" and "yoyo" (7,775 instead of 7,776 distinct words, a loss of
    well under 0.01 bit per codename).

    Raises :class:`InvalidCodename` with ``"empty"`` if nothing is left and
    ``"bad_characters"`` if anything else remains (emoji, punctuation, other
    scripts).
    """
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidCodename("too_long")
    if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text):
        raise InvalidCodename("bad_characters")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if unicodedata.category(ch) not in _MARKS
    )
    text = text.translate(_LOOKALIKES)
    out: list[str] = []
    for ch in text:
        if _is_separator(ch):
            continue
        digit = unicodedata.decimal(ch, None)
        out.append(ch if digit is None else str(digit))
    result = "".join(out)
    if not result:
        raise InvalidCodename("empty")
    if not set(result) <= _CANONICAL_CHARS:
        raise InvalidCodename("bad_characters")
    return result


def looks_like_receipt(normalised: str) -> bool:
    """True if a normalised entry is all digits, i.e. meant as a receipt."""
    return normalised.isascii() and normalised.isdigit()


def check_plausible(normalised: str) -> None:
    """Raise ``InvalidCodename("too_short")`` if no real codename or receipt is this short.

    A receipt has 20 digits; a codename at least seven times the shortest
    list word. Catching a half-typed entry here gives her a clear message and
    spares an Argon2id derivation that could only fail.
    """
    minimum = RECEIPT_DIGITS if looks_like_receipt(normalised) else _shortest_codename()
    if len(normalised) < minimum:
        raise InvalidCodename("too_short")


def unknown_words(text: str) -> list[str]:
    """The typed words (lowercased, split on whitespace) that are not list words.

    For a helpful message after a failed login ("we don't know the word
    'abacsu'"). Empty for a receipt or for input with no words. Each word is
    compared after :func:`normalise`, so "T-SHIRT" and "Abacus" count as known.
    The result repeats what she typed: show it to her, never log it.
    """
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidCodename("too_long")
    try:
        if looks_like_receipt(normalise(text)):
            return []
    except InvalidCodename:
        pass  # some word is bad; the loop below says which
    known = _normalised_words()
    unknown: list[str] = []
    # "İ".lower() would add a combining dot to the i she sees echoed back.
    for typed in text.replace("İ", "i").lower().split():
        try:
            if normalise(typed) in known:
                continue
        except InvalidCodename as exc:
            if exc.reason == "empty":  # a lone dash or dot between words
                continue
        unknown.append(typed)
    return unknown
