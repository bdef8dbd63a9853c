"""The source's pages. No JavaScript; every form posts back here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from crypto import PrivateKey
from securedrop_like import codenames, geo, taxonomy
from securedrop_like.errors import (
    BadCodename,
    Busy,
    MissingBlob,
    NotFound,
    StorageFull,
    UnknownDraft,
)
from securedrop_like.i18n import centre_name, current_language
from securedrop_like.i18n import gettext as _
from securedrop_like.security import (
    csrf_failed,
    csrf_replay_suspected,
    csrf_soft,
    end_form_cookie,
)
from securedrop_like.service import Attachment, Submission
from securedrop_like.sessions import ServerSession, server_session

from . import forms, uploads

bp = Blueprint("source", __name__)
F = TypeVar("F", bound=Callable[..., Any])
SOURCE_KEY = "source_id"
# Sealed in her session under her cookie's key (see sessions.py): her X25519
# private key, opened only when her replies are, and her fresh codename,
# until she has confirmed she has it.
PRIVATE_KEY = "private_key"
FRESH_CODENAME = "fresh_codename"
# The report form's choice, words or digits (source_interface/templates/_codename_choice.html).
CODENAME_KIND = "codename_kind"
NOTICE = "notice"


def _services() -> Any:
    return current_app.extensions["sesim"]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _guard(view: F, check_source: bool) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        source_id = session.get(SOURCE_KEY)
        if not source_id:
            return _see_other("source.login")
        if check_source:
            try:
                _services().service.source(source_id)
            except NotFound:
                session.end()  # type: ignore[attr-defined]
                return _see_other("source.login")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def login_required(view: F) -> F:
    """Only for a logged-in source who has not withdrawn."""
    return _guard(view, check_source=True)


def login_required_no_check(view: F) -> F:
    """Only for a logged-in source; the view's own write fails if she has withdrawn
    (one query less on the busiest path)."""
    return _guard(view, check_source=False)


def _expired_message() -> str:
    return _(
        "For your safety this form had expired. What you typed is kept below: "
        "please check it and send again."
    )


def _expired_empty_message() -> str:
    return _(
        "For your safety this form had expired. Nothing was sent, and nothing you "
        "typed was kept. Please fill it in again."
    )


def _could_not_save() -> str:
    return _("We could not save this. Nothing was sent. Please try again later.")


def _keep(attachments: list[Attachment], errors: dict[str, str]) -> None:
    """Keep her finished uploads for the next try; say which could not be kept."""
    not_kept = uploads.keep_pending(attachments)
    if not_kept:
        errors["files"] = " ".join(
            filter(None, [errors.get("files"), uploads.not_kept_message(not_kept)])
        )


def _remove_kept() -> list[str]:
    """The kept files she ticked "remove" for: gone before anything is sent."""
    removed = uploads.remove_pending(request.form.getlist(REMOVE_FILES)[: uploads.MAX_KEPT])
    g.removed_files = removed
    return removed


REMOVE_FILES = "remove_files"


def _refused(exc: Exception, files: list[Attachment], errors: dict[str, str], button: str) -> int:
    """A submission the database refused as a whole: keep what can be kept, say why."""
    if isinstance(exc, MissingBlob):
        missing = set(exc.ids)
        _keep([f for f in files if f.item_id not in missing], errors)
        names = ", ".join(f"“{f.name}”" for f in files if f.item_id in missing)
        errors["form"] = _(
            "A file you attached was lost on our side: %(names)s. Nothing was sent. "
            "Please attach it again and press “%(button)s”.",
            names=names,
            button=button,
        )
        return 400
    _keep(files, errors)
    errors["form"] = _could_not_save()
    return 503


@bp.get("/")
def index() -> str:
    return render_template("index.html", reassurance=_reassurance())


def _reassurance() -> dict[str, Any]:
    """What the start and codename pages tell her where she decides (issue 11, item 8):
    when to expect an answer, and the Legal Centre's promise about the authorities
    (configurable per language; empty means the translated default)."""
    config = current_app.config["SESIM"]
    return {
        "days": config.answer_within_days,
        "consent": config.consent_statement(current_language())
        or _(
            "The %(centre)s never goes to the police or to any other authority "
            "without your consent.",
            centre=config.centre_name(current_language()),
        ),
    }


# -- report -------------------------------------------------------------------------------


def _render_report(
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    today = _today()
    return render_template(
        "report.html",
        values=values or {"consent": taxonomy.DEFAULT_CONSENT, "types": [], "wants": []},
        errors=errors or {},
        taxonomy=taxonomy,
        districts=geo.districts_in(current_language()),
        online_label=geo.ONLINE_LABEL,
        days=range(1, 32),
        months=forms.month_choices(current_language()),
        years=forms.year_choices(today),
        today=today.isoformat(),
        kept_files=uploads.pending(),
        removed_files=g.get("removed_files", []),
        max_file_mb=current_app.config["SESIM"].max_file_bytes // (1024 * 1024),
    ), status


@bp.get("/report")
def report_form() -> tuple[str, int]:
    return _render_report()


@bp.post("/report")
@csrf_soft
def report() -> Any:
    _remove_kept()
    if csrf_replay_suspected():
        # Perhaps her report resent from her history after Quick exit (Back,
        # "Resend"): show nothing of it, keep none of its files (the request's
        # uploads are deleted after it), make no session.
        return _render_report(errors={"form": _expired_empty_message()}, status=400)
    config = current_app.config["SESIM"]
    result = forms.parse_report(request.form, config.max_text_chars, _today())
    attachments, file_errors = uploads.collect(request)
    if csrf_failed():
        result.errors["form"] = _expired_message()
    if file_errors:
        result.errors["files"] = " ".join(file_errors)
    if uploads.storage_failed():
        _keep(attachments, result.errors)
        result.errors["form"] = _could_not_save()
        return _render_report(result.values, result.errors, 503)
    if not result.ok:
        _keep(attachments, result.errors)
        return _render_report(result.values, result.errors, 400)
    services = _services()
    codename = codenames.generate_codename(lang=current_language())
    if _wants_digits():  # her choice on the form, made before any codename was shown
        codename = codenames.generate_receipt()
    try:
        keys = services.deriver.derive(services.deriver.normalise(codename))
        # Her logged-in session is reserved before her report is stored, so
        # that her codename can always be kept for her.
        sess = _start_log_in()
    except Busy:
        _keep(attachments, result.errors)
        result.errors["form"] = _busy_message()
        return _render_report(result.values, result.errors, 503)
    document = dict(result.document, lang=current_language(), channel="web")
    files = uploads.take_pending() + attachments
    _keep_only_language(sess)
    try:
        source_id = services.service.create_source(keys, Submission("report", document, files))
    except Busy:  # the writer process is restarting: nothing was stored
        _keep(files, result.errors)
        result.errors["form"] = _busy_message()
        return _render_report(result.values, result.errors, 503)
    except (MissingBlob, StorageFull) as exc:
        status = _refused(exc, files, result.errors, _("Send report"))
        return _render_report(result.values, result.errors, status)
    _log_in(sess, keys.private_key, source_id)
    # Her form's token dies with its cookie: resending this POST (Back, then
    # "Resend", by her or by whoever holds her phone) cannot make a second case.
    end_form_cookie()
    sess.seal(FRESH_CODENAME, codename.encode())
    # The codename page is this response (no redirect to follow): if the
    # server stopped now, she would still have it.
    return _render_codename(codename)


def _busy_message() -> str:
    # The button's own label, from the same catalogue entry, so the two cannot differ.
    return _(
        "Many people are sending reports right now. Nothing is lost: "
        "please wait a minute and press “%(button)s” again.",
        button=_("Send report"),
    )


def _start_log_in() -> ServerSession:
    """A new session id and cookie key for a log-in (Busy if there is no room)."""
    sess = server_session()
    sess.regenerate()
    return sess


def _keep_only_language(sess: ServerSession) -> None:
    lang = sess.get("lang")
    sess.clear()
    if lang:
        sess["lang"] = lang


def _log_in(sess: ServerSession, private_key: PrivateKey, source_id: str) -> None:
    """Her session after :func:`_start_log_in`: her id, and her key sealed."""
    _keep_only_language(sess)
    sess[SOURCE_KEY] = source_id
    sess.seal(PRIVATE_KEY, private_key.unsafe_raw())


def private_key() -> PrivateKey | None:
    """Her private key, opened with her cookie's key; None if it does not open."""
    raw = server_session().unseal(PRIVATE_KEY)
    return PrivateKey(raw) if raw is not None else None


