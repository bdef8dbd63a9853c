"""Unlock and lock, import, replies and statistics pages of the workstation.

Case pages are in views_cases.py, drafts and publication in views_publish.py;
all join the one blueprint ``ws`` defined here.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    abort,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from securedrop_like import geo, taxonomy
from securedrop_like.i18n import current_language
from securedrop_like.i18n import gettext as _

from . import stats
from .app import SESSION_OWNER, ImportJob, Locked, Workstation, workstation

log = logging.getLogger(__name__)

bp = Blueprint("ws", __name__)

MAX_PASSPHRASE = 1024
STAFF_CSS = Path(__file__).resolve().parent.parent / "static" / "staff.css"


def error_message(exc: BaseException) -> str:
    """A translated message for a workstation error (its own text otherwise)."""
    user_message = getattr(exc, "user_message", None)
    if isinstance(user_message, str) and user_message:
        return user_message
    name = type(exc).__name__
    known = {
        "WrongPassphrase": _("This passphrase does not open the workstation. Please try again."),
        "UnsafeFile": _("This file could not be shown safely."),
        "BundleRefused": _(
            "This file is not an export bundle from the staff interface, or it was damaged "
            "or changed on the way. Nothing was imported."
        ),
        "NoSourceKey": _(
            "There is no key for her yet, so nothing can be sealed to her. Import a newer "
            "export bundle from the staff interface, then try again."
        ),
        "KeyChanged": _(
            "The server named a different key for her. Nothing is sealed to her until a "
            "reviewer has checked with her and resolved it (“sesim workstation "
            "accept-new-key”)."
        ),
        "BundleError": _(
            "This file is not an export bundle from the staff interface, or it is damaged."
        ),
        "Locked": _("The workstation was locked."),
    }
    if name in known:
        return known[name]
    if name.endswith("NotInitialised") or name.endswith("NotInitialized"):
        return _("This folder is not a workstation yet. Run “sesim workstation init” first.")
    return _("This did not work: %(reason)s", reason=str(exc)[:300])


@bp.get("/staff.css")
def staff_css() -> Response:
    """The staff interface's style sheet, shared (the workstation adds its own after it)."""
    return send_file(STAFF_CSS, mimetype="text/css", max_age=0)


@bp.get("/unlock")
def unlock_form() -> str | Response:
    if workstation().allowed(session.get(SESSION_OWNER)):
        return redirect(url_for("ws.cases"), code=303)
    return render_template("unlock.html", error=None, locked=request.args.get("locked"))


@bp.post("/unlock")
def unlock() -> tuple[str, int] | Response:
    passphrase = request.form.get("passphrase", "")
    if not passphrase or len(passphrase) > MAX_PASSPHRASE:
        return render_template("unlock.html", error=_("Please type your passphrase.")), 400
    try:
        token = workstation().unlock(passphrase)
    except workstation_errors() as exc:
        # Never log the passphrase, nor the error's text.
        log.info("workstation unlock refused: %s", type(exc).__name__)
        return render_template("unlock.html", error=error_message(exc)), 403
    finally:
        del passphrase
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session[SESSION_OWNER] = token
    return redirect(url_for("ws.cases"), code=303)


@bp.post("/lock")
def lock() -> Response:
    workstation().lock()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("ws.unlock_form", locked=1), code=303)


@bp.get("/")
def index() -> Response:
    return redirect(url_for("ws.cases"), code=303)


# --- import -----------------------------------------------------------------------


def _run_import(ws: Workstation, job: ImportJob, path: Path, remove: bool, generation: int) -> None:
    def progress(done: int, total: int) -> None:
        if ws.generation != generation:
            raise Locked()
        job.done, job.total = done, total

    try:
        from .importer import import_bundle

        store, unlocked = ws.store, ws.unlocked
        if store is None or unlocked is None:
            raise Locked()
        job.result = import_bundle(store, unlocked, path, progress=progress)
    except Exception as exc:  # shown on the progress page, translated there
        job.error = type(exc).__name__
        job.result = exc
        log.info("import failed: %s", type(exc).__name__)
    finally:
        job.finished = True
        if remove:
            path.unlink(missing_ok=True)


def _start_import(path: Path, name: str, remove: bool) -> str:
    try:
        from .importer import import_bundle  # noqa: F401 - not in this build: a 501 page
    except ImportError:
        if remove:
            path.unlink(missing_ok=True)
        raise
    ws = workstation()
    job = ImportJob(id=secrets.token_urlsafe(16), name=name)
    job.thread = threading.Thread(
        target=_run_import, args=(ws, job, path, remove, ws.generation), name="import", daemon=True
    )
    ws.jobs[job.id] = job
    job.thread.start()
    return job.id


@bp.get("/import")
def import_form() -> str:
    return render_template("import.html", error=None, path="")


@bp.post("/import")
def import_start() -> tuple[str, int] | Response:
    upload = request.files.get("bundle")
    typed = request.form.get("path", "").strip()
    if upload is not None and upload.filename:
        spool = Path(workstation().home) / "spool"
        spool.mkdir(mode=0o700, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="import-", suffix=".tar", dir=spool)
        with os.fdopen(fd, "wb") as out:
            upload.save(out)
        job = _start_import(Path(name), upload.filename[:100], remove=True)
        return redirect(url_for("ws.import_progress", job_id=job), code=303)
    if typed:
        path = Path(typed).expanduser()
        if len(typed) > 4096 or not path.is_file():
            error = _("There is no file at this path. Check it and try again.")
            return render_template("import.html", error=error, path=typed[:4096]), 400
        job = _start_import(path, path.name[:100], remove=False)
        return redirect(url_for("ws.import_progress", job_id=job), code=303)
    error = _("Choose an export bundle, or type the path of one.")
    return render_template("import.html", error=error, path=""), 400


