"""Build the Azerbaijani and Russian codename word lists (`make wordlists`).

Reads only files in this folder: the copied sources in ``sources/`` (with
their licences) and three hand-written rule files:

- ``exclusions.txt``: words a codename must never hand her, by category
  (religious, political, sexual, violent, insulting, otherwise upsetting),
  in az and ru. ``stem*`` excludes every word starting with ``stem``
  (inflected and derived forms); a bare word excludes that word only.
- ``names.txt``: proper nouns and place names (Baku and its districts,
  Azerbaijani cities and regions, countries, peoples, given names).
- ``ru_not_noun_adj.txt``: Russian source words that are neither nouns nor
  adjectives and that their ending does not give away (adverbs in -о,
  pronouns, conjunctions, numerals).

Every rule is applied to the *folded* form, :func:`securedrop_like.codenames.normalise`
of the word, i.e. exactly what log-in compares, so that a word typed without
diacritics or on another layout still means one word. Writes
``securedrop_like/data/wordlists/{az,ru}_sesim_*.txt`` with a header saying how the
list was made, and prints how many words each rule removed. Deterministic:
the same inputs give the same bytes (``tests/unit/securedrop_like/test_wordlists.py``
re-runs it and compares).

    python scripts/words/build.py [--out DIR]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from securedrop_like import codenames  # noqa: E402

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
OUT = ROOT / "securedrop_like" / "data" / "wordlists"

MIN_LETTERS = 4
MAX_LETTERS = 8
MIN_BITS = 84
AZ_TARGET = 4096  # 7 words x 12 bits = 84 bits

# The standard Azerbaijani Latin keyboard: no "w" (that key types "ü").
AZ_LETTERS = frozenset("abcçdeəfgğhxıijkqlmnoöprsştuüvyz")
# The Russian ЙЦУКЕН keyboard; "ё" is folded to "е" (see README).
RU_LETTERS = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
RU_NOT_NOUN_ADJ_ENDINGS = ("ть", "ти", "чь", "ся", "сь")  # infinitives, reflexive verbs

CATEGORIES = ("religious", "political", "sexual", "violent", "insulting", "upsetting")


def fold(word: str) -> str:
    """The form log-in compares: codenames.normalise of the single word."""
    return codenames.normalise(word)


def az_lower(word: str) -> str:
    """Azerbaijani lower case: "I" is "ı" and "İ" is "i" (str.lower gets both wrong)."""
    return word.replace("I", "ı").replace("İ", "i").lower()


# --- rule files ---------------------------------------------------------------------


@dataclass
class Exclusions:
    """Excluded words and stems, each with its category, compared after folding."""

    exact: dict[str, str] = field(default_factory=dict)
    stems: dict[str, str] = field(default_factory=dict)

    def category(self, word: str) -> str | None:
        folded = fold(word)
        if folded in self.exact:
            return self.exact[folded]
        for end in range(len(folded), 0, -1):
            hit = self.stems.get(folded[:end])
            if hit is not None:
                return hit
        return None


def parse_exclusions(text: str) -> Exclusions:
    """``[category]`` headings, then words or ``stem*`` lines; ``#`` starts a comment."""
    result = Exclusions()
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            if current not in CATEGORIES:
                raise ValueError(f"exclusions line {number}: unknown category {current!r}")
            continue
        if current is None:
            raise ValueError(f"exclusions line {number}: word before any [category]")
        for entry in line.split():
            if entry.endswith("*"):
                result.stems[fold(az_lower(entry[:-1]))] = current
            else:
                result.exact[fold(az_lower(entry))] = current
    return result


def read_word_file(path: Path) -> list[str]:
    """One word (or several, space-separated) a line; ``#`` starts a comment."""
    words: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        words.extend(raw.split("#", 1)[0].split())
    return words


# --- the rules -----------------------------------------------------------------------


def has_length(word: str) -> bool:
    return MIN_LETTERS <= len(word) <= MAX_LETTERS


def on_keyboard(word: str, letters: frozenset[str]) -> bool:
    return bool(word) and set(word) <= letters


def ru_noun_or_adjective(word: str, not_noun_adj: frozenset[str]) -> bool:
    return not word.endswith(RU_NOT_NOUN_ADJ_ENDINGS) and word not in not_noun_adj


