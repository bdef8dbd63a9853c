"""The redaction check: what in a text could point at a person.

Every text runs through :func:`check` before it can be published. It finds
phone numbers, e-mail addresses, URLs and social-media handles, personal ID
numbers (FIN) and identity card numbers (kind ``fin`` too), IBANs,
licence plates, person names, street addresses and house numbers, exact
dates and times, and anything matching the names and places of her own
report (``own_terms``, see :func:`terms_from_report`).

The check is built to over-flag: a reviewer can keep a hit with a reason,
but a missed phone number published on a map cannot be taken back. Phone
numbers, e-mail addresses, FINs and IBANs must never be missed (the corpus
test asserts it); names, addresses, dates and plates are heuristics whose
precision and recall the corpus test measures and prints.

Offsets are Python ``str`` indices (characters, not bytes). Hits come back
sorted and never overlap: overlapping findings are merged into one span
that covers them all, labelled with the most specific kind
(:data:`PRIORITY`).

Every pattern runs in time linear in the text: quantifiers that could
split one run of characters in many ways (a name part, spaces before a
house number, the separators of a phone number) are possessive or atomic.
A new pattern must keep that; the test feeds hostile 100,000-character
texts to a child process with a timeout.

No text is logged or printed by this module.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers

KINDS = ("phone", "email", "url", "fin", "iban", "plate", "name", "address", "date", "time", "own")

# When findings overlap, the merged hit takes the kind that ranks highest:
# structured identifiers first (they are exact), then her own terms (they are
# known to be hers), then the heuristics.
PRIORITY = {
    "iban": 11,
    "email": 10,
    "url": 9,
    "phone": 8,
    "fin": 7,
    "plate": 6,
    "own": 5,
    "address": 4,
    "name": 3,
    "date": 2,
    "time": 1,
}

# What :func:`redact` puts in place of a hit: the same in every language, and
# it says nothing about what was there.
PLACEHOLDER = "[…]"

DATA = Path(__file__).parent / "data" / "redact"


@dataclass(frozen=True)
class Hit:
    """One finding: ``text == checked_text[start:end]`` (character offsets)."""

    kind: str
    start: int
    end: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start, "end": self.end, "text": self.text}


# ---------------------------------------------------------------- letters

_UP = "A-ZÇƏĞİIÖŞÜÂÎÛА-ЯЁ"
_LOW = "a-zçəğıiöşüâîûа-яё"
_L = f"{_UP}{_LOW}"
# A word: letters, maybe joined by an apostrophe ("Aynur'a", "O'Brien").
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def az_lower(text: str) -> str:
    """Lower case that knows Azerbaijani and Turkish I/ı and İ/i."""
    return text.replace("I", "ı").replace("İ", "i").lower()


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper() and not word.isupper() or (len(word) == 1 and word.isupper())


# ---------------------------------------------------------------- e-mail, URL

_TLDS = (
    "az|com|ru|org|net|me|io|info|biz|gov|edu|tv|co|uk|de|tr|ua|kz|ge|by|us|eu|app|"
    "dev|online|site|xyz|pro|club|shop|news|media|live|page|link|ly|gl|gg|su|рф"
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]*\w@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,24}(?![\w-])")
_AT = (
    r"(?:\s*(?:\(at\)|\[at\]|\{at\}|<at>|\(собака\)|\[собака\]|\(@\)|\[@\]|@)\s*"
    r"|\s+(?:at|собака)\s+)"
)
_DOT = r"(?:\s*(?:\(dot\)|\[dot\]|\{dot\}|\(точка\)|\.)\s*|\s+(?:dot|точка)\s+)"
_EMAIL_OBFUSCATED = re.compile(
    rf"(?<![\w.+-])\w[\w.+-]*{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}(?:{_TLDS})(?!\w)",
    re.IGNORECASE,
)
_URL_SCHEME = re.compile(r"\b(?:https?|ftp)://[^\s<>\"«»]+|\bwww\.[^\s<>\"«»]+", re.IGNORECASE)
_URL_BARE = re.compile(
    rf"(?<![\w@.-])(?:[\w-]+\.)+(?:{_TLDS})(?![\w-])(?:[/?#][^\s<>\"«»]*)?", re.IGNORECASE
)
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_][A-Za-z0-9_.]{1,29}[A-Za-z0-9_]")
_TRAILING = ".,;:!?)]}'\"»…"

# ---------------------------------------------------------------- IBAN, FIN, plate

# Between the groups of an IBAN: nothing, a space, a non-breaking space, a
# hyphen, or two of them ("AZ21  NABZ", "AZ21-NABZ", "AZ21 NABZ").
_IBAN_SEP = r"[\s-]{0,2}"
_IBAN = re.compile(
    rf"(?<![A-Za-z0-9])[A-Za-z]{{2}}{_IBAN_SEP}\d{{2}}(?:{_IBAN_SEP}[A-Za-z0-9]){{11,30}}"
    r"(?![^\W_])"
)
_IBAN_TAIL = re.compile(r"[\s-]+[a-z]+$")
_IBAN_GAP = re.compile(r"[\s-]+")
# A FIN: 7 characters of A-Z (no I, no O) and 0-9, maybe followed by an
# Azerbaijani ending after a hyphen ("5ZK7H2P-dir").
_SUFFIX_OK = r"(?:(?![\w-])|(?=-[^\W\d_]{1,6}(?![\w-])))"
_FIN = re.compile(rf"(?<![\w-])[A-HJ-NP-Z0-9]{{7}}{_SUFFIX_OK}")
# After the word FIN (or ID, ФИН, vəsiqə…) any case, and O and I typed for 0
# and 1: "FIN: 5zk7h2p", "FIN 5ZKO7H2".
_FIN_LOOSE = re.compile(rf"(?<![\w-])[A-Za-z0-9]{{7}}{_SUFFIX_OK}")
_FIN_CONTEXT = re.compile(
    r"(?<![^\W\d_])(?:f[iİı]n|фин|pin|пин|id|şəxsiyyət|vəsiqə\w*|удостоверени\w*|"
    r"паспорт\w*|passport)(?![^\W\d_])",
    re.IGNORECASE,
)
# Identity card numbers: AZE + 8 digits (older cards), AA + 7 digits (newer).
_ID_CARD = re.compile(rf"(?<![\w-])(?:AZE[ -]?\d{{8}}|AA[ -]?\d{{7}}){_SUFFIX_OK}", re.IGNORECASE)
_IBAN_CONTEXT = re.compile(
    r"(?<![^\W\d_])(?:iban|hesab\w*|kart\w*|сч[её]т\w*|карт\w*|реквизит\w*|account|card)"
    r"(?![^\W\d_])",
    re.IGNORECASE,
)
_PLATE = re.compile(
    rf"(?<![\w-])\d{{2}}(?P<s1>[ -]?)[A-ZА-Я]{{2}}(?P<s2>[ -]?)\d{{3}}{_SUFFIX_OK}"
    rf"|(?<![\w-])\d{{2}}-[a-zа-я]{{2}}-\d{{3}}{_SUFFIX_OK}"
)
# How far before a number the words that name it (FIN, IBAN, hesab…) may stand.
_CONTEXT_WINDOW = 40


def iban_checksum_ok(iban: str) -> bool:
    """ISO 13616 check digits (mod 97)."""
    compact = re.sub(r"[\s-]", "", iban).upper()
    moved = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in moved))
    except ValueError:
        return False
    return number % 97 == 1


def _end_after(text: str, start: int, count: int) -> int:
    """The index just after the ``count``-th letter or digit from ``start``."""
    end = start
    while count > 0 and end < len(text):
        count -= text[end].isalnum()
        end += 1
    return end


def _find_iban(text: str) -> Iterator[tuple[int, int]]:
    for match in _IBAN.finditer(text):
        raw = match.group()
        start = match.start()
        # "…1944-dür", "…1944 idi": an ending or the next words, in lower
        # case after an IBAN in capitals, are not part of it.
        while (tail := _IBAN_TAIL.search(raw)) and not any(
            ch.islower() for ch in raw[: tail.start()]
        ):
            raw = raw[: tail.start()]
        compact = re.sub(r"[\s-]", "", raw)
        end = start + len(raw)
        upper = compact.upper()
        # Azerbaijani IBAN: AZ + 2 check digits + 4-letter bank code + 20
        # characters. Every well-formed one is a hit whatever its check
        # digits (a typo in a published IBAN still points at her), and so is
        # one with up to 5 characters missing; other countries' IBANs are
        # hits when their check digits are right.
        if upper.startswith("AZ") and upper[2:4].isdigit():
            if len(compact) < 23 or not compact[4:8].isalpha():
                continue
            # Lower case is ordinary text ("az 20 manat verdi…") unless the
            # rest is mostly digits or a word such as IBAN or hesab names it.
            if (
                compact != upper
                and sum(ch.isdigit() for ch in compact[8:]) < 10
                and not _IBAN_CONTEXT.search(text, max(0, start - _CONTEXT_WINDOW), start)
            ):
                continue
            if len(compact) > 28:  # stop after 28 characters (separators kept)
                end = _end_after(text, start, 28)
            yield start, end
        elif compact[:2].isupper():
            # The match may run on into the next words ("GB82 WEST … 32 OK"):
            # try it whole, then without its last groups.
            for cut in [len(raw), *(m.start() for m in reversed(list(_IBAN_GAP.finditer(raw))))]:
                part = re.sub(r"[\s-]", "", raw[:cut])
                if len(part) < 15:
                    break
                if len(part) <= 34 and iban_checksum_ok(part):
                    yield start, start + cut
                    break


def _find_fin(text: str) -> Iterator[tuple[int, int]]:
    for match in _FIN.finditer(text):
        value = match.group()
        if any(ch.isdigit() for ch in value) and any(ch.isalpha() for ch in value):
            yield match.start(), match.end()
    for match in _FIN_LOOSE.finditer(text):
        value, start = match.group(), match.start()
        if any(ch.isdigit() for ch in value) and _FIN_CONTEXT.search(
            text, max(0, start - _CONTEXT_WINDOW), start
        ):
            yield start, match.end()
    for match in _ID_CARD.finditer(text):
        yield match.start(), match.end()


# ---------------------------------------------------------------- phones

# Azerbaijani operator and area codes (after +994 or a leading 0): mobile
# 10, 50, 51, 55, 60, 70, 77, 99; Baku 12, Sumqayıt 18, the regions 20-26,
# Naxçıvan 36.
_AZ_CODES = frozenset(
    {"10", "50", "51", "55", "60", "70", "77", "99", "12", "18", "36"}
    | {f"2{d}" for d in range(7)}
)
# The separator between two digits is atomic: its ways of reading " (" (one
# token or two) all end at the next digit, so none is tried twice.
_PHONE_RUN = re.compile(
    r"(?<![\w+])(?:\+|00)?\(?\d(?:(?>(?:[ .\-–/]|\)|\(| \(|\) ){0,2}(?=\d))\d){6,16}(?![\w])"
)
_PHONE_WORD = re.compile(
    r"(?:tel|telefon|nömrə|mobil|whatsapp|вотсап|ватсап|телефон|тел|номер|моб|phone|"
    r"number|call|zəng)\w*\W{0,3}$",
    re.IGNORECASE,
)


def _az_phone_digits(digits: str, shaped_local: bool) -> bool:
    """Whether a digit string is an Azerbaijani number in one of its written forms."""
    for prefix in ("00994", "994", "80", "8", "0", ""):
        if digits.startswith(prefix):
            rest = digits[len(prefix) :]
            if len(rest) == 9 and rest[:2] in _AZ_CODES:
                return True
    return len(digits) == 7 and shaped_local


_DIGIT_GROUP = re.compile(r"\d+")


def _find_phone(text: str) -> Iterator[tuple[int, int]]:
    for match in phonenumbers.PhoneNumberMatcher(text, "AZ", leniency=phonenumbers.Leniency.VALID):
        if sum(ch.isdigit() for ch in match.raw_string) >= 7:
            yield match.start, match.end
    for run in _PHONE_RUN.finditer(text):
        base = run.start()
        groups = [(base + m.start(), base + m.end()) for m in _DIGIT_GROUP.finditer(run.group())]
        counts = [0]  # digits in groups[:n]
        for a, b in groups:
            counts.append(counts[-1] + b - a)
        i = 0
        while i < len(groups):
            found = None
            for j in range(len(groups), i, -1):
                count = counts[j] - counts[i]
                if count < 7 or count > 14:
                    continue
                part = groups[i:j]
                digits = "".join(text[a:b] for a, b in part)
                start, end = part[0][0], part[-1][1]
                # Seven digits alone are a local number only when written
                # like one (493-12-34) or named as one ("tel. 4931234").
                if _az_phone_digits(digits, False) or (
                    count == 7
                    and (
                        [b - a for a, b in part] == [3, 2, 2]
                        or bool(_PHONE_WORD.search(text, max(0, start - 25), start))
                    )
                ):
                    found = (j, start, end)
                    break
            if found:
                j, start, end = found
                if start > 0 and text[start - 1] in "+(":
                    start -= 1
                if end < len(text) and text[end] == ")":
                    end += 1
                yield start, end
                i = j
            else:
                i += 1


# ---------------------------------------------------------------- dates and times

_MONTHS_AZ = "yanvar|fevral|mart|aprel|may|iyun|iyul|avqust|sentyabr|oktyabr|noyabr|dekabr"
_MONTHS_RU = (
    "январ[ья]|феврал[ья]|марта?|апрел[ья]|ма[йя]|июн[ья]|июл[ья]|августа?|"
    "сентябр[ья]|октябр[ья]|ноябр[ья]|декабр[ья]"
)
_MONTHS_EN = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan\.?|feb\.?|mar\.?|apr\.?|jun\.?|jul\.?|aug\.?|sept?\.?|oct\.?|nov\.?|dec\.?"
)
_AZ_END = r"(?:-?(?:[a-zçəğıöşü]{1,6}))?"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_YEAR = r"(?:19|20)\d{2}"
_DATE_RES = [
    # 12.03.2024, 12/03/24, 12-03-2024
    re.compile(rf"(?<![\d.,/-]){_DAY}[./-](?:0?[1-9]|1[0-2])[./-](?:{_YEAR}|\d{{2}})(?![\d.,/-]\d)"),
    # 2024-03-12, 2024.03.12
    re.compile(rf"(?<![\d.-]){_YEAR}[./-](?:0?[1-9]|1[0-2])[./-]{_DAY}(?![\d])"),
    # 12 mart (2024), 12-ci mart, 12 марта 2024 г., 12th of March 2024
    re.compile(
        rf"(?<![\d\w]){_DAY}(?:-?(?:ci|cı|cu|cü|st|nd|rd|th|го|е|ое))?\s*(?:of\s+)?"
        rf"(?:{_MONTHS_AZ}|{_MONTHS_RU}|{_MONTHS_EN})"
        r"(?:-?(?:da|də|dan|dən|dək|ın|in|un|ün|a|ə|ya|yə))?(?![\w])"
        rf"(?:,?\s*{_YEAR}(?:\s*(?:-?ci|-?cü|-?cu|-?cı)?\s*(?:il\w*|г\.|года|год|y\.)?)?)?",
        re.IGNORECASE,
    ),
    # martın 12-si, March 12(th)(, 2024), марта 12
    re.compile(
        rf"(?<![\w])(?:{_MONTHS_AZ}|{_MONTHS_EN})[a-zəıöü]{{0,3}}\s+{_DAY}"
        rf"(?:-?(?:si|sı|su|sü|də|da|dək|st|nd|rd|th|ci|cı|cu|cü|[a-zəıöü]{{1,5}}))?(?![\d])"
        rf"(?:,?\s*{_YEAR})?",
        re.IGNORECASE,
    ),
]
# Place names that look like dates: metro stations and streets.
_DATE_PLACE_AFTER = re.compile(
    r"\s*(?:metro|stansiya|küç|prospekt|pr\.|məhəllə|qəsəbə|massiv|park|meydan|"
    r"метро|станци|улиц|ул\.|проспект|street|avenue|station|metro)",
    re.IGNORECASE,
)
_HOUR = r"(?:[01]?\d|2[0-3])"
_RU_HOURS = "час|два|три|четыре|пять|шесть|семь|восемь|девять|десять|одиннадцать|двенадцать"
_EN_HOURS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_AZ_HOURS = "bir|iki|üç|dörd|beş|altı|yeddi|səkkiz|doqquz|on|on bir|on iki"
_EN_PART = r"(?:[ap]\.?m\.?|o'clock|in the (?:morning|evening|afternoon)|at night)"
_TIME_RES = [
    # 14:30, 14:30-da
    re.compile(rf"(?<![\d:.]){_HOUR}:[0-5]\d(?::[0-5]\d)?(?![\d:])" + _AZ_END),
    # saat 3, saat 14.30-da, saat üçdə
    re.compile(
        rf"(?<![\w])saat\s+(?:{_HOUR}(?:[.:][0-5]\d)?|(?:{_AZ_HOURS})(?=[a-zəı]{{0,3}}(?![\w])))"
        r"(?:-?(?:da|də|dan|dən|a|ə|ya|yə|radək|dək|radə)|[a-zəı]{1,3})?"
        r"(?:\s+(?:radələrində|radə|ə qədər|a qədər))?(?![\w])",
        re.IGNORECASE,
    ),
    # в 3 часа, около 8 утра, в 14.30, в два часа ночи
    re.compile(
        rf"(?<![\w])(?:в|около|к|после)\s+(?:{_HOUR}[.:][0-5]\d|(?:{_HOUR}|{_RU_HOURS})\s*"
        r"(?:часа|часов|час|утра|вечера|дня|ночи)(?:\s+(?:утра|вечера|дня|ночи))?)(?![\w])",
        re.IGNORECASE,
    ),
    # at 8 in the morning, around 9:30 pm, at two in the morning
    re.compile(
        rf"(?<![\w])(?:at|around|about|after|before|by)\s+(?:{_HOUR}(?::[0-5]\d)?|{_EN_HOURS})"
        rf"\s*{_EN_PART}",
        re.IGNORECASE,
    ),
    # 3pm, 7:40 p.m.
    re.compile(r"(?<![\w:.])(?:1[0-2]|0?[1-9])(?::[0-5]\d)?\s*[ap]\.?m\.?(?![\w])", re.IGNORECASE),
]


_DATE_PLACE_BEFORE = re.compile(
    r"(?:metro|m\.|stansiya\w*|станци\w*|метро|м\.|ул\.|улиц\w*|station|street|st\.)\s*$",
    re.IGNORECASE,
)


def _find_dates(text: str) -> Iterator[tuple[int, int]]:
    for regex in _DATE_RES:
        for match in regex.finditer(text):
            if _DATE_PLACE_AFTER.match(text, match.end()) or _DATE_PLACE_BEFORE.search(
                text, max(0, match.start() - 20), match.start()
            ):
                continue
            yield match.start(), match.end()


def _find_times(text: str) -> Iterator[tuple[int, int]]:
    for regex in _TIME_RES:
        for match in regex.finditer(text):
            yield match.start(), match.end()


# ---------------------------------------------------------------- addresses

_STREET_WORDS = (
    r"küç\.|küçəsi\w*|kuc\.|kuç\.|küc\.|kucesi\w*|küçesi\w*|kuçəsi\w*|kuchesi\w*|prospekti\w*|pr\.|pr-t\.?|prospekt|döngəsi\w*|dalanı\w*|"
    r"şossesi\w*|bulvarı\w*|meydanı\w*|massivi\w*|yaşayış kompleksi\w*|"
    r"ул\.|улиц[аеуы]|улицей|пр-т\.?|пр\.|проспект\w*|пер\.|переул\w*|бульвар\w*|шоссе|"
    r"street|st\.|avenue|ave\.|road|rd\.|lane|prospect|blvd\.?|boulevard"
)
# A capitalised word, hyphens allowed ("Şıxəli-Qurbanov", "Ü."). Possessive:
# a run of letters is one part, never split into several in every possible
# way (that was exponential on "Abc-Abc-…" or "AAAA…").
_NAME_PART = rf"(?:[{_UP}][{_L}'’\-]*+\.?)"
_NUMBER_NAME = r"(?:\d{1,2}\s+)?"  # "28 May küçəsi", "20 Yanvar"
# Possessive spaces: "\s*(word)?\s*\d" could otherwise split a long run of
# spaces in every way before finding no digit (no word starts with a space).
_HOUSE = (
    r"(?:,?\s*+(?:ev|bina|mənzil|m\.|dom|д\.|дом|кв\.|kv\.|квартира|house|building|bldg\.?|"
    r"apt\.?|apartment|flat|№|no\.?|#)?\s*+\d{1,4}[A-Za-zА-Яа-я]?(?:/\d{1,4}[A-Za-z]?)?(?!\d)"
    r"(?:-?(?:də|da|de|dək|ə|a|e|ya|yə|ye|dan|dən|den|ci|cı|cu|cü)(?![\w]))?)"
)
_ADDRESS_RES = [
    # Nizami küçəsi 45, H. Əliyev pr. 12, 28 May küç. 3, ul. Nizami 5
    re.compile(
        rf"(?<![\w:.,/-]){_NUMBER_NAME}(?:{_NAME_PART}\s*+){{1,3}}(?i:{_STREET_WORDS})(?![\w])"
        rf"{_HOUSE}{{0,3}}",
    ),
    re.compile(
        rf"(?<![\w])(?i:{_STREET_WORDS})\s*{_NUMBER_NAME}(?:{_NAME_PART}\s*+){{1,3}}{_HOUSE}{{0,3}}",
    ),
    # ev 12, mənzil 45, bina 3, dom 5, kv. 12, д. 5, кв. 12, apartment 4
    re.compile(
        r"(?<![\w])(?:ev|evi|bina|binası|mənzil|mənzili|dom|kv\.?|д\.|дом|кв\.|квартир[аеуы]|"
        r"apartment|apt\.?|flat|house|building|korpus|корпус|blok|подъезд|mikrorayon|"
        r"mkr\.?|мкр\.?)\s*(?:№\s*)?\d{1,4}[A-Za-zА-Яа-я]?(?:/\d{1,4})?(?![\d])"
        rf"{_HOUSE}{{0,2}}",
        re.IGNORECASE,
    ),
    # 45 Nizami Street
    re.compile(
        rf"(?<![\w])\d{{1,4}}[A-Za-z]?\s+(?:\d{{1,2}}\s+)?(?:[{_UP}][{_L}'’\-]*+\s+){{1,3}}"
        r"(?:Street|St\.|Avenue|Ave\.|Road|Lane|Prospect|Boulevard)(?![\w])"
    ),
    # 12-ci mikrorayon, 8-ci kilometr
    re.compile(
        r"(?<![\w])\d{1,2}-?(?:ci|cı|cu|cü)\s+(?:mikrorayon|mkr|kilometr|massiv|sahə|sektor)\w*",
        re.IGNORECASE,
    ),
]


# "Azadlıq prospekti metrosu", "28 May küçəsi stansiyası": a metro station
# named after a street is a public place, not her address.
_STATION_AFTER = re.compile(r"\s*(?:metro|stansiya|станци|метро|station)", re.IGNORECASE)


def _find_addresses(text: str) -> Iterator[tuple[int, int]]:
    for regex in _ADDRESS_RES:
        for match in regex.finditer(text):
            start, end = match.start(), match.end()
            while end > start and text[end - 1] in " ,":
                end -= 1
            if not any(ch.isdigit() for ch in text[start:end]) and _STATION_AFTER.match(
                text, end
            ):
                continue
            yield start, end


# ---------------------------------------------------------------- names


@dataclass(frozen=True)
class _NameData:
    names: frozenset[str]  # lower-case forms, with case endings
    ambiguous: frozenset[str]
    places: frozenset[str]


_AZ_ENDINGS = (
    "a ə ya yə ı i u ü nı ni nu nü yı yi yu yü ın in un ün nın nin nun nün "
    "da də dan dən la lə yla ylə gil gilə gildə gildən dır dir dur dür nan nən "
    "dakı dəki la ilə"
).split()
_RU_ENDINGS = "а у е ом ым ой ей ю я и ы ем ою ею".split()
_SURNAME_LATIN = re.compile(
    r"^[A-ZÇƏĞİIÖŞÜ][a-zçəğıiöşü]+?"
    r"(?:ov|ova|yev|yeva|ev|eva|zadə|zade|lı|li|lu|lü|ovna|evna|oviç|yeviç|ovich|evich)"
    r"(?:a|ə|ya|yə|un|ün|ın|in|nın|nin|nun|nün|u|ü|ı|i|nı|ni|nu|nü|da|də|dan|dən|la|lə|"
    r"s|lar|lər|'s|'a|'ə|'un|'ün|'ın|'in|'dan|'dən|'la|'lə|'da|'də)?$"
)
_SURNAME_CYR = re.compile(
    r"^[А-ЯЁ][а-яё]+?(?:ов|ев|ёв|ин|зад[еэ]|ли|лы|оглы|кызы|ович|евич|овна|евна|ична)"
    r"(?:а|у|ым|ом|е|ой|у|ых|ы|ой|ою|ее|ей|ых|ыми)?$"
)
# Endings that mark a surname even as a sentence's first word. "-li" ends
# ordinary words ("Maraqlı"), and in Russian so do "-ов" and "-ин" (the
# genitive plural "Скриншотов", "Магазин"): a Cyrillic surname that starts a
# sentence counts only beside a given name.
_SURE_SURNAME = re.compile(
    r"^\w+(?:ov|ova|yev|yeva|zadə)(?:a|ə|un|ün|u|ü|da|də|dan|dən)?$"
)
# Words before a name that make it the name of a place: "Центр Гейдара Алиева",
# "имени Низами", "the Heydar Aliyev Center" is handled by _PLACE_AFTER.
_PLACE_BEFORE = re.compile(
    r"^(?:центр\w*|имени|им|проспект\w*|улиц\w*|метро|станци\w*|парк\w*|аэропорт\w*|"
    r"фонд\w*|дворц\w*|дворец)$",
    re.IGNORECASE,
)
_PATRONYMIC = re.compile(r"^(?:oğlu|oğl\.|qızı|qızının|oğlunun|оглы|кызы|oglu|qizi|gizi|kyzy)$")
_TITLES = re.compile(
    r"^(?:müəllim|müəllimə|xanım|bəy|həkim|müəlliməyə|müəllimin|xanımın|bəyin|müəllimə|"
    r"xanıma|bəyə|ханум|ханым|муаллим|бей|бек)$"
)
_TITLE_BEFORE = re.compile(
    r"^(?:Mr|Mrs|Ms|Miss|Dr|Prof|mr|mrs|ms|dr|господин|госпожа|гражданин|гражданка|"
    r"cənab|mister)\.?$"
)
_PLACE_AFTER = re.compile(
    r"^(?:metro|metrosu\w*|m\.|stansiya\w*|rayon\w*|r-n|qəsəbə\w*|park\w*|bağ\w*|meydan\w*|"
    r"prospekt\w*|küç\w*|mall|universitet\w*|institut\w*|adına|liseyi\w*|məktəb\w*|"
    r"xəstəxana\w*|şəhər\w*|kənd\w*|massiv\w*|bazar\w*|ticarət|tc|teatr\w*|"
    r"метро|район\w*|станци\w*|улиц\w*|проспект\w*|парк\w*|поселк\w*|посёлк\w*|"
    r"station|district|street|avenue|park|square|mall|university|bayram\w*|праздник\w*|"
    r"mərkəz\w*|sarayı\w*|hava|aeroport\w*|center|centre|airport|palace|hall|foundation|"
    r"fond\w*|муз\w*|центр\w*|аэропорт\w*|дворец\w*)$",
    re.IGNORECASE,
)


def _name_forms(name: str) -> set[str]:
    low = az_lower(name)
    forms = {low, low + "'s"}
    if re.match(r"[а-яё]", low):
        forms.update(low + e for e in _RU_ENDINGS)
        if low[-1] in "аяйь":
            forms.update(low[:-1] + e for e in _RU_ENDINGS)
    else:
        forms.update(low + e for e in _AZ_ENDINGS)
        forms.update(low + "'" + e for e in _AZ_ENDINGS)
        forms.update(low + "’" + e for e in _AZ_ENDINGS)
    return forms


def _read_list(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@functools.cache
def _name_data() -> _NameData:
    names: set[str] = set()
    ambiguous: set[str] = set()
    for line in _read_list("given_names.txt"):
        name, _, flag = line.partition(" ")
        forms = _name_forms(name)
        names.update(forms)
        if flag.strip() == "*":
            ambiguous.update(forms)
    places = {az_lower(word) for line in _read_list("place_names.txt") for word in line.split()}
    return _NameData(frozenset(names), frozenset(ambiguous), frozenset(places))


# Ordinary Russian words with a surname's ending, met with a capital at a
# sentence's start.
_NOT_SURNAMES = frozenset(
    "готов готова каков какова таков такова здоров здорова суров сурова нов нова плов ров "
    "кров основ слов часов годов домов врагов богов цветов отцов".split()
)


def _is_place(low: str, places: frozenset[str]) -> bool:
    """A listed place, also declined: "Ростове", "Nərimanovda"."""
    if low in places:
        return True
    for ending in ("е", "а", "у", "ом", "ым", "da", "də", "dan", "dən", "a", "ə", "un", "ün"):
        if low.endswith(ending) and low[: -len(ending)] in places:
            return True
    return False


def _sentence_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t\"'«„“(—–-":
        i -= 1
    return i < 0 or text[i] in ".!?:;\n…"


def _find_names(text: str) -> Iterator[tuple[int, int]]:
    data = _name_data()
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    marks = [False] * len(words)

    def strong(k: int) -> bool:
        """A word that is a name wherever it stands."""
        start, _end, word = words[k]
        low = az_lower(word)
        # Chat-style reports often write names in lower case ("rəşad yazdı"):
        # a listed name that is no ordinary word counts in lower case too.
        if word.islower() and len(word) >= 4 and low in data.names:
            return low not in data.ambiguous and not _is_place(low, data.places)
        if not _is_capitalised(word) or _is_place(low, data.places) or low in _NOT_SURNAMES:
            return False
        initial = _sentence_start(text, start)
        if low in data.names and (low not in data.ambiguous or not initial):
            return True
        surname = _SURNAME_LATIN.match(word) or _SURNAME_CYR.match(word)
        # "-li"/"-lı" ends many ordinary words ("maraqlı"), which start a
        # sentence with a capital: trust that ending only inside a sentence.
        return bool(surname) and (not initial or bool(_SURE_SURNAME.match(word)))

    def adjacent(a: int, b: int) -> bool:
        gap = text[words[a][1] : words[b][0]]
        return bool(re.fullmatch(r"\s+|\s*\.\s*|\s*-\s*", gap))

    for k in range(len(words)):
        if strong(k):
            marks[k] = True
    for k in range(len(words)):
        start, end, word = words[k]
        low = az_lower(word)
        # A place noun right after a name-like word makes it a place.
        if marks[k] and k + 1 < len(words) and adjacent(k, k + 1):
            if _PLACE_AFTER.match(words[k + 1][2]):
                marks[k] = False
                continue
        if _PATRONYMIC.match(low) and k > 0 and adjacent(k - 1, k):
            prev_word = words[k - 1][2]
            before_low = az_lower(prev_word)
            # "Vüqar Əli oğlu", but not "Qonşumun oğlu" (the neighbour's son).
            genitive = re.search(r"(?:ın|in|un|ün|nın|nin|ım|im|um|üm)$", before_low)
            if _is_capitalised(prev_word) and (
                before_low in data.names
                or (not genitive and not _sentence_start(text, words[k - 1][0]))
            ):
                marks[k] = marks[k - 1] = True
        if _TITLES.match(low) and k > 0 and adjacent(k - 1, k):
            if _is_capitalised(words[k - 1][2]) and not _is_place(
                az_lower(words[k - 1][2]), data.places
            ):
                marks[k - 1] = True
        if _TITLE_BEFORE.match(word) and k + 1 < len(words) and adjacent(k, k + 1):
            if _is_capitalised(words[k + 1][2]):
                marks[k + 1] = True
        # An initial before a surname: "R. Əliyev", "А. Мамедов".
        if (
            len(word) == 1
            and word.isupper()
            and k + 1 < len(words)
            and text[end : end + 1] == "."
            and marks[k + 1]
        ):
            marks[k] = True
    # A capitalised word just before a surname is its given name, even one the
    # list lacks ("Ламия Гасымова"); so is a listed name on either side.
    for k in range(1, len(words)):
        prev = words[k - 1]
        if (
            marks[k]
            and not marks[k - 1]
            and (_SURNAME_LATIN.match(words[k][2]) or _SURNAME_CYR.match(words[k][2]))
            and adjacent(k - 1, k)
            and _is_capitalised(prev[2])
            and len(prev[2]) > 1
            and not _sentence_start(text, prev[0])
            and not _is_place(az_lower(prev[2]), data.places)
            # "Bravoda Məmmədova": a word in the locative, dative or ablative
            # is a place, not a given name (listed names were marked already).
            and not re.search(r"(?:da|də|dan|dən|ya|yə|ndə|nda)$", prev[2])
        ):
            marks[k - 1] = True
    for k in range(len(words)):
        if marks[k]:
            for n in (k - 1, k + 1):
                if 0 <= n < len(words) and not marks[n] and adjacent(min(k, n), max(k, n)):
                    neighbour = words[n][2]
                    low = az_lower(neighbour)
                    if _is_capitalised(neighbour) and (
                        low in data.names
                        or _SURNAME_LATIN.match(neighbour)
                        or _SURNAME_CYR.match(neighbour)
                    ):
                        marks[n] = True
    k = 0
    while k < len(words):
        if not marks[k]:
            k += 1
            continue
        first = k
        while k + 1 < len(words) and marks[k + 1] and adjacent(k, k + 1):
            k += 1
        start, end = words[first][0], words[k][1]
        if text[end : end + 1] == "." and len(words[k][2]) == 1:
            end += 1
        # A person's name inside a place's name: "Heydər Əliyev Mərkəzi",
        # "Центр Гейдара Алиева". A street with a house number is an address.
        after = k + 1 < len(words) and adjacent(k, k + 1) and _PLACE_AFTER.match(words[k + 1][2])
        joined = first > 0 and adjacent(first - 1, first)
        if not after and not (joined and _PLACE_BEFORE.match(words[first - 1][2])):
            yield start, end
        k += 1


# ---------------------------------------------------------------- her own terms

_CYR_TO_LAT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "j", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "x", "ц": "ts", "ч": "ç", "ш": "ş", "щ": "ş",
    "ъ": "", "ы": "ı", "ь": "", "э": "e", "ю": "yu", "я": "ya", "ә": "ə", "ғ": "ğ", "ҹ": "c",
    "ө": "ö", "ү": "ü", "һ": "h", "ј": "y", "ҝ": "g",
}  # fmt: skip
_VOWELS = set("aeəiıoöuüyw")
_CONSONANT_CLASS = {
    "q": "g", "ğ": "g", "h": "g", "x": "g", "k": "k", "c": "j", "j": "j", "ç": "C", "ş": "S",
    "w": "v",
}  # fmt: skip
_DIGRAPHS = (("dzh", "j"), ("dj", "j"), ("dж", "j"), ("kh", "x"), ("zh", "j"), ("sh", "ş"),
             ("ch", "ç"), ("gh", "ğ"))  # fmt: skip


@functools.lru_cache(maxsize=8192)
def _fold(word: str) -> str:
    """Lower case, Cyrillic written in Azerbaijani Latin, marks dropped: 'Алиев' -> 'aliev'."""
    low = az_lower(word).replace("’", "'").replace("'", "")
    low = low.replace("дж", "c")
    out = "".join(_CYR_TO_LAT.get(ch, ch) for ch in low)
    decomposed = unicodedata.normalize("NFD", out)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


@functools.lru_cache(maxsize=8192)
def _skeleton(word: str) -> str:
    """A spelling-blind key: consonant classes with each run of vowels as one 'a'.

    'Əliyev', 'Aliyev' and 'Алиев' all give 'alav'; 'Həsənov' and 'Гасанов'
    both 'gasanav'. It is coarse on purpose; short terms are matched exactly.
    """
    folded = _fold(word)
    for digraph, single in _DIGRAPHS:
        folded = folded.replace(digraph, single)
    out: list[str] = []
    for ch in folded:
        if ch in _VOWELS or ch in "ıöü":
            symbol = "a"
        elif ch.isalpha():
            symbol = _CONSONANT_CLASS.get(ch, ch)
        else:
            symbol = ch
        if not out or out[-1] != symbol:
            out.append(symbol)
    return "".join(out)


_OWN_ENDINGS = sorted(
    {
        *_AZ_ENDINGS,
        *"dakı dəki ya yə nda ndə ndan ndən na nə sı si su sü lar lər ları ləri dır dir".split(),
        "'s",
        *_RU_ENDINGS,
        *"ого ему ому ой ых их ами ях ах ам ов ев".split(),
    },
    key=len,
)


@functools.cache
def _ending_skeletons() -> tuple[frozenset[str], frozenset[str]]:
    folded = {_fold(e) for e in _OWN_ENDINGS} | {""}
    skeletons = {_skeleton("x" + e)[1:] for e in _OWN_ENDINGS} | {""}
    # "Bakı" + "da": the skeleton may swallow the ending's first vowel.
    skeletons |= {s[1:] for s in skeletons if s.startswith("a")}
    return frozenset(folded), frozenset(skeletons)


def _long_key(key: str) -> bool:
    # Short keys ("Ali" -> "ala") would match half the dictionary: exact only.
    return len(key) >= 4 and sum(ch != "a" for ch in key) >= 2


def _word_matches(term: str, word: str) -> bool:
    """Whether ``word`` is ``term`` with a case ending, in any spelling or script."""
    folded_endings, skeleton_endings = _ending_skeletons()
    term_fold, word_fold = _fold(term), _fold(word)
    if word_fold.startswith(term_fold) and word_fold[len(term_fold) :] in folded_endings:
        return True
    term_key = _skeleton(term)
    if not _long_key(term_key):
        return False
    word_key = _skeleton(word)
    return word_key.startswith(term_key) and word_key[len(term_key) :] in skeleton_endings


# A longer term (a landmark she wrote out) is matched by windows of this many
# words, overlapping by half, so that a text repeating it costs no more than
# a text of short terms. Their hits overlap and merge into one.
_TERM_WINDOW = 8


@dataclass
class _Node:
    children: dict[str, _Node]
    end: bool = False


@dataclass(frozen=True)
class _OwnIndex:
    """Her terms, ready to match: the same answers as :func:`_word_matches`,
    by looking up a word's stem instead of trying every term on every word."""

    root: _Node
    by_fold: dict[str, frozenset[str]]  # folded part -> parts
    by_skeleton: dict[str, frozenset[str]]  # skeleton of a part (long keys only) -> parts
    literals: tuple[str, ...]  # terms of digits only ("050 123 45 67")

    def parts_matching(self, word: str) -> frozenset[str]:
        folded_endings, skeleton_endings = _ending_skeletons()
        found: set[str] = set()
        for key, table, endings in (
            (_fold(word), self.by_fold, folded_endings),
            (_skeleton(word), self.by_skeleton, skeleton_endings),
        ):
            if not table:
                continue
            for cut in range(max(0, len(key) - _max_ending()), len(key) + 1):
                if key[cut:] in endings:
                    found.update(table.get(key[:cut], ()))
        return frozenset(found)


