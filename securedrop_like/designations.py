"""Human-readable labels for source designations, in the lawyer's language.

``sources.designation`` is a random hex token (:func:`models.new_designation`).
Staff never see it raw: they see a *label* — an adjective, a noun and the last
four hex characters, e.g. ``Amber lark · 3f9a`` / ``Янтарный жаворонок · 3f9a``
/ ``Kəhrəba torağay · 3f9a``. The words come from one concept table
(``data/designations/words.tsv``), so a label means the same thing in English,
Russian and Azerbaijani and two lawyers can name a source to each other
whatever language their interface is in.

From a token: adjective index = ``int(token[0:2], 16) % 64``, noun index =
``int(token[2:4], 16) % 64`` (256 is a multiple of 64, so both are uniform),
suffix = ``token[-4:]``. Labels are not unique (64 × 64 word pairs); the suffix
is what tells two "amber larks" apart.

A label does not map back to one token prefix, so searching works the other
way round: :func:`parse` normalises what a lawyer typed (or returns ``None``
if it cannot be part of any label) and :func:`matches` says whether a given
token's label fits it.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LANGUAGES = ("en", "ru", "az")
DEFAULT_LANGUAGE = "en"
WORDS_PER_KIND = 64
SUFFIX_LENGTH = 4
MAX_QUERY_CHARS = 100
SEPARATOR = "·"

WORDS_PATH = Path(__file__).parent / "data" / "designations" / "words.tsv"

_SCRIPTS: Mapping[str, re.Pattern[str]] = {
    "en": re.compile(r"[a-z]+"),
    "ru": re.compile(r"[а-яё]+"),
    "az": re.compile(r"[a-zəğıöüşç]+"),
}
_SUFFIX = re.compile(r"[0-9a-f]{4}")
_HEX = frozenset(string.hexdigits)


@dataclass(frozen=True)
class Table:
    """The concept table: ``adjectives[lang][i]`` and ``nouns[lang][i]``."""

    adjectives: Mapping[str, tuple[str, ...]]
    nouns: Mapping[str, tuple[str, ...]]
    # Folded word (any language) -> the concept indices it names.
    adjective_index: Mapping[str, frozenset[int]]
    noun_index: Mapping[str, frozenset[int]]


def _fold(word: str) -> str:
    """Key for comparing typed words.

    Russian ``ё`` is very often typed ``е``; Azerbaijani dotless ``ı`` is often
    typed ``i`` on a keyboard without it, and ``I`` upper-cased by a
    non-Turkic keyboard lowers to ``i``. The table is checked to stay
    unambiguous under this folding.
    """
    return word.replace("ё", "е").replace("ı", "i")


def _index(columns: Mapping[str, tuple[str, ...]]) -> dict[str, frozenset[int]]:
    found: dict[str, set[int]] = {}
    for words in columns.values():
        for i, word in enumerate(words):
            found.setdefault(_fold(word), set()).add(i)
    return {word: frozenset(ids) for word, ids in found.items()}


def _read(path: Path) -> Table:
    rows: dict[str, list[tuple[str, str, str]]] = {"adj": [], "noun": []}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = unicodedata.normalize("NFC", raw.rstrip("\r"))
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4 or fields[0] not in rows:
            raise ValueError(f"{path.name}:{number}: expected kind<TAB>en<TAB>ru<TAB>az")
        rows[fields[0]].append((fields[1], fields[2], fields[3]))

    columns: dict[str, dict[str, tuple[str, ...]]] = {}
    for kind, entries in rows.items():
        if len(entries) != WORDS_PER_KIND:
            raise ValueError(f"{path.name}: {len(entries)} {kind} lines, need {WORDS_PER_KIND}")
        columns[kind] = {lang: tuple(e[i] for e in entries) for i, lang in enumerate(LANGUAGES)}

    for lang in LANGUAGES:
        everything = columns["adj"][lang] + columns["noun"][lang]
        folded = [_fold(w) for w in everything]
        if len(set(folded)) != len(folded):
            raise ValueError(f"{path.name}: duplicate {lang} word")
        for word in everything:
            if not _SCRIPTS[lang].fullmatch(word):
                raise ValueError(f"{path.name}: {word!r} is not plain lowercase {lang}")
            if _SUFFIX.fullmatch(word):
                raise ValueError(f"{path.name}: {word!r} could be read as a hex suffix")

    return Table(
        adjectives=columns["adj"],
        nouns=columns["noun"],
        adjective_index=_index(columns["adj"]),
        noun_index=_index(columns["noun"]),
    )


@functools.cache
def load() -> Table:
    """The validated word table, read once. Raises :class:`ValueError` if it is malformed."""
    return _read(WORDS_PATH)


def _language(lang: str) -> str:
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def capitalise(word: str, lang: str) -> str:
    """Upper-case the first letter only, with Azerbaijani dotted/dotless i.

    ``str.capitalize`` would turn ``ilıq`` into ``Ilıq`` (wrong in Azerbaijani)
    and lower-case the rest of the word.
    """
    if not word:
        return word
    first = word[0]
    if _language(lang) == "az" and first in ("i", "ı"):
        head = "İ" if first == "i" else "I"
    else:
        head = first.upper()
    return head + word[1:]


def lower(text: str, lang: str) -> str:
    """Lower-case ``text``; in Azerbaijani ``İ`` → ``i`` and ``I`` → ``ı``.

    ``İ`` becomes plain ``i`` in every language (Python's own ``lower`` would
    add a combining dot).
    """
    if _language(lang) == "az":
        text = text.replace("I", "ı")
    return text.replace("İ", "i").lower()


def words(token: str, lang: str) -> tuple[str, str, str]:
    """(adjective, noun, suffix) for a designation token, in ``lang`` (unknown → English).

    Raises :class:`ValueError` unless ``token`` is at least four hex characters.
    """
    if len(token) < SUFFIX_LENGTH or not all(c in _HEX for c in token):
        raise ValueError("designation token must be at least 4 hex characters")
    table = load()
    lang = _language(lang)
    adjective = table.adjectives[lang][int(token[0:2], 16) % WORDS_PER_KIND]
    noun = table.nouns[lang][int(token[2:4], 16) % WORDS_PER_KIND]
    return adjective, noun, token[-SUFFIX_LENGTH:].lower()


def label(token: str, lang: str) -> str:
    """The label staff see, e.g. ``Amber lark · 3f9a``."""
    adjective, noun, suffix = words(token, lang)
    return f"{capitalise(adjective, lang)} {noun} {SEPARATOR} {suffix}"


def _terms(query: str) -> tuple[list[str], str | None] | None:
    """Split a normalised query into words and an optional suffix; None if impossible."""
    table = load()
    found: list[str] = []
    suffix: str | None = None
    for term in query.replace(SEPARATOR, " ").split():
        if _SUFFIX.fullmatch(term):
            if suffix is not None:
                return None
            suffix = term
        elif _fold(term) in table.adjective_index or _fold(term) in table.noun_index:
            found.append(_fold(term))
        else:
            return None
    if len(found) > 2 or (not found and suffix is None):
        return None
    return found, suffix


def parse(text: str, lang: str) -> str | None:
    """Normalise a typed label or part of one; ``None`` if it cannot match any label.

    The result is lower-cased (Azerbaijani-aware), whitespace-collapsed, with
    the ``·`` separated by spaces — pass it, with tokens, to :func:`matches`.
    ``None`` for empty input, more than 100 characters, words that are in no
    language's table, more than two words or more than one 4-hex suffix.
    Words from any of the three languages are accepted.
    """
    if len(text) > MAX_QUERY_CHARS:
        return None
    normalised = lower(unicodedata.normalize("NFC", text), lang)
    normalised = " ".join(normalised.replace(SEPARATOR, f" {SEPARATOR} ").split())
    normalised = normalised.strip(f" {SEPARATOR}")
    if not normalised or _terms(normalised) is None:
        return None
    return normalised


def matches(token: str, text: str, lang: str) -> bool:
    """Whether ``token``'s label fits what was typed.

    Two words: the adjective and the noun must both match, in that order.
    One word: it may be either. A typed suffix must equal the token's. Words
    are compared by concept, so "amber lark" finds a source whose Russian
    label is "Янтарный жаворонок".
    """
    query = parse(text, lang)
    if query is None:
        return False
    terms = _terms(query)
    if terms is None:  # pragma: no cover - parse already checked
        return False
    found, suffix = terms
    if len(token) < SUFFIX_LENGTH or not all(c in _HEX for c in token):
        return False
    if suffix is not None and token[-SUFFIX_LENGTH:].lower() != suffix:
        return False
    table = load()
    adjective = int(token[0:2], 16) % WORDS_PER_KIND
    noun = int(token[2:4], 16) % WORDS_PER_KIND

    def is_adjective(word: str) -> bool:
        return adjective in table.adjective_index.get(word, frozenset())

    def is_noun(word: str) -> bool:
        return noun in table.noun_index.get(word, frozenset())

    if len(found) == 2:
        return is_adjective(found[0]) and is_noun(found[1])
    if len(found) == 1:
        return is_adjective(found[0]) or is_noun(found[0])
    return True


# The comparison key for typed words, for callers that match by concept.
fold = _fold
