"""What she receives, in her language, and how we read her few words.

- :func:`detect_language`: az, ru or en from her text (default az: the women Səsim
  is for write Azerbaijani, often without its letters on a phone keyboard);
- :func:`sms_segments`: how many SMS a text takes (GSM-7 with its extension table,
  else UCS-2), so that every automatic answer is tested to fit in two;
- :func:`is_stop` / :func:`is_yes`: the whole message is STOP or YES in az, ru or en,
  whatever its case, accents and punctuation;
- the automatic answers, through Flask-Babel in her language (in the current app's
  context, or a bare one outside any).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context
from flask_babel import Babel, force_locale

from securedrop_like.config import LOCALES
from securedrop_like.i18n import TRANSLATIONS
from securedrop_like.i18n import gettext as _

DEFAULT_LANG = "az"
MAX_SEGMENTS = 2  # every automatic answer fits in two SMS

# -- language ------------------------------------------------------------------------

_AZ_LETTERS = frozenset("əğışçöüƏĞİŞÇÖÜ")
_WORD = re.compile(r"[^\W\d_]+")
# Frequent Azerbaijani words, also as typed without its letters on a phone.
_AZ_WORDS = frozenset(
    """
    və ve bu bir ki da də de mən men məni meni mənə mene mənim menim o onu ona onun
    biz bizi siz sizə size sən sen var yox yoxdur idi oldu olur olub dedi deyir deyib
    üçün ucun ilə ile amma ancaq sonra indi hər her heç hec çox cox nə ne niyə niye
    necə nece harada burada orada gün gun iş is işdə isde işə ise kişi kisi qadın qadin
    qız qiz pul polis müdir mudir rəis reis həkim hekim məktəb mekteb salam xahiş xahis
    edirəm edirem kömək komek lazım lazim istədi istedi istəyir isteyir gəl gel getdi
    mənə-dedi təklif teklif yanına yanina evə eve ev şöbə sobe şöbəsində sobesinde
    dövlət dovlet sənəd sened sənədlər senedler zəng zeng yazdı yazdi görüş gorus
    """.split()
)
_EN_WORDS = frozenset(
    """
    the and i my me he she his her him they them we you your is was were are am be
    been to of in on at for with from that this it said asked told wanted wants would
    not have has had if or but when where what who because please help office man
    boss police job work document documents after before then there
    """.split()
)


def _letters(text: str) -> tuple[int, int]:
    """(Cyrillic letters, Latin letters) in ``text``."""
    cyr = lat = 0
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        if name.startswith("CYRILLIC"):
            cyr += 1
        elif name.startswith("LATIN"):
            lat += 1
    return cyr, lat


def detect_language(text: str) -> str:
    """ "az", "ru" or "en" for her text. Cyrillic is Russian; Azerbaijani letters or
    words are Azerbaijani; clearly English words are English; anything else, az."""
    cyr, lat = _letters(text)
    if cyr and cyr >= lat:
        return "ru"
    if any(ch in _AZ_LETTERS for ch in text):
        return "az"
    words = [w.casefold() for w in _WORD.findall(text)]
    az = sum(1 for w in words if w in _AZ_WORDS)
    en = sum(1 for w in words if w in _EN_WORDS)
    if en >= 2 and en > az:
        return "en"
    return DEFAULT_LANG


# -- STOP and YES --------------------------------------------------------------------

_FOLD = str.maketrans({"ə": "e", "ı": "i", "ё": "е"})


def _fold(text: str) -> str:
    """Lower case, no accents, no punctuation or spaces: "Bəli!" -> "beli"."""
    lowered = text.casefold().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if ch.isalpha() and not unicodedata.combining(ch))


_STOP = {"stop": None, "dayan": "az", "dur": "az", "стоп": "ru"}
_YES = {"yes": "en", "bəli": "az", "beli": "az", "hə": "az", "да": "ru"}
_STOP_FOLDED = {_fold(w): lang for w, lang in _STOP.items()}
_YES_FOLDED = {_fold(w): lang for w, lang in _YES.items()}


def is_stop(text: str) -> bool:
    """The whole message is STOP (stop, az dayan or dur, ru стоп)."""
    return _fold(text) in _STOP_FOLDED


def is_yes(text: str) -> bool:
    """The whole message is YES (yes, az bəli, beli or hə, ru да)."""
    return _fold(text) in _YES_FOLDED


def command_language(text: str) -> str | None:
    """The language a STOP or YES word belongs to (None for "stop", which is every
    language's, and for anything that is not such a word)."""
    folded = _fold(text)
    if folded in _STOP_FOLDED:
        return _STOP_FOLDED[folded]
    return _YES_FOLDED.get(folded)


# -- SMS segments --------------------------------------------------------------------

# 3GPP TS 23.038: the GSM 7-bit default alphabet (without the escape, 0x1B) and the
# characters of its extension table (each sent as escape + character: two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_SINGLE, GSM7_PART = 160, 153  # septets: one SMS, each part of a long one
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _pack(units: list[int], single: int, part: int) -> int:
    """Segments for characters of ``units`` each (an escape pair or a surrogate pair
    is never split across two segments)."""
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments += 1
            used = 0
        used += size
    return segments


def sms_segments(text: str) -> int:
    """How many SMS ``text`` takes: GSM-7 (160 septets, 153 a segment when split; an
    extension character takes two) if every character has a GSM-7 code, else UCS-2
    (70 UTF-16 units, 67 a segment). An empty text is still one SMS."""
    if is_gsm7(text):
        return _pack([2 if ch in GSM7_EXTENSION else 1 for ch in text], GSM7_SINGLE, GSM7_PART)
    return _pack([2 if ord(ch) > 0xFFFF else 1 for ch in text], UCS2_SINGLE, UCS2_PART)


# -- the automatic answers -----------------------------------------------------------


_BARE_APP: Flask | None = None
_BARE_LOCK = threading.Lock()


def _bare_app() -> Flask:
    """A minimal app with the catalogues, for a caller outside any app context."""
    global _BARE_APP
    with _BARE_LOCK:
        if _BARE_APP is None:
            app = Flask(__name__)
            app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
            app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANG
            Babel(app)
            _BARE_APP = app
        return _BARE_APP


@contextmanager
def in_language(lang: str) -> Iterator[None]:
    """Translate into ``lang`` (az if it is none of ours) inside the block, in the
    current app's context or, outside any, in a bare one."""
    lang = lang if lang in LOCALES else DEFAULT_LANG
    if has_app_context():
        with force_locale(lang):
            yield
        return
    with _bare_app().app_context(), force_locale(lang):
        yield


def first_answers(lang: str, receipt: str | None, onion: str = "") -> list[str]:
    """What she receives when her parts were joined into a report.

    For a new thread: her receipt with a safety note; then, only when the instance has
    an onion address (``onion``), where to use it: the address, to open in Tor Browser
    (a woman who wrote by SMS may never have seen our site; without an address we say
    nothing of a site she could not find); then how to get the lawyers' answers here
    (YES) or delete everything (STOP). For a known thread, a short word that it
    arrived. Each text fits in two SMS."""
    with in_language(lang):
        if receipt is None:
            return [_("We received your message. Thank you.")]
        answers = [
            _(
                "We received your report. Your receipt number: %(receipt)s. Keep it safe "
                "and delete this message.",
                receipt=receipt,
            )
        ]
        if onion:
            answers.append(
                _(
                    "Our site: %(onion)s. Open it in Tor Browser and log in with your "
                    "receipt number.",
                    onion=onion,
                )
            )
        answers.append(_yes_question())
        return answers


def _yes_question() -> str:
    return _(
        "Reply YES to get the lawyers' answers here: we keep your number or address "
        "encrypted until your case is closed. Reply STOP to delete everything."
    )


def withdrawn(lang: str) -> str:
    """The confirmation of STOP."""
    with in_language(lang):
        return _("Everything you sent us has been deleted. We will not write to you again.")


def opted_in(lang: str) -> str:
    """The confirmation of YES."""
    with in_language(lang):
        return _(
            "Thank you. The lawyers' answers will come here until your case is closed. "
            "Reply STOP to delete everything."
        )


def _onion_address() -> str:
    """The source interface's onion address of the current app's instance ("" outside
    an app, or when the instance has none)."""
    if not has_app_context():
        return ""
    intake = current_app.extensions.get("intake")
    config = getattr(intake, "config", None)
    onion = getattr(config, "onion_address", "")
    return onion if isinstance(onion, str) else ""


def answer(lang: str, receipt: str | None) -> list[str]:
    """``IntakeStore.flush``'s ``answer`` argument (called in the intake app's context,
    whose instance gives the onion address)."""
    return first_answers(lang, receipt, _onion_address())