def forget_fresh_codename() -> None:
    """She has checked it: the server keeps it no longer (the slot's bytes are
    overwritten when the session is saved)."""
    server_session().drop_sealed(FRESH_CODENAME)


def _wants_digits() -> bool:
    return request.form.get(CODENAME_KIND) == "digits"


# -- codename -----------------------------------------------------------------------------
# Her fresh codename stays sealed in her session (under her cookie's key, see
# sessions.py) until she has typed it back correctly, so that a mistake in
# copying it can be put right ("Show it again"); then it is dropped. Otherwise
# it ends with her session: log-out, Quick exit, the idle or absolute limit.


def _render_codename(fresh: str, again: bool = False) -> str:
    return render_template(
        "codename.html",
        codename=fresh,
        receipt=codenames.looks_like_receipt(fresh.replace(" ", "")),
        again=again,
        reassurance=_reassurance(),
        # Language links come back here, whichever form showed the page.
        here=url_for("source.codename"),
    )


@bp.get("/codename")
@login_required
def codename() -> Any:
    """Show it again, until she has checked it; after that, never."""
    fresh = server_session().unseal(FRESH_CODENAME)
    if fresh is None:
        return redirect(url_for("source.case"), code=303)
    return _render_codename(fresh.decode(), again=True)


@bp.route("/codename/check", methods=["GET", "POST"])
@login_required
def codename_check() -> Any:
    """Let her type the codename back: it is dropped from the server only once it matches."""
    fresh = server_session().unseal(FRESH_CODENAME)
    outcome = None
    if request.method == "POST":
        services = _services()
        try:
            keys = services.deriver.derive(
                services.deriver.normalise(request.form.get("codename", ""))
            )
            source = services.service.source(session[SOURCE_KEY])
            outcome = "match" if keys.lookup_id == source.lookup_id else "mismatch"
        except BadCodename:
            outcome = "mismatch"
        if outcome == "match" and fresh is not None:
            forget_fresh_codename()
    receipt = fresh is not None and codenames.looks_like_receipt(fresh.decode().replace(" ", ""))
    return render_template(
        "codename_check.html",
        outcome=outcome,
        receipt=receipt,
        # "Show it again" while it is kept, i.e. until it matched.
        can_show=fresh is not None and outcome != "match",
    ), (200 if outcome != "mismatch" else 400)