@functools.cache
def _max_ending() -> int:
    folded_endings, skeleton_endings = _ending_skeletons()
    return max(len(e) for e in folded_endings | skeleton_endings)


@functools.lru_cache(maxsize=64)
def _own_index(own_terms: tuple[str, ...]) -> _OwnIndex:
    root = _Node({})
    by_fold: dict[str, set[str]] = {}
    by_skeleton: dict[str, set[str]] = {}
    literals: dict[str, None] = {}

    def add(parts: list[str]) -> None:
        node = root
        for part in parts:
            node = node.children.setdefault(part, _Node({}))
            by_fold.setdefault(_fold(part), set()).add(part)
            key = _skeleton(part)
            if _long_key(key):
                by_skeleton.setdefault(key, set()).add(part)
        node.end = True

    for term in own_terms:
        parts = [m.group() for m in _WORD.finditer(term)]
        digits = re.sub(r"\D", "", term)
        if parts and sum(len(p) for p in parts) >= 3:
            step = _TERM_WINDOW // 2
            for first in range(0, max(1, len(parts) - step), step):
                add(parts[first : first + _TERM_WINDOW])
            # The proper nouns of a longer term stand alone too: "Bravo"
            # of "Bravo supermarketi", "Elnur" and "Əliyev" of a full name.
            if len(parts) > 1:
                for part in parts:
                    if len(part) >= 4 and _is_capitalised(part):
                        add([part])
        elif len(digits) >= 3 and not parts:
            literals[term.strip()] = None
    return _OwnIndex(
        root,
        {key: frozenset(value) for key, value in by_fold.items()},
        {key: frozenset(value) for key, value in by_skeleton.items()},
        tuple(literals),
    )


