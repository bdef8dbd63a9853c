"""Reading and checking the source's forms.

Everything she types goes into the encrypted document; nothing here is
stored. A form that fails a check comes back with every value she typed and
a translated message per field, so nothing is lost.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from babel.dates import get_month_names
from werkzeug.datastructures import MultiDict

from securedrop_like import geo, taxonomy
from securedrop_like.i18n import gettext as _
from securedrop_like.i18n import ngettext

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_LANDMARK = 200
EARLIEST_YEAR = 1950


def clean_text(value: str) -> str:
    """Drop control characters (NUL included) and unify line ends; keep all else."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


@dataclass
class FormResult:
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _choice(form: MultiDict[str, str], name: str, allowed: frozenset[str]) -> str:
    value = form.get(name, "").strip()
    return value if value in allowed else ""


def _choices(form: MultiDict[str, str], name: str, allowed: frozenset[str]) -> list[str]:
    seen: list[str] = []
    for value in form.getlist(name):
        if value in allowed and value not in seen:
            seen.append(value)
    return seen


def parse_report(form: MultiDict[str, str], max_text: int, today: dt.date) -> FormResult:
    text = clean_text(form.get("what_happened", ""))
    values: dict[str, Any] = {
        "what_happened": text,
        "types": _choices(form, "types", taxonomy.codes(taxonomy.HARASSMENT_TYPES)),
        "when_day": form.get("when_day", "").strip()[:2],
        "when_month": form.get("when_month", "").strip()[:2],
        "when_year": form.get("when_year", "").strip()[:4],
        "part_of_day": _choice(form, "part_of_day", taxonomy.codes(taxonomy.PARTS_OF_DAY)),
        "district": _choice(form, "district", geo.location_codes()),
        "landmark": clean_text(form.get("landmark", ""))[:MAX_LANDMARK],
        "perpetrator": _choice(form, "perpetrator", taxonomy.codes(taxonomy.PERPETRATOR_TYPES)),
        "service": _choice(form, "service", taxonomy.codes(taxonomy.SERVICES)),
        "role": _choice(form, "role", taxonomy.codes(taxonomy.ROLES)),
        "wants": _choices(form, "wants", taxonomy.codes(taxonomy.WANTS)),
        "consent": _choice(form, "consent", taxonomy.codes(taxonomy.CONSENT))
        or taxonomy.DEFAULT_CONSENT,
    }
    result = FormResult(values)
    if not text:
        result.errors["what_happened"] = _("Please tell us what happened. A few words are enough.")
    elif len(text) > max_text:
        result.errors["what_happened"] = _(
            "This text is too long (at most %(n)s characters). Please shorten it, "
            "or send the rest as a message after this report.",
            n=max_text,
        )
    when = _parse_when(values, today, result.errors)
    result.document = {
        "text": text,
        "types": values["types"],
        "when": when,
        "where": {"location": values["district"] or None, "landmark": values["landmark"]},
        "perpetrator": values["perpetrator"] or None,
        "service": values["service"] or None,
        "role": values["role"] or None,
        "wants": values["wants"],
        "consent": values["consent"],
    }
    return result


def _number(value: str, low: int, high: int) -> int | None:
    """``value`` as a number in ``low..high``; None if empty; -1 if anything else."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        return -1
    return int(value)


def _parse_when(values: dict[str, Any], today: dt.date, errors: dict[str, str]) -> dict[str, Any]:
    """Three selects (day, month, year) onto the document's ``when`` (unchanged format).

    All three: ``precision`` "day", ``date`` YYYY-MM-DD. Month and year without the
    day: "month", YYYY-MM. None: "unknown". Anything else is sent back with a message
    saying what is missing or wrong, and every choice she made kept.
    """
    part = values["part_of_day"] or None
    unknown: dict[str, Any] = {"precision": "unknown", "part_of_day": part}
    latest = today + dt.timedelta(days=1)  # her today, east of UTC, may be our tomorrow
    day = _number(values["when_day"], 1, 31)
    month = _number(values["when_month"], 1, 12)
    year = _number(values["when_year"], EARLIEST_YEAR, latest.year)
    if -1 in (day, month, year):
        # Only a hand-made request gets here: the selects offer nothing else.
        errors["when"] = (
            _("Please check the year.")
            if year == -1
            else _("Please choose the day, month and year from the lists, or leave them empty.")
        )
        return unknown
    if day is None and month is None and year is None:
        return unknown
    if month is None or year is None:
        if day is not None:
            errors["when"] = _(
                "Please choose the month and the year as well, or leave the day empty."
            )
        elif month is not None:
            errors["when"] = _("Please choose both the month and the year.")
        else:
            errors["when"] = _(
                "Please choose the month too. If you remember only the year, leave the "
                "date empty and mention the year in your own words."
            )
        return unknown
    if day is None:
        if dt.date(year, month, 1) > latest:
            errors["when"] = _("This date is in the future. Please check it.")
            return unknown
        return {"precision": "month", "date": f"{year:04d}-{month:02d}", "part_of_day": part}
    days = calendar.monthrange(year, month)[1]
    if day > days:
        errors["when"] = ngettext(
            "That month has only %(num)d day. Please check the day.",
            "That month has only %(num)d days. Please check the day.",
            days,
        )
        return unknown
    date = dt.date(year, month, day)
    if date > latest:
        errors["when"] = _("This date is in the future. Please check it.")
        return unknown
    return {"precision": "day", "date": date.isoformat(), "part_of_day": part}


def parse_message(form: MultiDict[str, str], max_text: int) -> FormResult:
    text = clean_text(form.get("message", ""))
    result = FormResult({"message": text})
    if len(text) > max_text:
        result.errors["message"] = _(
            "This text is too long (at most %(n)s characters). Please split it in two.", n=max_text
        )
    result.document = {"text": text}
    return result


def year_choices(today: dt.date, span: int = 30) -> list[int]:
    latest = (today + dt.timedelta(days=1)).year
    return list(range(latest, latest - span, -1))


def month_choices(locale: str) -> list[tuple[int, str]]:
    """(number, name) of the twelve months, named as a calendar heading names them in
    ``locale`` (CLDR's stand-alone form: "Fevral", "Февраль", "February")."""
    names = get_month_names("wide", context="stand-alone", locale=locale)
    return [(number, names[number][:1].upper() + names[number][1:]) for number in range(1, 13)]
