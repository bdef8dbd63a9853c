"""The map's information pages: stories, open data, about and methodology, how to
report safely, and where to get help. (Owner: the INFO work package; placeholders until
then.)"""

from __future__ import annotations

from flask import render_template

from securedrop_like.i18n import gettext as _

from .pages import bp


@bp.get("/stories/")
def stories() -> str:
    return render_template("map/placeholder.html", title=_("Stories"))


@bp.get("/data/")
def open_data() -> str:
    return render_template("map/placeholder.html", title=_("Open data"))


@bp.get("/about/")
def about() -> str:
    return render_template("map/placeholder.html", title=_("About and methods"))


@bp.get("/report/")
def report() -> str:
    return render_template("map/placeholder.html", title=_("How to report safely"))


@bp.get("/help/")
def get_help() -> str:
    return render_template("map/placeholder.html", title=_("Where to get help"))