def within_one_edit(a: str, b: str) -> bool:
    """Optimal string alignment distance <= 1: one substitution, insertion,
    deletion or swap of two neighbouring letters."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if la < lb else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _deletion_keys(word: str) -> set[str]:
    keys = {word}
    keys.update(word[:i] + word[i + 1 :] for i in range(len(word)))
    return keys


class Spacing:
    """Greedy, in priority order: keep a word unless it is within one edit of, a
    prefix of, or has as a prefix, a word already kept (all on folded forms)."""

    def __init__(self) -> None:
        self.kept: set[str] = set()
        self.prefixes: set[str] = set()
        self.by_key: dict[str, set[str]] = {}

    def conflict(self, folded: str) -> str | None:
        if folded in self.prefixes or any(folded[:i] in self.kept for i in range(1, len(folded))):
            return "prefix"
        for key in _deletion_keys(folded):
            for other in self.by_key.get(key, ()):
                if within_one_edit(folded, other):
                    return "one_edit"
        return None

    def keep(self, folded: str) -> None:
        self.kept.add(folded)
        self.prefixes.update(folded[:i] for i in range(1, len(folded)))
        for key in _deletion_keys(folded):
            self.by_key.setdefault(key, set()).add(folded)


# --- building ------------------------------------------------------------------------


@dataclass
class Built:
    lang: str
    words: list[str]
    counts: list[tuple[str, int]]  # (rule description, words removed)
    start: int
    sources: str
    notes: list[str]

    @property
    def codename_words(self) -> int:
        return codename_words(len(self.words))


def codename_words(size: int) -> int:
    """The fewest words (at least seven) that give MIN_BITS from a list this size."""
    n = 7
    while n * math.log2(size) < MIN_BITS:
        n += 1
    return n


class Pipeline:
    def __init__(self, words: Iterable[str]) -> None:
        self.words = list(words)
        self.counts: list[tuple[str, int]] = []
        self.start = len(self.words)

    def rule(self, name: str, keep: Callable[[str], bool]) -> None:
        before = len(self.words)
        self.words = [w for w in self.words if keep(w)]
        self.counts.append((name, before - len(self.words)))


def eff_folded() -> frozenset[str]:
    return frozenset(fold(w) for w in codenames.load_wordlist("en"))


def proper_noun_set() -> frozenset[str]:
    return frozenset(fold(az_lower(w)) for w in read_word_file(HERE / "names.txt"))


def build_az(exclusions: Exclusions, names: frozenset[str]) -> Built:
    stems: list[tuple[str, str]] = []
    for line in (SOURCES / "az_stems_az-lang-nlp_13k.txt").read_text(encoding="utf-8").splitlines():
        if line:
            stems.append((line[0], line[1:]))
    freq: dict[str, int] = {}
    for line in (SOURCES / "az_freq_az-lang-nlp_86k.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            freq[parts[0]] = max(freq.get(parts[0], 0), int(parts[1]))
    lower_heads: set[str] = set()
    capital_heads: set[str] = set()
    for line in (SOURCES / "az_words_AzeLexicon_86k.txt").read_text(encoding="utf-8").splitlines():
        head = line.strip()
        if not head:
            continue
        (capital_heads if head[0].isupper() else lower_heads).add(az_lower(head))
    pos = dict((w, p) for p, w in stems)
    pipe = Pipeline(w for _, w in stems)
    pipe.rule("not tagged N (noun) or A (adjective)", lambda w: pos[w] in "NA")
    pipe.rule(f"not {MIN_LETTERS}-{MAX_LETTERS} letters", has_length)
    pipe.rule("a letter not on the Azerbaijani keyboard", lambda w: on_keyboard(w, AZ_LETTERS))
    pipe.rule(
        "proper noun: capitalised in AzeLexicon and never lower case there",
        lambda w: not (w in capital_heads and w not in lower_heads),
    )
    pipe.rule(
        "not a lower-case AzeLexicon headword (names, foreign words, misspellings)",
        lambda w: w in lower_heads,
    )
    pipe.rule("proper noun or place name in names.txt", lambda w: fold(w) not in names)
    pipe.rule("never seen in the az-lang-nlp frequency list", lambda w: freq.get(w, 0) > 0)
    pipe.rule("in exclusions.txt", lambda w: exclusions.category(w) is None)
    eff = eff_folded()
    pipe.rule("same as an EFF word once folded", lambda w: fold(w) not in eff)
    # Most frequent first: a word she knows wins over a rarer neighbour.
    pipe.words.sort(key=lambda w: (-freq[w], w))
    _space(pipe)
    before = len(pipe.words)
    pipe.words = pipe.words[:AZ_TARGET]
    pipe.counts.append((f"beyond the {AZ_TARGET:,} most frequent", before - len(pipe.words)))
    return Built(
        "az",
        sorted(pipe.words),
        pipe.counts,
        pipe.start,
        "az-lang-nlp data/dict.txt (stems with part of speech) and data/spell_freq.txt "
        "(frequencies), Apache-2.0; AzeLexicon data/general/words.txt (headwords), MIT",
        ["Order of the spacing rules: most frequent word first (az-lang-nlp frequency)."],
    )


def build_ru(exclusions: Exclusions, names: frozenset[str], az_words: Iterable[str]) -> Built:
    source = (SOURCES / "ru_bip39_python-mnemonic_2048.txt").read_text(encoding="utf-8").split()
    not_noun_adj = frozenset(read_word_file(HERE / "ru_not_noun_adj.txt"))
    pipe = Pipeline(source)
    pipe.rule(
        "not a noun or adjective (verb ending -ть -ти -чь -ся -сь, or in ru_not_noun_adj.txt)",
        lambda w: ru_noun_or_adjective(w, not_noun_adj),
    )
    pipe.rule(f"not {MIN_LETTERS}-{MAX_LETTERS} letters", has_length)
    pipe.rule("a letter not on the Russian keyboard", lambda w: on_keyboard(w, RU_LETTERS))
    pipe.rule("proper noun: capitalised in the source", lambda w: w == w.lower())
    pipe.rule("proper noun or place name in names.txt", lambda w: fold(w) not in names)
    pipe.rule("in exclusions.txt", lambda w: exclusions.category(w) is None)
    others = eff_folded() | frozenset(fold(w) for w in az_words)
    pipe.rule("same as an EFF or az word once folded", lambda w: fold(w) not in others)
    _space(pipe)  # in source (alphabetical) order: the source has no frequencies
    return Built(
        "ru",
        sorted(pipe.words),
        pipe.counts,
        pipe.start,
        "Russian word list of the python-mnemonic package (not an official BIP-39 list), MIT",
        ["Order of the spacing rules: source (alphabetical) order; the source has no frequencies."],
    )


def _space(pipe: Pipeline) -> None:
    seen: set[str] = set()

    def unique(w: str) -> bool:
        f = fold(w)
        if f in seen:
            return False
        seen.add(f)
        return True

    pipe.rule("same folded form as a word kept before it", unique)
    spacing = Spacing()
    removed = {"prefix": 0, "one_edit": 0}
    kept: list[str] = []
    for w in pipe.words:
        why = spacing.conflict(fold(w))
        if why is None:
            spacing.keep(fold(w))
            kept.append(w)
        else:
            removed[why] += 1
    pipe.words = kept
    pipe.counts.append(("a prefix of a kept word, or a kept word its prefix", removed["prefix"]))
    pipe.counts.append(("within one edit of a kept word", removed["one_edit"]))


# --- output --------------------------------------------------------------------------


def render(built: Built) -> str:
    n = len(built.words)
    k = built.codename_words
    bits = k * math.log2(n)
    lines = [
        f"# Səsim codename words ({built.lang}): {n:,} words; {k} words a codename "
        f"= {bits:.1f} bits (log2({n}) x {k}).",
        "# Generated by scripts/words/build.py (`make wordlists`); do not edit by hand.",
        f"# Source: {built.sources}.",
        "# Licences: LICENSE.*.txt beside this file; how it was made: README.md here.",
        "# Rules, each applied to the folded form (securedrop_like.codenames.normalise):",
        "# nouns and adjectives only; 4-8 letters; only letters of her keyboard; no proper",
        "# nouns or place names; nothing in scripts/words/exclusions.txt (religious,",
        "# political, sexual, violent, insulting, otherwise upsetting); no two words the",
        "# same once folded; none a prefix of another; no two within one edit.",
        f"# Words removed by each rule, from {built.start:,} source words:",
    ]
    lines += [f"#   {count:>6,}  {name}" for name, count in built.counts]
    lines += [f"# {note}" for note in built.notes]
    return "\n".join(lines + built.words) + "\n"


FILENAMES = {"az": "az_sesim.txt", "ru": "ru_sesim.txt"}


def build_all() -> list[Built]:
    exclusions = parse_exclusions((HERE / "exclusions.txt").read_text(encoding="utf-8"))
    names = proper_noun_set()
    az = build_az(exclusions, names)
    ru = build_ru(exclusions, names, az.words)
    return [az, ru]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write the lists to")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    for built in build_all():
        path = args.out / FILENAMES[built.lang]
        path.write_text(render(built), encoding="utf-8", newline="\n")
        if not args.quiet:
            print(f"{built.lang}: {built.start:,} source words")
            for name, count in built.counts:
                print(f"  -{count:>6,}  {name}")
            n = len(built.words)
            bits = built.codename_words * math.log2(n)
            print(f"  = {n:,} words -> {built.codename_words} words, {bits:.1f} bits: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
