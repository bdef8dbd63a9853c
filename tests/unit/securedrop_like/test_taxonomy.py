"""Report-form choices: stable codes and translatable labels."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask_babel import Babel, LazyString, force_locale  # type: ignore[import-untyped, unused-ignore]

from securedrop_like import taxonomy
from securedrop_like.taxonomy import (
    CONSENT,
    DEFAULT_CONSENT,
    GROUPS,
    HARASSMENT_TYPES,
    PARTS_OF_DAY,
    SERVICES,
    Choice,
    by_code,
    codes,
)

SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
ALL_CHOICES = [(name, choice) for name, group in GROUPS.items() for choice in group]
IDS = [f"{name}.{choice.code}" for name, choice in ALL_CHOICES]


@pytest.fixture
def app() -> Iterator[Flask]:
    # An app without catalogues: lazy strings then render as their msgid.
    app = Flask(__name__)
    Babel(app)
    with app.app_context(), force_locale("en"):
        yield app


def test_groups_are_all_listed() -> None:
    names = {name for name in dir(taxonomy) if name.isupper() and name != "GROUPS"}
    listed = {id(group) for group in GROUPS.values()}
    tuples = {name for name in names if isinstance(getattr(taxonomy, name), tuple)}
    assert {id(getattr(taxonomy, name)) for name in tuples} == listed
    assert len(GROUPS) == 7


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_codes_are_unique_in_each_group(name: str) -> None:
    group = GROUPS[name]
    assert len(codes(group)) == len(group)


@pytest.mark.parametrize(("name", "choice"), ALL_CHOICES, ids=IDS)
def test_codes_are_snake_case_ascii(name: str, choice: Choice) -> None:
    assert choice.code.isascii() and SNAKE_CASE.fullmatch(choice.code)
    assert len(choice.code) <= 20


@pytest.mark.parametrize(("name", "choice"), ALL_CHOICES, ids=IDS)
def test_labels_are_lazy_and_not_empty(app: Flask, name: str, choice: Choice) -> None:
    assert isinstance(choice.label, LazyString)
    assert str(choice.label).strip()
    if choice.description is not None:
        assert isinstance(choice.description, LazyString)
        assert str(choice.description).strip()


def test_every_harassment_type_has_a_short_description(app: Flask) -> None:
    for choice in HARASSMENT_TYPES:
        assert choice.description is not None
        text = str(choice.description)
        assert len(text) <= 120 and text.endswith(".")


def test_sextortion_is_first_and_other_is_last() -> None:
    assert HARASSMENT_TYPES[0].code == "sextortion"
    assert HARASSMENT_TYPES[-1].code == "other"


def test_default_consent_is_a_consent_code() -> None:
    assert DEFAULT_CONSENT in codes(CONSENT)
    assert codes(CONSENT) == {"yes", "ask_first", "no"}


def test_helpers_find_choices_by_code() -> None:
    assert by_code(SERVICES, "police").code == "police"
    assert "none" in codes(SERVICES)
    assert "unknown" in codes(PARTS_OF_DAY)
    with pytest.raises(KeyError):
        by_code(SERVICES, "nonexistent")


def test_choices_compare_by_code_without_an_app_context() -> None:
    # Comparing or hashing must not translate labels (no app context here).
    assert by_code(CONSENT, "no") == CONSENT[2]
    assert len({*CONSENT, *CONSENT}) == 3
