"""Languages: Azerbaijani first, Russian and English.

The language is chosen by a plain link (no JavaScript) and remembered in the
server-side session, never in a long-lived cookie. Browser headers are not
consulted: Tor Browser sends the same Accept-Language for everyone, and the
default should be the language of the women Səsim is for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, redirect, request, session
from flask_babel import Babel, get_locale
from flask_babel import gettext as _gettext
from flask_babel import lazy_gettext as _lazy_gettext
from flask_babel import ngettext as _ngettext
from jinja2 import ChoiceLoader, PackageLoader
from werkzeug.wrappers import Response

from .config import LOCALES
from .security import safe_next

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGE_NAMES = {"az": "Azərbaycanca", "ru": "Русский", "en": "English"}

bp = Blueprint("lang", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LOCALES:
        return str(chosen)
    return str(current_app.config["SESIM"].default_locale)


@bp.get("/lang/<code>")
def switch(code: str) -> Response:
    if code in LOCALES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")), code=303)


def gettext(string: str, **variables: Any) -> str:
    """Flask-Babel's gettext, typed (Flask-Babel ships no type information)."""
    return str(_gettext(string, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    return str(_ngettext(singular, plural, num, **variables))


def lazy_gettext(string: str) -> Any:
    """A message translated when shown, for module-level tables of labels."""
    return _lazy_gettext(string)


def current_language() -> str:
    return str(get_locale() or "az")


def centre_name() -> str:
    """The Legal Centre's name in the page's language (``[legal_centre]`` in
    config.toml), for the messages' ``%(centre)s``."""
    return str(current_app.config["SESIM"].centre_name(current_language()))


def init_i18n(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = "az"
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.jinja_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    # Templates shared by every app (securedrop_like/templates), after the app's own.
    app.jinja_loader = ChoiceLoader([app.jinja_loader, PackageLoader("securedrop_like")])  # type: ignore[list-item]
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["centre_name"] = centre_name
