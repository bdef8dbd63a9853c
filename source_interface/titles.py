"""Each page's title: distinct, so a screen reader tells the pages apart, and neutral.

The title is what a tab, the window list and a screen reader announce first,
and what someone glancing at her phone reads most easily. So it names what
the page is for in everyday words ("Form", "Log in") and never its subject:
no harassment, report, codename, lawyer or case. The site's name follows,
as in the header every page shows anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, before_render_template
from jinja2 import Template

from securedrop_like.i18n import gettext as _

# By template; translated when the page is drawn, in her current language.
TITLES: dict[str, Callable[[], str]] = {
    "index.html": lambda: _("Start"),
    "report.html": lambda: _("Form"),
    "codename.html": lambda: _("Write this down"),
    "codename_check.html": lambda: _("Check what you wrote down"),
    "login.html": lambda: _("Log in"),
    "case.html": lambda: _("Your page"),
    "withdraw.html": lambda: _("Delete everything"),
    "withdrawn.html": lambda: _("Deleted"),
    "logged_out.html": lambda: _("You have logged out"),
    "channels.html": lambda: _("Other ways to write to us"),
}


def _add_title(app: Flask, template: Template, context: dict[str, Any], **extra: Any) -> None:
    if "page_title" in context:
        return
    title = TITLES.get(template.name or "")
    # An error page's heading ("Page not found") is neutral and names it well.
    context["page_title"] = title() if title else context.get("title")


def init_titles(app: Flask) -> None:
    before_render_template.connect(_add_title, app)