# -- log in -------------------------------------------------------------------------------

_CODENAME_ERRORS = {
    "too_long": lambda: _("That is much longer than a codename. Please type only your codename."),
    "empty": lambda: _("Please type your codename."),
    "bad_characters": lambda: _(
        "A codename has only words or digits. Please check what you typed."
    ),
    "too_short": lambda: _(
        "That is shorter than a codename. A codename has seven words, or twenty digits."
    ),
}


def _render_login(error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("login.html", error=error), status


@bp.get("/login")
def login() -> Any:
    if session.get(SOURCE_KEY):
        return redirect(url_for("source.case"), code=303)
    return _render_login()


@bp.post("/login")
@csrf_soft
def login_post() -> Any:
    if csrf_failed():
        return _render_login(
            _("For your safety this page had expired. Please type your codename again."), 400
        )
    services = _services()
    typed = request.form.get("codename", "")
    try:
        normalised = services.deriver.normalise(typed)
    except BadCodename as exc:
        return _render_login(_CODENAME_ERRORS[exc.reason](), 400)
    keys = services.deriver.derive(normalised)
    source = services.service.find_source(keys.lookup_id)
    if source is None:
        unknown = codenames.unknown_words(typed)
        message = _(
            "We could not find a report with this codename or number. Please check what you "
            "typed and try again."
        )
        if unknown:
            message += " " + _(
                "These words are not in our list: %(words)s", words=", ".join(unknown[:7])
            )
        return _render_login(message, 400)
    _log_in(_start_log_in(), keys.private_key, source.id)
    return redirect(url_for("source.case"), code=303)


@bp.post("/logout")
def logout() -> tuple[str, int]:
    session.end(keep={"lang": current_language()})  # type: ignore[attr-defined]
    return render_template("logged_out.html"), 200


# Sent with the quick exit's redirect: the browser drops this site's cache
# (the back/forward cache too), its cookies and its storage.
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


@bp.get("/exit")
def quick_exit() -> Response:
    """Quick exit: end her session here, then leave for the neutral site.

    A plain link, so one tap works without JavaScript. Ending the session
    deletes it on the server (and wipes the files it kept for her), so Back
    finds no case page: every page is no-store and asks for the codename
    again. The cookie is SameSite=Strict, so another site cannot make her
    browser call this with it.
    """
    session.end()  # type: ignore[attr-defined]
    end_form_cookie()  # no form in her history can be sent again
    return Response(
        status=303,
        headers=[
            ("Location", current_app.config["SESIM"].quick_exit_url),
            ("Clear-Site-Data", CLEAR_SITE_DATA),
        ],
    )


# -- her case -----------------------------------------------------------------------------


def _notice(key: str | None) -> str | None:
    """Notices are stored as keys and translated when shown (in her current language)."""
    if key == "sent":
        return _("Sent. The %(centre)s will see it.", centre=centre_name())
    if key == "reply_deleted":
        return _("The reply was deleted.")
    if key == "consent_approve":
        return _("Thank you. Your answer is saved: they may publish it.")
    if key == "consent_refuse":
        return _("Thank you. Your answer is saved: it will not be published.")
    return None


def _see_other(endpoint: str) -> Response:
    """A 303 to one of our own pages (cheaper than redirect(); no user input in it)."""
    return Response(status=303, headers=[("Location", request.script_root + _PATHS[endpoint])])


_PATHS = {"source.case": "/case", "source.login": "/login", "source.codename": "/codename"}


def _render_case(
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> Any:
    service = _services().service
    source_id = session[SOURCE_KEY]
    key = private_key()
    if key is None:  # her key does not open with this cookie: as good as logged out
        server_session().end(keep={"lang": current_language()})
        return _see_other("source.login")
    items = service.items(source_id)
    replies = service.replies(source_id, key)
    unread = [r.item.id for r in replies if not r.item.source_read]
    service.mark_replies_read(source_id, unread)
    asks = any(r.consent_request for r in replies)
    # Once answered, "no answer yet" would be untrue after she deleted them.
    answered = bool(replies) or service.source(source_id).has_replies
    # Not yet checked: her case page leads back to the check and to "show it again".
    fresh = server_session().unseal(FRESH_CODENAME)
    unchecked = None
    if fresh is not None:
        receipt = codenames.looks_like_receipt(fresh.decode().replace(" ", ""))
        unchecked = "receipt" if receipt else "codename"
    return render_template(
        "case.html",
        answered=answered,
        unchecked=unchecked,
        items=[i for i in items if i.kind != "reply"],
        replies=replies,
        consent=service.consent(source_id) if asks else {},
        unread=set(unread),
        values=values or {},
        errors=errors or {},
        notice=_notice(session.pop(NOTICE, None) or request.args.get("done")),
        kept_files=uploads.pending(),
        removed_files=g.get("removed_files", []),
        max_file_mb=current_app.config["SESIM"].max_file_bytes // (1024 * 1024),
    ), status


@bp.get("/case")
@login_required
def case() -> Any:
    return _render_case()


@bp.post("/case/message")
@login_required_no_check
@csrf_soft
def add_message() -> Any:
    config = current_app.config["SESIM"]
    removed = _remove_kept()
    result = forms.parse_message(request.form, config.max_text_chars)
    attachments, file_errors = uploads.collect(request)
    if csrf_failed():
        result.errors["form"] = _expired_message()
    if file_errors:
        result.errors["files"] = " ".join(file_errors)
    if uploads.storage_failed():
        _keep(attachments, result.errors)
        result.errors["form"] = _could_not_save()
        return _render_case(result.values, result.errors, 503)
    kept = uploads.pending()
    nothing = not result.document["text"] and not attachments and not kept
    if removed and nothing and result.ok:  # she only removed files: say so, nothing to send
        return _render_case(result.values, result.errors, 200)
    if result.ok and nothing:
        result.errors["message"] = _("Please write a message or choose a file.")
    if not result.ok:
        _keep(attachments, result.errors)
        return _render_case(result.values, result.errors, 400)
    document = dict(result.document, lang=session.get("lang") or config.default_locale)
    files = kept + attachments
    try:
        _services().service.add_submission(
            session[SOURCE_KEY], Submission("message", document, files)
        )
    except (MissingBlob, StorageFull) as exc:
        uploads.take_pending()  # _refused keeps again what is still there
        status = _refused(exc, files, result.errors, _("Send"))
        return _render_case(result.values, result.errors, status)
    except NotFound:
        session.end()  # type: ignore[attr-defined]
        return _see_other("source.login")
    except Busy:  # the writer process is restarting: her text and files stay
        _keep(attachments, result.errors)
        result.errors["form"] = _(
            "We could not save your message just now. Nothing is lost: "
            "please wait a minute and press Send again."
        )
        return _render_case(result.values, result.errors, 503)
    uploads.take_pending()
    # In the address, not the session: the busiest path then writes no session.
    return Response(status=303, headers=[("Location", request.script_root + "/case?done=sent")])


def _her_reply(item_id: str) -> Any:
    """One of her own replies, or NotFound (the 404 page)."""
    if len(item_id) != 32:
        raise NotFound("item")
    for item in _services().service.items(session[SOURCE_KEY]):
        if item.id == item_id and item.kind == "reply":
            return item
    raise NotFound("item")


@bp.get("/case/replies/<item_id>/delete")
@login_required
def confirm_delete_reply(item_id: str) -> str:
    """Ask before deleting: a page of its own, so it works without JavaScript."""
    return render_template("delete_reply.html", reply=_her_reply(item_id))


@bp.post("/case/replies/<item_id>/delete")
@login_required
def delete_reply(item_id: str) -> Any:
    if request.form.get("confirm") != "yes":  # a form from before the question: ask it
        return render_template("delete_reply.html", reply=_her_reply(item_id))
    if len(item_id) != 32:
        raise NotFound("item")
    _services().service.delete_reply(session[SOURCE_KEY], item_id)
    session[NOTICE] = "reply_deleted"
    return redirect(url_for("source.case"), code=303)


@bp.post("/case/consent")
@login_required
def decide() -> Any:
    """Her answer to a draft the Legal Centre would like to publish (CSRF: strict, like
    every form here). Bound to her: only a draft that one of her own replies asks about,
    opened with her own key, can be decided; she may change her answer, the latest
    counts."""
    key = private_key()
    if key is None:
        server_session().end(keep={"lang": current_language()})
        return _see_other("source.login")
    draft_id = request.form.get("draft_id", "")
    decision = request.form.get("decision", "")
    try:
        _services().service.decide(session[SOURCE_KEY], key, draft_id, decision)
    except UnknownDraft:
        message = _(
            "We could not save your answer: this draft is no longer here. Nothing was"
            " changed. Please look at your answers below and choose again."
        )
        return _render_case(errors={"consent": message}, status=400)
    except NotFound:
        session.end()  # type: ignore[attr-defined]
        return _see_other("source.login")
    except (Busy, StorageFull):
        return _render_case(errors={"consent": _could_not_save()}, status=503)
    return Response(
        status=303,
        headers=[("Location", request.script_root + f"/case?done=consent_{decision}")],
    )


@bp.get("/case/withdraw")
@login_required
def withdraw_form() -> str:
    return render_template("withdraw.html", error=None)


@bp.post("/case/withdraw")
@login_required
def withdraw() -> Any:
    if request.form.get("confirm") != "yes":
        return render_template("withdraw.html", error=_("Please tick the box to confirm.")), 400
    _services().service.withdraw(session[SOURCE_KEY])
    session.end(keep={"lang": current_language()})  # type: ignore[attr-defined]
    return render_template("withdrawn.html"), 200
