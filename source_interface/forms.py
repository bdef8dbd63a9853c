"""Reading and checking the source's forms.

Everything she types goes into the encrypted document; nothing here is
stored. A form that fails a check comes back with every value she typed and
a translated message per field, so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from securedrop_like import geo, taxonomy
from securedrop_like.i18n import gettext as _

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
        "when_kind": _choice(form, "when_kind", frozenset({"date", "month", "unknown"})),
        "when_date": form.get("when_date", "").strip()[:20],
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


def _parse_when(values: dict[str, Any], today: dt.date, errors: dict[str, str]) -> dict[str, Any]:
    kind = values["when_kind"]
    part = values["part_of_day"] or None
    if kind == "date" or (not kind and values["when_date"]):
        try:
            day = dt.date.fromisoformat(values["when_date"])
        except ValueError:
            errors["when"] = _(
                "Please give the date as day, month and year, or choose another option."
            )
            return {"precision": "unknown", "part_of_day": part}
        if day > today + dt.timedelta(days=1) or day.year < EARLIEST_YEAR:
            errors["when"] = _("This date is in the future. Please check it.")
            if day.year < EARLIEST_YEAR:
                errors["when"] = _("Please check the year.")
            return {"precision": "unknown", "part_of_day": part}
        return {"precision": "day", "date": day.isoformat(), "part_of_day": part}
    if kind == "month":
        try:
            month, year = int(values["when_month"]), int(values["when_year"])
            first = dt.date(year, month, 1)
        except ValueError:
            errors["when"] = _("Please choose both the month and the year.")
            return {"precision": "unknown", "part_of_day": part}
        if first > today or year < EARLIEST_YEAR:
            errors["when"] = _("This date is in the future. Please check it.")
            return {"precision": "unknown", "part_of_day": part}
        return {"precision": "month", "date": f"{year:04d}-{month:02d}", "part_of_day": part}
    return {"precision": "unknown", "part_of_day": part}


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
    return list(range(today.year, today.year - span, -1))
