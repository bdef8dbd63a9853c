"""The statistics page: server-rendered SVG charts with their numbers as tables.
(Owner: the STATS work package; a placeholder until then.)"""

from __future__ import annotations

from flask import render_template

from securedrop_like.i18n import gettext as _

from .pages import bp


@bp.get("/stats/")
def stats() -> str:
    return render_template("map/placeholder.html", title=_("Statistics"))
