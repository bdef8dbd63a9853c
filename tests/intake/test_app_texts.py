"""The texts she receives and how her few words are read (intake/texts.py)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import force_locale

from crypto.onion import onion_address
from intake import texts
from securedrop_like.config import Config

RECEIPT = "1234 5678 9012 3456 7890"


@pytest.fixture
def babel_app(instance: object) -> Flask:
    from intake.app import create_app

    config: Config = instance.config  # type: ignore[attr-defined]
    return create_app(config, _no_store(config))


def _no_store(config: Config) -> object:
    from intake.base import Intake
    from tests.intake.app_support import FakeStore

    return Intake(config, FakeStore())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Müdir mənə dedi ki, sənədlərimi imzalamaq üçün onunla görüşməliyəm.", "az"),
        ("Mudir mene dedi ki senedleri imzalamaq ucun onunla gorusmeliyem", "az"),
        ("Polis isde meni incidir", "az"),
        ("Начальник сказал, что подпишет документы, если я приду одна.", "ru"),
        ("Nachalnik skazal", "az"),  # transliterated Russian: not clearly anything
        ("The official said he would sign my papers if I came back alone.", "en"),
        ("He asked me for money", "en"),
        ("help", "az"),  # one word is not clearly English
        ("", "az"),
        ("12345", "az"),
        ("Salam, the man at the office", "en"),
        ("ŞİKAYƏT", "az"),
        ("Он сказал OK", "ru"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert texts.detect_language(text) == lang


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # an extension character takes two septets
        ("€" * 81, 2),
        ("a" * 152 + "€", 1),
        # 153 septets fit a part, but the escape pair may not be split: 152 + [€] -> next
        ("a" * 152 + "€" + "a" * 10, 2),
        ("ə" * 70, 1),  # UCS-2
        ("ə" * 71, 2),
        ("ə" * 134, 2),
        ("ə" * 135, 3),
        ("a" * 159 + "ə", 3),  # one ə makes the whole text UCS-2: 160 units
        ("д" * 67 * 2, 2),
        ("äöüñÄÖÑÜéèàÇ", 1),  # these have GSM-7 codes
        ("ç", 1),
        ("😀" * 35, 1),  # a surrogate pair is two UTF-16 units
        ("😀" * 36, 2),
    ],
)
def test_sms_segments(text: str, segments: int) -> None:
    assert texts.sms_segments(text) == segments


def test_gsm7_membership() -> None:
    assert texts.is_gsm7("Hello, world! @£$¥ {}[]~|^€\\")
    assert not texts.is_gsm7("ə")
    assert not texts.is_gsm7("ç")  # only the capital Ç has a GSM-7 code
    assert not texts.is_gsm7("Привет")


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop! ",
        "s.t.o.p",
        "DAYAN",
        "Dayan.",
        "dur",
        "DUR!!",
        "стоп",
        "СТОП",
        "Стоп.",
    ],  # fmt: skip
)
def test_stop_words(text: str) -> None:
    assert texts.is_stop(text)
    assert not texts.is_yes(text)


@pytest.mark.parametrize(
    "text",
    ["YES", "yes!", "Bəli", "BƏLİ", "beli", "hə", "Hə.", "да", "Да!", "ДА"],
)
def test_yes_words(text: str) -> None:
    assert texts.is_yes(text)
    assert not texts.is_stop(text)


@pytest.mark.parametrize(
    "text",
    ["stop it", "please stop", "yes he did", "dayanmadı", "Да, он сказал", "stopp", "", "beli?x"],
)
def test_words_inside_a_report_are_no_command(text: str) -> None:
    assert not texts.is_stop(text)
    assert not texts.is_yes(text)


def test_command_language() -> None:
    assert texts.command_language("Dayan") == "az"
    assert texts.command_language("ДА") == "ru"
    assert texts.command_language("yes") == "en"
    assert texts.command_language("STOP") is None  # hers stays
    assert texts.command_language("hello") is None


# A v3 onion address (56 letters and digits, then .onion) is the longest thing an
# answer carries besides the receipt.
ONION = onion_address(bytes(range(32)))


@pytest.mark.parametrize("onion", ["", ONION])
@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_every_answer_fits_in_two_sms_in_every_language(
    babel_app: Flask, lang: str, onion: str
) -> None:
    with babel_app.app_context():
        first = texts.first_answers(lang, RECEIPT, onion)
        later = texts.first_answers(lang, None, onion)
        every = [*first, *later, texts.withdrawn(lang), texts.opted_in(lang)]
    assert len(first) == (3 if onion else 2) and len(later) == 1
    assert RECEIPT in first[0]
    for text in every:
        assert text.strip()
        assert texts.sms_segments(text) <= texts.MAX_SEGMENTS, (lang, len(text), text)
        # ... with a few characters to spare for a translator's later touch
        assert texts.sms_segments(text + "...") <= texts.MAX_SEGMENTS, (lang, len(text), text)


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_the_site_is_named_only_when_she_can_find_it(babel_app: Flask, lang: str) -> None:
    """With an onion address she gets it, to open in Tor Browser, between her receipt
    and the YES question; without one, no answer speaks of a site."""
    with babel_app.app_context():
        without = texts.first_answers(lang, RECEIPT)
        receipt, site, question = texts.first_answers(lang, RECEIPT, ONION)
    assert [receipt, question] == without
    assert ONION in site and "Tor Browser" in site
    assert all(ONION not in t for t in (receipt, question))
    for text in without:
        assert "Tor" not in text and ".onion" not in text
        assert "sayt" not in text.lower() and "сайт" not in text.lower()
        assert "site" not in text.lower()


def test_answer_takes_the_onion_address_from_the_intake_app(instance: object) -> None:
    """What the courier passes to ``IntakeStore.flush``: in the app's context, the
    instance's onion address; outside any app, none."""
    import dataclasses

    from intake.app import create_app

    config: Config = instance.config  # type: ignore[attr-defined]
    with_onion = dataclasses.replace(config, onion_address=ONION)
    app = create_app(with_onion, _no_store(with_onion))
    with app.app_context():
        said = texts.answer("ru", RECEIPT)
    assert len(said) == 3 and ONION in said[1] and said[1].startswith("Наш сайт")
    plain = create_app(config, _no_store(config))
    with plain.app_context():
        assert texts.answer("ru", RECEIPT) == texts.first_answers("ru", RECEIPT)
    assert len(texts.answer("az", RECEIPT)) == 2  # no app: no address to give