@bp.get("/import/<job_id>")
def import_progress(job_id: str) -> str:
    job = workstation().jobs.get(job_id)
    if job is None:
        abort(404)
    message = error_message(job.result) if job.error else None
    return render_template("import_progress.html", job=job, message=message)


# --- replies ----------------------------------------------------------------------


@bp.get("/replies")
def replies_page() -> str:
    from .replies import pending_replies

    pending = pending_replies(workstation().opened()[0])
    return render_template("replies.html", pending=pending)


@bp.post("/replies/bundle")
def replies_bundle() -> Response:
    from .replies import mark_sent, pending_replies, reply_bundle

    store = workstation().opened()[0]
    if not pending_replies(store):
        return redirect(url_for("ws.replies_page"), code=303)
    out = io.BytesIO()  # in memory only: the replies are sealed, but no copy on disk
    ids = reply_bundle(store, out)
    data = out.getvalue()

    def chunks() -> Iterator[bytes]:
        # Marked sent only after the last chunk went out: a dropped download loses no
        # reply, they stay pending and can be downloaded again.
        for at in range(0, len(data), 64 * 1024):
            yield data[at : at + 64 * 1024]
        mark_sent(store, ids)

    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    response = Response(chunks(), mimetype="application/x-tar")
    response.headers["Content-Length"] = str(len(data))
    response.headers["Content-Disposition"] = f'attachment; filename="sesim-replies-{stamp}.tar"'
    return response


# --- statistics -------------------------------------------------------------------

DIMENSION_NAMES = {
    "type": lambda: _("What happened"),
    "district": lambda: _("District"),
    "month": lambda: _("Month"),
    "service": lambda: _("Service"),
    "perpetrator": lambda: _("Who did it"),
}


def label(dimension: str, code: str) -> str:
    """The translated name of a code in a statistics table."""
    if code == stats.UNKNOWN:
        return _("Not given")
    groups = {
        "type": taxonomy.HARASSMENT_TYPES,
        "service": taxonomy.SERVICES,
        "perpetrator": taxonomy.PERPETRATOR_TYPES,
    }
    try:
        if dimension in groups:
            return str(taxonomy.by_code(groups[dimension], code).label)
        if dimension == "district":
            if code == geo.ONLINE:
                return str(geo.ONLINE_LABEL)
            return geo.district_by_code(code).name(current_language())
    except KeyError:
        pass
    return code


def all_facts() -> list[stats.CaseFacts]:
    """The facts of every case that still has a report (a withdrawn one has none)."""
    with workstation().connection() as conn:
        rows = conn.execute(
            "SELECT c.first_day, (SELECT document FROM items i WHERE i.case_id = c.id "
            "AND i.kind = 'report' ORDER BY day LIMIT 1) FROM cases c WHERE c.withdrawn_day IS NULL"
        ).fetchall()
    facts = []
    for first_day, raw in rows:
        try:
            document = json.loads(raw) if raw else None
        except ValueError:
            document = None
        facts.append(stats.facts_from_report(document, first_day))
    return facts


@bp.get("/stats")
def stats_page() -> str:
    facts = all_facts()
    suppress = request.args.get("view") == "shared"
    tabs = stats.tables(facts, suppress=suppress)
    return render_template(
        "stats.html",
        tables=tabs,
        names=DIMENSION_NAMES,
        label=label,
        cases=len(facts),
        suppress=suppress,
    )


@bp.get("/stats.csv")
def stats_csv() -> Response:
    text = stats.csv_text(
        all_facts(), label, header=(_("dimension"), _("code"), _("label"), _("count"))
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    response = Response("\ufeff" + text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="sesim-statistics-{stamp}.csv"'
    return response


def workstation_errors() -> tuple[type[Exception], ...]:
    """The workstation's error classes (keys.py and errors.py each define a base)."""
    from . import errors, keys

    return tuple({keys.WorkstationError, errors.WorkstationError})


def init_errors(app: Flask) -> None:
    from .app import Locked as LockedError

    @app.errorhandler(LockedError)
    def locked(exc: LockedError) -> Response:
        return redirect(url_for("ws.unlock_form", locked=1), code=303)

    @app.errorhandler(ImportError)
    def missing_part(exc: ImportError) -> tuple[str, int]:
        # A part of the workstation (publish.py, sanitize.py…) not in this build:
        # say so on the page rather than fail or pretend.
        if not (exc.name or "").startswith("journalist_interface.workstation"):
            raise exc
        log.warning("workstation part missing: %s", exc.name)
        return render_template(
            "error.html",
            title=_("Not in this build yet"),
            message=_(
                "This part of the workstation is not in this build yet. Nothing was changed."
            ),
            status=501,
        ), 501

    def workstation_error(exc: Exception) -> tuple[str, int]:
        log.info("workstation error: %s", type(exc).__name__)
        return render_template(
            "error.html", title=_("This did not work"), message=error_message(exc), status=400
        ), 400

    for error_class in workstation_errors():
        app.register_error_handler(error_class, workstation_error)
