"""The fixed choices of the report form: what happened, who did it, where, what she wants.

Each :class:`Choice` has a stable ``code`` and translated texts. Codes are
stored inside encrypted reports and appear in published open data, so a
code, once released, is never renamed or reused for another meaning; add a
new code instead. Labels may be reworded freely.

Labels are lazy (``lazy_gettext``), so this module imports without a Flask
app and each page renders them in the visitor's language. Descriptions are
written for someone who may be frightened: one short, plain, warm sentence
that does not judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Choice:
    """One option of a form question.

    Equality and hashing use the code only: comparing lazy labels would
    translate them, which needs an app context.
    """

    code: str
    label: LazyString = field(compare=False)
    description: LazyString | None = field(default=None, compare=False)


def codes(choices: Iterable[Choice]) -> frozenset[str]:
    """The codes of a group, e.g. to validate a submitted form value."""
    return frozenset(choice.code for choice in choices)


def by_code(choices: Iterable[Choice], code: str) -> Choice:
    """The choice with this code; :class:`KeyError` if the group has none."""
    for choice in choices:
        if choice.code == code:
            return choice
    raise KeyError(code)


HARASSMENT_TYPES: tuple[Choice, ...] = (
    Choice(
        "sextortion",
        _l("Sex demanded for a service"),
        _l(
            "Someone asked for sex or a sexual act in exchange for a service, "
            "a document, a job, a grade or a favour."
        ),
    ),
    Choice(
        "touching",
        _l("Unwanted touching or groping"),
        _l("Someone touched you or pressed against you when you did not want it."),
    ),
    Choice(
        "verbal",
        _l("Sexual comments, jokes or catcalls"),
        _l("Someone said sexual things to you or about you, whistled or called after you."),
    ),
    Choice(
        "nonverbal",
        _l("Staring, gestures or indecent exposure"),
        _l("Someone stared, made sexual gestures or showed you their body."),
    ),
    Choice(
        "stalking",
        _l("Following or stalking"),
        _l("Someone followed you, waited for you or kept watching where you go."),
    ),
    Choice(
        "online",
        _l("Sexual photos or messages, online harassment"),
        _l(
            "Someone sent you sexual pictures or messages, or harassed you "
            "by phone or on the internet."
        ),
    ),
    Choice(
        "threats",
        _l("Threats or blackmail"),
        _l("Someone threatened to hurt you or to share photos or secrets about you."),
    ),
    Choice(
        "assault",
        _l("Sexual assault or rape"),
        _l("Someone forced you into a sexual act. It is not your fault."),
    ),
    Choice(
        "other",
        _l("Something else"),
        _l("Anything else that made you feel unsafe. You can describe it in your own words."),
    ),
)

PERPETRATOR_TYPES: tuple[Choice, ...] = (
    Choice("police", _l("Police officer")),
    Choice(
        "official",
        _l("Other public official or civil servant"),
        _l("For example at a ministry, a service centre, an executive office or a municipality."),
    ),
    Choice("teacher", _l("Teacher or lecturer")),
    Choice("medical", _l("Doctor or medical staff")),
    Choice("workplace", _l("Employer, manager or colleague")),
    Choice("landlord", _l("Landlord")),
    Choice("stranger", _l("Stranger")),
    Choice("acquaintance", _l("Acquaintance or relative")),
    Choice("other", _l("Someone else")),
    Choice("prefer_not_to_say", _l("I prefer not to say")),
)

SERVICES: tuple[Choice, ...] = (
    Choice("benefits", _l("Social benefits and pensions")),
    Choice("health", _l("Health care")),
    Choice("education", _l("Education")),
    Choice("police", _l("Police")),
    Choice("justice", _l("Courts and prosecutors")),
    Choice("documents", _l("Documents, permits and registration")),
    Choice("employment", _l("Employment and job centres")),
    Choice("housing", _l("Housing and utilities")),
    Choice("military", _l("Military registration")),
    Choice("other", _l("Another service")),
    Choice(
        "none",
        _l("No service was involved"),
        _l("For example on the street, at work or online."),
    ),
)

ROLES: tuple[Choice, ...] = (
    Choice("self", _l("It happened to me")),
    Choice("witness", _l("I witnessed it")),
)

# Several may apply: the form shows these as checkboxes.
WANTS: tuple[Choice, ...] = (
    Choice(
        "legal_help",
        _l("Legal help"),
        _l("A lawyer reads your report and tells you what you can do."),
    ),
    Choice(
        "record_only",
        _l("Just to record what happened"),
        _l("Your report is kept safely. You do not have to do anything more."),
    ),
    Choice(
        "share_story",
        _l("To share my story publicly"),
        _l(
            "Your story can help others. It is published only with your consent "
            "and without anything that could identify you."
        ),
    ),
    Choice(
        "contact",
        _l("To be contacted"),
        _l("A lawyer answers you; you read the answer with your codename or receipt."),
    ),
)

CONSENT: tuple[Choice, ...] = (
    Choice(
        "yes",
        _l("Yes, publish an anonymised version"),
        _l("We remove everything that could identify you before anything is published."),
    ),
    Choice(
        "ask_first",
        _l("Ask me first"),
        _l("We show you the anonymised text and publish it only if you agree."),
    ),
    Choice(
        "no",
        _l("No"),
        _l("Your story will not be published."),
    ),
)
# The safest choice that still keeps publication possible; she can change it
# later with her codename.
DEFAULT_CONSENT = "ask_first"

PARTS_OF_DAY: tuple[Choice, ...] = (
    Choice("morning", _l("Morning")),
    Choice("afternoon", _l("Afternoon")),
    Choice("evening", _l("Evening")),
    Choice("night", _l("Night")),
    Choice("unknown", _l("I don't remember")),
)

GROUPS: Mapping[str, tuple[Choice, ...]] = MappingProxyType(
    {
        "harassment_type": HARASSMENT_TYPES,
        "perpetrator_type": PERPETRATOR_TYPES,
        "service": SERVICES,
        "role": ROLES,
        "wants": WANTS,
        "consent": CONSENT,
        "part_of_day": PARTS_OF_DAY,
    }
)
"""Every group by a stable name, for tests and for the open-data codebook."""