_GAP = re.compile(r"[\s.\-,]{1,3}")


def _find_own(text: str, own_terms: Iterable[str]) -> Iterator[tuple[int, int]]:
    index = _own_index(tuple(own_terms))
    for literal in index.literals:
        for match in re.finditer(re.escape(literal), text):
            yield match.start(), match.end()
    if not index.root.children:
        return
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    matching: dict[str, frozenset[str]] = {}

    def parts_at(n: int) -> frozenset[str]:
        word = words[n][2]
        if word not in matching:
            matching[word] = index.parts_matching(word)
        return matching[word]

    for k in range(len(words)):
        stack = [(index.root.children[p], k) for p in parts_at(k) if p in index.root.children]
        while stack:
            node, last = stack.pop()
            if node.end:
                yield words[k][0], words[last][1]
            following = last + 1
            if (
                node.children
                and following < len(words)
                and _GAP.fullmatch(text, words[last][1], words[following][0])
            ):
                for part in parts_at(following):
                    child = node.children.get(part)
                    if child is not None:
                        stack.append((child, following))


# ---------------------------------------------------------------- the check


def _find_urls(text: str) -> Iterator[tuple[int, int]]:
    for regex in (_URL_SCHEME, _URL_BARE, _HANDLE):
        for match in regex.finditer(text):
            start, end = match.start(), match.end()
            while end > start and text[end - 1] in _TRAILING:
                end -= 1
            if end > start:
                yield start, end


