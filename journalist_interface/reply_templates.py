"""Reply templates: a few starting points for a lawyer's reply, in az, ru and en.

The defaults ship in ``data/reply_templates.json``; an admin may replace any of
them in the web interface, and the replacement is kept in the
``reply_templates`` table (removing it brings the default back). A lawyer
picks one on a source's page, edits it and sends it in whichever language
she chooses: a template only fills the reply box.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from securedrop_like.config import LOCALES
from securedrop_like.db import Connection
from securedrop_like.i18n import lazy_gettext as _l

MAX_TEMPLATE_CHARS = 5_000

# The order in which they are offered, with their names for the staff.
NAMES = {
    "acknowledgement": _l("Acknowledgement"),
    "legal_help": _l("Offer of legal help"),
    "request_details": _l("Request for details"),
    "request_consent": _l("Request for consent to publish"),
}
CODES = tuple(NAMES)


@dataclass(frozen=True)
class Template:
    code: str
    lang: str
    body: str
    edited: bool  # an admin replaced the default


@cache
def defaults() -> dict[tuple[str, str], str]:
    raw = resources.files(__package__).joinpath("data/reply_templates.json").read_text("utf-8")
    doc = json.loads(raw)
    return {(code, lang): doc[code][lang] for code in CODES for lang in LOCALES}


def all_templates(conn: Connection) -> dict[tuple[str, str], Template]:
    """Every (code, language), the admin's text where there is one, else the default."""
    edited = {
        (str(code), str(lang)): str(body)
        for code, lang, body in conn.execute("SELECT code, lang, body FROM reply_templates")
    }
    return {
        key: Template(key[0], key[1], edited.get(key, text), key in edited)
        for key, text in defaults().items()
    }


def template(conn: Connection, code: str, lang: str) -> Template | None:
    if (code, lang) not in defaults():
        return None
    return all_templates(conn)[(code, lang)]


def clean_body(text: str) -> str | None:
    """The body as stored, or None if it is empty or too long."""
    body = text.replace("\r\n", "\n").strip()
    if not body or len(body) > MAX_TEMPLATE_CHARS:
        return None
    return body
