"""The intake app: each channel module's blueprint for its enabled providers,
``/healthz``, and what every answer shares.

No cookie, no session, no page: the callers are the providers' machines. Every
answer carries ``Cache-Control: no-store``, a CSP that allows nothing and
``Referrer-Policy: no-referrer``. A disabled provider's endpoint is 404; bodies
are capped (413); an unexpected failure is a 500 with a fixed body and a log line
with the exception's type only (its text could quote what she wrote).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import ModuleType

from flask import Flask, Response, abort, request
from flask_babel import Babel
from werkzeug.exceptions import HTTPException

from securedrop_like.config import Config
from securedrop_like.i18n import TRANSLATIONS, centre_name, gettext
from securedrop_like.intake_store import IntakeStore
from securedrop_like.logs import configure_logging

from .base import MAX_BODY_BYTES, Intake
from .settings import IntakeSettings, load_settings

log = logging.getLogger(__name__)

#: Each endpoint's provider: 404 unless that provider is enabled.
ENDPOINTS = {
    "/sms/smssync": "smssync",
    "/sms/twilio": "twilio",
    "/sms/webhook": "webhook",
    "/messenger/webhook": "messenger",
    "/x/webhook": "x",
}
CSP = "default-src 'none'; frame-ancestors 'none'"


def _text(body: str, status: int) -> Response:
    return Response(body + "\n", status=status, content_type="text/plain; charset=utf-8")


def create_app(
    config: Config,
    intake: Intake | None = None,
    *,
    modules: Sequence[ModuleType] | None = None,
    settings: IntakeSettings | None = None,
) -> Flask:
    """The intake app for ``config``. ``intake`` (its context: store and providers'
    settings) is opened from the instance when not given; ``modules`` replaces the
    channel modules (tests), ``settings`` their checked settings (the server has
    read them already)."""
    configure_logging()
    checked = settings or load_settings(config, modules)
    app = Flask(__name__)
    app.config.update(
        SESIM=config,
        # A net under read_body's own cap: werkzeug refuses a longer form body too.
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
        MAX_FORM_PARTS=100,
    )
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = config.default_locale
    # Her language is her message's (texts.py, with force_locale); the providers'
    # machines get the instance's default language.
    Babel(app, locale_selector=lambda: config.default_locale)
    app.jinja_env.globals["centre_name"] = centre_name
    if intake is None:
        intake = Intake(config, IntakeStore.open(config))
    if not intake.settings:
        intake.settings = dict(checked.providers)
    if not intake.public_url:
        intake.public_url = checked.public_url
    intake.app = app
    app.extensions["intake"] = intake

    registered: set[str] = set()
    for provider in intake.settings:
        module = checked.modules.get(provider)
        if module is None or module.__name__ in registered:
            continue
        registered.add(module.__name__)
        app.register_blueprint(module.blueprint())

    @app.before_request
    def only_enabled() -> None:
        provider = ENDPOINTS.get(request.path.rstrip("/") or "/")
        if provider is not None and provider not in intake.settings:
            abort(404)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", status=200, content_type="text/plain; charset=utf-8")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 413:
            return _text(gettext("The request is too large."), 413)
        if status == 404:
            return _text(gettext("Not found."), 404)
        if status == 405:
            response = _text(gettext("This method is not allowed here."), 405)
            allowed = exc.get_headers()
            for name, value in allowed:
                if name.lower() == "allow":
                    response.headers["Allow"] = value
            return response
        return _text(gettext("The request could not be understood."), status)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.error("an intake call failed: %s", type(exc).__name__)
        return _text(gettext("Something went wrong. Please try again later."), 500)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.pop("Set-Cookie", None)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app