def _find_emails(text: str) -> Iterator[tuple[int, int]]:
    for regex in (_EMAIL, _EMAIL_OBFUSCATED):
        for match in regex.finditer(text):
            yield match.start(), match.end()


def _find_plates(text: str) -> Iterator[tuple[int, int]]:
    for match in _PLATE.finditer(text):
        if match.group("s1") is not None and match.group("s1") != match.group("s2"):
            continue
        yield match.start(), match.end()


def _candidates(text: str, own_terms: Sequence[str]) -> Iterator[tuple[str, int, int]]:
    finders = (
        ("iban", _find_iban),
        ("email", _find_emails),
        ("url", _find_urls),
        ("phone", _find_phone),
        ("fin", _find_fin),
        ("plate", _find_plates),
        ("address", _find_addresses),
        ("name", _find_names),
        ("date", _find_dates),
        ("time", _find_times),
    )
    for kind, finder in finders:
        for start, end in finder(text):
            yield kind, start, end
    for start, end in _find_own(text, own_terms):
        yield "own", start, end


def check(text: str, *, own_terms: Iterable[str] = ()) -> list[Hit]:
    """Every span of ``text`` that may identify someone, sorted and non-overlapping.

    Linear in the length of ``text`` (no pattern backtracks without bound;
    the test feeds it hostile texts of 100,000 characters), and cached: the
    publication pages check the same drafts against the same terms again and
    again.
    """
    return list(_check(text, tuple(own_terms)))


