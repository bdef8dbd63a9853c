"""The report form's "When" box: three selects onto the report document's ``when``.

The document format is what the staff interface and the workstation read
(precision "day" with YYYY-MM-DD, "month" with YYYY-MM, or "unknown"), so
each accepted answer is read back here through the workstation's reader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale  # type: ignore[import-untyped, unused-ignore]
from werkzeug.datastructures import MultiDict

from journalist_interface.workstation.casestore import ReportFields
from journalist_interface.workstation.stats import facts_from_report
from source_interface import forms

TODAY = dt.date(2026, 12, 2)


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.test_request_context("/"):
        yield


def parse(lang: str = "en", **fields: str) -> forms.FormResult:
    with force_locale(lang):
        return forms.parse_report(
            MultiDict({"what_happened": "It happened.", **fields}), 1000, TODAY
        )


@pytest.mark.parametrize(
    ("fields", "when"),
    [
        ({}, {"precision": "unknown", "part_of_day": None}),
        (
            {"when_day": "3", "when_month": "2", "when_year": "2025"},
            {"precision": "day", "date": "2025-02-03", "part_of_day": None},
        ),
        (
            {"when_day": "29", "when_month": "2", "when_year": "2024"},  # a leap year
            {"precision": "day", "date": "2024-02-29", "part_of_day": None},
        ),
        (
            {"when_month": "11", "when_year": "2026", "part_of_day": "evening"},
            {"precision": "month", "date": "2026-11", "part_of_day": "evening"},
        ),
        (  # Baku is ahead of UTC: her today may be the server's tomorrow
            {"when_day": "3", "when_month": "12", "when_year": "2026"},
            {"precision": "day", "date": "2026-12-03", "part_of_day": None},
        ),
    ],
)
def test_accepted_dates_map_onto_the_existing_document_format(
    ctx: None, fields: dict[str, str], when: dict[str, Any]
) -> None:
    result = parse(**fields)
    assert result.errors == {}
    assert result.document["when"] == when
    # What the workstation reads from it.
    read = ReportFields.from_document(result.document)
    assert (read.date, read.date_precision) == (when.get("date"), when["precision"])
    month = facts_from_report(result.document).month
    assert month == (when["date"][:7] if "date" in when else "unknown")


@pytest.mark.parametrize(
    ("day", "month", "year", "days"),
    [
        ("31", "2", "2025", 28),
        ("30", "2", "2024", 29),
        ("31", "4", "2025", 30),
        ("31", "6", "2026", 30),
    ],
)
def test_a_day_the_month_does_not_have_is_refused_and_nothing_is_lost(
    ctx: None, day: str, month: str, year: str, days: int
) -> None:
    result = parse(when_day=day, when_month=month, when_year=year, landmark="28 May")
    assert result.errors["when"] == f"That month has only {days} days. Please check the day."
    assert (result.values["when_day"], result.values["when_month"]) == (day, month)
    assert (result.values["when_year"], result.values["landmark"]) == (year, "28 May")
    assert result.document["when"]["precision"] == "unknown"


@pytest.mark.parametrize("lang", ["az", "ru"])
def test_the_impossible_day_message_is_translated(app: Flask, ctx: None, lang: str) -> None:
    result = parse(lang, when_day="31", when_month="2", when_year="2025")
    message = result.errors["when"]
    assert "28" in message and "month" not in message, message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"when_day": "5"},
            "Please choose the month and the year as well, or leave the day empty.",
        ),
        (
            {"when_day": "5", "when_month": "3"},
            "Please choose the month and the year as well, or leave the day empty.",
        ),
        ({"when_month": "3"}, "Please choose both the month and the year."),
        (
            {"when_year": "2024"},
            "Please choose the month too. If you remember only the year, leave the "
            "date empty and mention the year in your own words.",
        ),
        ({"when_month": "12", "when_year": "2027"}, "Please check the year."),
        ({"when_day": "5", "when_month": "1", "when_year": "2027"}, "Please check the year."),
        (
            {"when_day": "4", "when_month": "12", "when_year": "2026"},
            "This date is in the future. Please check it.",
        ),
        ({"when_month": "1", "when_year": "1949"}, "Please check the year."),
        ({"when_day": "x", "when_month": "1", "when_year": "2020"}, None),
        ({"when_day": "0", "when_month": "1", "when_year": "2020"}, None),
        ({"when_day": "32", "when_month": "1", "when_year": "2020"}, None),
        ({"when_month": "13", "when_year": "2020"}, None),
        ({"when_month": "٣", "when_year": "2020"}, None),
    ],
)
def test_incomplete_or_wrong_dates_say_what_to_do(
    ctx: None, fields: dict[str, str], message: str | None
) -> None:
    result = parse(**fields)
    expected = message or (
        "Please choose the day, month and year from the lists, or leave them empty."
    )
    assert result.errors == {"when": expected}
    assert result.document["when"]["precision"] == "unknown"


def test_months_are_named_in_the_page_language() -> None:
    assert forms.month_choices("az")[1] == (2, "Fevral")
    assert forms.month_choices("ru")[1] == (2, "Февраль")  # nominative, not "февраля"
    assert forms.month_choices("en")[8] == (9, "September")
    assert [n for n, _ in forms.month_choices("ru")] == list(range(1, 13))


def test_the_form_shows_three_selects_and_keeps_her_choices(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/report").get_data(as_text=True)
    assert 'type="date"' not in page
    for name in ("when_day", "when_month", "when_year"):
        assert f'<select id="{name}" name="{name}"' in page
    from tests.conftest import SourceBrowser

    source = SourceBrowser(client)
    response = client.post(
        "/report",
        data={
            "csrf_token": source.token(),
            "what_happened": "It happened.",
            "when_day": "31",
            "when_month": "2",
            "when_year": "2025",
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<option selected>31</option>" in page
    assert '<option value="2" selected>Fevral</option>'  # az by default in page
    assert "<option selected>2025</option>" in page
    assert 'id="when-error"' in page
