"""The az and ru catalogues are complete, current, and keep every placeholder."""

from __future__ import annotations

import gettext
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
TRANSLATIONS = ROOT / "securedrop_like" / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def _catalog(lang: str) -> Catalog:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def _strings(message) -> list[str]:  # type: ignore[no-untyped-def]
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def _ids(message) -> list[str]:  # type: ignore[no-untyped-def]
    return list(message.id) if isinstance(message.id, tuple) else [message.id]


@pytest.fixture(scope="module")
def fresh_template(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    out = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-k",
            "_l",
            "-o",
            str(out),
            "--no-location",
            "--sort-output",
            "--project=sesim",
            "securedrop_like",
            "source_interface",
            "journalist_interface",
            "public_map",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    with out.open("rb") as fh:
        return read_po(fh)


@pytest.mark.parametrize("lang, plurals", [("az", 2), ("ru", 4)])
def test_every_message_is_translated_and_none_is_fuzzy(
    fresh_template: Catalog, lang: str, plurals: int
) -> None:
    catalog = _catalog(lang)
    assert catalog.num_plurals == plurals
    missing = []
    for template_message in fresh_template:
        if not template_message.id:
            continue
        message = catalog.get(template_message.id)
        if message is None or message.fuzzy or not all(_strings(message)):
            missing.append(_ids(template_message)[0])
        elif isinstance(message.string, tuple):
            assert len(message.string) == plurals, message.id
    assert missing == [], f"{lang}: {len(missing)} messages missing or fuzzy: {missing[:10]}"


@pytest.mark.parametrize("lang", ["az", "ru"])
def test_translations_keep_every_placeholder(lang: str) -> None:
    for message in _catalog(lang):
        if not message.id:
            continue
        wanted = set(PLACEHOLDER.findall(" ".join(_ids(message))))
        for text in _strings(message):
            assert set(PLACEHOLDER.findall(text)) <= wanted, (message.id, text)
            if len(_strings(message)) == 1:
                assert set(PLACEHOLDER.findall(text)) == wanted, (message.id, text)


def test_azerbaijani_is_in_latin_script_with_its_own_letters() -> None:
    texts = [t for m in _catalog("az") if m.id for t in _strings(m)]
    assert not any(CYRILLIC.search(t) for t in texts)
    joined = " ".join(texts)
    for letter in "əğıöüşç":
        assert letter in joined


def test_russian_is_in_cyrillic() -> None:
    texts = [t for m in _catalog("ru") if m.id for t in _strings(m)]
    assert sum(bool(CYRILLIC.search(t)) for t in texts) > 0.9 * len(texts)


def test_russian_plural_forms_follow_the_four_form_rule() -> None:
    plural = gettext.c2py(_catalog("ru").plural_expr)  # what gettext will evaluate
    forms = {n: plural(n) for n in (1, 2, 5, 11, 21, 22, 25, 111)}
    assert forms == {1: 0, 2: 1, 5: 2, 11: 2, 21: 0, 22: 1, 25: 2, 111: 2}