@functools.lru_cache(maxsize=64)
def _check(text: str, own_terms: tuple[str, ...]) -> tuple[Hit, ...]:
    found = sorted(
        (start, end, kind)
        for kind, start, end in _candidates(text, own_terms)
        if 0 <= start < end <= len(text)
    )
    hits: list[Hit] = []
    cluster_start, cluster_end, cluster_kind = -1, -1, ""
    for start, end, kind in found:
        if start < cluster_end:
            cluster_end = max(cluster_end, end)
            if PRIORITY[kind] > PRIORITY[cluster_kind]:
                cluster_kind = kind
            continue
        if cluster_end > 0:
            hits.append(_hit(text, cluster_kind, cluster_start, cluster_end))
        cluster_start, cluster_end, cluster_kind = start, end, kind
    if cluster_end > 0:
        hits.append(_hit(text, cluster_kind, cluster_start, cluster_end))
    return tuple(hits)


def _hit(text: str, kind: str, start: int, end: int) -> Hit:
    return Hit(kind, start, end, text[start:end])


def redact(text: str, hits: Iterable[Hit], placeholder: str = PLACEHOLDER) -> str:
    """``text`` with every hit replaced by ``placeholder`` (overlapping hits merged)."""
    merged: list[list[int]] = []
    for start, end in sorted((hit.start, hit.end) for hit in hits):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif end > start:
            merged.append([start, end])
    out: list[str] = []
    position = 0
    for start, end in merged:
        out.append(text[position:start])
        out.append(placeholder)
        position = end
    out.append(text[position:])
    return "".join(out)


