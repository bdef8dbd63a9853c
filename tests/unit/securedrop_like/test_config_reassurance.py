"""The settings behind the reassurance on the start and codename pages (issue 11, item 8):
``answer_within_days`` and ``consent_statement_<lang>``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from securedrop_like.config import (
    CONFIG_NAME,
    MAX_ANSWER_WITHIN_DAYS,
    MAX_STATEMENT_CHARS,
    Config,
    ConfigError,
    load_config,
    validate,
)


@pytest.fixture(autouse=True)
def no_sesim_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SESIM_"):
            monkeypatch.delenv(name)


def home_with(tmp_path: Path, text: str) -> Path:
    (tmp_path / CONFIG_NAME).write_text(text, encoding="utf-8")
    return tmp_path


def test_defaults_promise_three_days_and_use_the_translated_statement(tmp_path: Path) -> None:
    config = load_config(home_with(tmp_path, ""))
    assert config.answer_within_days == 3
    assert [config.consent_statement(lang) for lang in ("az", "ru", "en")] == ["", "", ""]


def test_the_file_sets_each_language_on_its_own(tmp_path: Path) -> None:
    text = (
        "answer_within_days = 7\n"
        'consent_statement_ru = "  Мы не обращаемся в полицию без вашего согласия.  "\n'
        'consent_statement_en = "We never contact the police without your consent."\n'
    )
    config = load_config(home_with(tmp_path, text))
    assert config.answer_within_days == 7
    assert config.consent_statement("ru") == "Мы не обращаемся в полицию без вашего согласия."
    assert config.consent_statement("en") == "We never contact the police without your consent."
    assert config.consent_statement("az") == ""  # not set: the translated default
    assert config.consent_statement("de") == ""  # no such page language
    assert "consent_statement_ru" not in config.extra


def test_the_environment_overrides_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESIM_ANSWER_WITHIN_DAYS", "10")
    monkeypatch.setenv("SESIM_CONSENT_STATEMENT_AZ", "Polisə yalnız razılığınızla.")
    config = load_config(home_with(tmp_path, "answer_within_days = 2\n"))
    assert config.answer_within_days == 10
    assert config.consent_statement("az") == "Polisə yalnız razılığınızla."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("answer_within_days = 0\n", "answer_within_days"),
        ("answer_within_days = -3\n", "answer_within_days"),
        (f"answer_within_days = {MAX_ANSWER_WITHIN_DAYS + 1}\n", "answer_within_days"),
        ('answer_within_days = "soon"\n', "answer_within_days"),
        ("answer_within_days = true\n", "answer_within_days"),
        (f'consent_statement_en = "{"x" * (MAX_STATEMENT_CHARS + 1)}"\n', "consent_statement_en"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(home_with(tmp_path, text))


def test_the_bounds_themselves_are_accepted(tmp_path: Path) -> None:
    validate(Config(home=tmp_path, answer_within_days=1))
    validate(Config(home=tmp_path, answer_within_days=MAX_ANSWER_WITHIN_DAYS))
    validate(Config(home=tmp_path, consent_statement_az="ə" * MAX_STATEMENT_CHARS))