def test_the_receipt_has_one_name_in_each_language(babel_app: Flask) -> None:
    """The glossary's name of the 20-digit number, in the answer that carries it, the
    channel pages and the log-in; the old names nowhere in the catalogues."""
    from securedrop_like import channel_notes
    from securedrop_like.i18n import TRANSLATIONS

    names = {"az": "20 rəqəmli nömrə", "ru": "номер из 20 цифр"}
    for lang, name in names.items():
        with babel_app.test_request_context(), force_locale(lang):
            assert name in texts.first_answers(lang, RECEIPT)[0]
            assert any(name in line for line in channel_notes.reveals("sms"))
        po = (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").read_text("utf-8")
        strings = "\n".join(line for line in po.splitlines() if line.startswith(("msgstr", '"')))
        for old in ("qəbz", "Qəbz", "квитанц"):
            assert old not in strings, (lang, old)


def test_answers_are_translated(babel_app: Flask) -> None:
    with babel_app.app_context():
        en, az, ru = (texts.first_answers(lang, RECEIPT) for lang in ("en", "az", "ru"))
        stops = {lang: texts.withdrawn(lang) for lang in ("en", "az", "ru")}
    assert en[0].startswith("We received your report")
    assert az[0] != en[0] and ru[0] != en[0] and az[1] != en[1] and ru[1] != en[1]
    assert any(ch in az[0] + az[1] for ch in "əğışçöü")
    assert any("а" <= ch <= "я" for ch in ru[0])
    assert "BƏLİ" in az[1] or "bəli" in az[1].lower()
    assert "ДА" in ru[1]
    assert len(set(stops.values())) == 3
    # An unknown language falls back to Azerbaijani.
    with babel_app.app_context():
        assert texts.first_answers("de", RECEIPT) == az


def test_answers_are_translated_outside_an_app_context_too() -> None:
    from flask import has_app_context

    assert not has_app_context()
    assert texts.withdrawn("ru").startswith("Всё, что вы прислали, удалено")
    assert texts.first_answers("az", RECEIPT)[0].startswith("Müraciət alındı.")
    assert texts.opted_in("en").startswith("Thank you.")


def test_the_log_in_error_fits_a_receipt_too(babel_app: Flask) -> None:
    """Shown for a codename and for a 20-digit number alike: it speaks of both, and
    not of words alone."""
    from securedrop_like.i18n import gettext

    msgid = (
        "We could not find a report with this codename or number. Please check what you "
        "typed and try again."
    )
    said = {}
    for lang in ("az", "ru", "en"):
        with babel_app.test_request_context(), force_locale(lang):
            said[lang] = gettext(msgid)
    assert "kod adı" in said["az"] and "nömrə" in said["az"] and "söz" not in said["az"]
    assert "кодовым именем" in said["ru"] and "номер" in said["ru"] and "слов" not in said["ru"]
    assert said["en"] == msgid