# ---------------------------------------------------------------- terms of a report


def terms_from_report(document: dict[str, Any]) -> list[str]:
    """Names and places in a report (or message) document, to pass as ``own_terms``.

    From the free text (``text``) and the place she described
    (``where.landmark``): the landmark itself, every name and address the
    check finds there, and every capitalised word inside a sentence (proper
    nouns: a shop, a school, a street). District names are left out: the
    district is published anyway.

    The answer is cached by the texts it reads: the publication pages call
    this for every look at a draft.
    """
    texts: list[str] = []
    for key in ("text", "message", "what_happened"):
        value = document.get(key)
        if isinstance(value, str):
            texts.append(value)
    where = document.get("where")
    landmark = where.get("landmark") if isinstance(where, dict) else None
    if not (isinstance(landmark, str) and landmark.strip()):
        landmark = None
    return list(_terms_of(tuple(texts), landmark))


@functools.lru_cache(maxsize=64)
def _terms_of(texts: tuple[str, ...], landmark: str | None) -> tuple[str, ...]:
    if landmark is not None:
        texts = (*texts, landmark)
    public = _public_places()
    terms: dict[str, None] = {}  # ordered, and a fast "already there?"

    def add(term: str) -> None:
        term = term.strip(" ,.;:!?\"'«»()")
        if len(term) >= 3 and term not in terms and az_lower(term) not in public:
            terms[term] = None

    if landmark is not None:
        add(landmark)
    for value in texts:
        for hit in check(value):
            if hit.kind in ("name", "address", "plate", "phone", "email", "url", "fin", "iban"):
                add(hit.text)
        for match in _WORD.finditer(value):
            word = match.group()
            if (
                _is_capitalised(word)
                and len(word) >= 3
                and not _sentence_start(value, match.start())
                and az_lower(word) not in _COMMON_CAPITALISED
            ):
                add(word)
    return tuple(terms)


# Capitalised words that are no one's name or place (months, days, the
# languages and the country) — a report mentions them all the time.
_COMMON_CAPITALISED = frozenset(
    az_lower(word)
    for word in (
        "Azərbaycan Azerbaijan Азербайджан Bakı Baku Баку Sumqayıt İnstagram Instagram "
        "WhatsApp Telegram Facebook TikTok Google Bolt Uber Yandex İnternet Internet "
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday "
        "January February March April May June July August September October November December "
        "I I'm I've I'd Mr Mrs Ms Dr ASAN DOST"
    ).split()
)


@functools.cache
def _public_places() -> frozenset[str]:
    from securedrop_like import geo

    names = {az_lower(word) for word in _COMMON_CAPITALISED}
    for district in geo.load_districts():
        for name in (district.name_az, district.name_ru, district.name_en):
            names.add(az_lower(name))
            names.add(az_lower(name.split()[0]))
    return frozenset(names)
