"""One error handler per kind of failure: a status and a calm, translated page.

Shared by the web apps; each renders its own `error.html`. Every page here is
sent as ``text/html`` (a bare ``werkzeug.Response`` would be ``text/plain``:
the browser would show the page's HTML as text, and Quick exit could not be
tapped): build error responses with :func:`html_response`.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from securedrop_like.errors import Busy, NotFound, NotReady, StorageFull
from securedrop_like.i18n import gettext as _
from securedrop_like.security import CSRFError

log = logging.getLogger(__name__)


HTML = "text/html; charset=utf-8"


def html_response(body: str, status: int) -> Response:
    """An HTML page with this status (never Werkzeug's text/plain default)."""
    return Response(body, status, content_type=HTML)


def _page(status: int, title: str, message: str) -> Response:
    return html_response(
        render_template("error.html", title=title, message=message, status=status), status
    )


def init_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf(exc: CSRFError) -> Response:
        return _page(
            400,
            _("This page has expired"),
            _(
                "For your safety, forms expire after a while. Please go back, reload the page "
                "and try again."
            ),
        )

    @app.errorhandler(Busy)
    def busy(exc: Busy) -> Response:
        response = _page(
            503,
            _("Many people are here right now"),
            _("Please wait a minute and try again. Nothing has been lost."),
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(NotReady)
    def not_ready(exc: NotReady) -> Response:
        return _page(
            503,
            _("Not ready yet"),
            _("This service cannot receive reports yet. Please come back later."),
        )

    @app.errorhandler(StorageFull)
    def storage_full(exc: StorageFull) -> Response:
        # The forms that take her text catch this themselves and keep it.
        return _page(
            503,
            _("Something went wrong"),
            _("We could not save this. Nothing was sent. Please try again later."),
        )

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> Response:
        return _page(404, _("Not found"), _("This page does not exist."))

    @app.errorhandler(HTTPException)
    def http(exc: HTTPException) -> Response:
        status = exc.code or 500
        messages = {
            400: (_("Something was wrong with the request"), _("Please go back and try again.")),
            404: (_("Not found"), _("This page does not exist.")),
            405: (_("Not allowed"), _("This page cannot be used that way.")),
            413: (
                _("Too large"),
                _(
                    "What you sent is larger than we can accept. Go back: your text is "
                    "still in the form. Send fewer or smaller files."
                ),
            ),
        }
        title, message = messages.get(
            status, (_("Something went wrong"), _("Please go back and try again."))
        )
        return _page(status, title, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        # The type only: a message could carry what she typed.
        log.error("unexpected error: %s", type(exc).__name__)
        return _page(
            500,
            _("Something went wrong"),
            _("This is our fault, not yours. Please try again in a few minutes."),
        )
