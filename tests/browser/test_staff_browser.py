"""The staff interface in a real Chromium, as a lawyer at the Legal Centre uses it.

The flows run with JavaScript off (the staff interface needs none) at a laptop's
1280×800: log in with a typed TOTP code, reply from a template, export bundles,
delete sources in bulk, and the admin pages. The accessibility check runs axe-core
in a separate context where JavaScript is on and the pages' CSP is bypassed, in
Azerbaijani, Russian and English, and saves screenshots at 1280 and 360 px.

One staff server and one instance serve the whole module (``live_staff``); sources
are made through the source app's Flask test client on the same instance. Each test
makes its own sources, so the tests do not depend on one another's order.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from journalist_interface import reply_templates
from journalist_interface.totp import PERIOD, code_at
from securedrop_like import bundles, designations, models
from securedrop_like.errors import NotFound
from tests.browser.conftest import AXE_JS, LAPTOP, PHONE, LiveStaff, laptop_context
from tests.browser.test_source_browser import (
    AXE_RUN_JS,
    BLOCKING_IMPACTS,
    h1,
    html_lang,
    path_of,
    submit,
    switch_language,
)
from tests.conftest import SourceBrowser

pytestmark = pytest.mark.browser

NARROW = {"width": 360, "height": PHONE["height"]}
REPORT_TEXT = "The inspector said my shop stays open only if I pay him every month."
ATTACHMENT = b"Photo stand-in: the inspector's note.\n" * 40
REPLY_MARKER = "Reply marker 5c2e: we can meet you on Tuesday."
EVERY_PAGE = [
    "login",
    "login-error",
    "inbox",
    "source",
    "confirm",
    "upload",
    "upload-error",
    "withdrawals",
    "admin-staff",
    "admin-staff-error",
    "admin-secret",
    "admin-audit",
    "admin-templates",
    "not-found",
]

Visit = Callable[[str, Any], None]


# -- accounts, codes and sources --------------------------------------------------------------


@dataclass
class Account:
    """A staff account as its owner knows it: passphrase and authenticator secret."""

    username: str
    password: str
    secret: str
    language: str
    last_step: int = 0  # the server refuses a code whose step is not newer than the last one


def fresh_code(account: Account) -> str:
    """A code the server will accept now: never a step already used, never an old one.

    Only ``now`` or ``now + 1`` is used (never ``now - 1``), so a step boundary passing
    between here and the server's check cannot make the code too old.
    """
    while True:
        now = int(time.time()) // PERIOD
        step = max(account.last_step + 1, now)
        if step <= now + 1:
            account.last_step = step
            return code_at(account.secret, step)
        time.sleep(PERIOD - time.time() % PERIOD + 0.05)  # both used: wait for the next


def wrong_code(account: Account) -> str:
    """Six digits that are no code of ``account`` anywhere near now."""
    now = int(time.time()) // PERIOD
    near = {code_at(account.secret, now + k) for k in range(-3, 4)}
    return next(c for c in ("000000", "111111", "222222", "123456") if c not in near)


@dataclass
class Env:
    live: LiveStaff
    source_app: Flask
    lawyer: Account  # "rena": replies, exports, deletes (her language: az)
    admin: Account  # "aysel": accounts, audit log, templates (her language: en)
    # The browser's cookies of one logged-in session each, to start contexts already in.
    lawyer_state: dict[str, Any]
    admin_state: dict[str, Any]
    walk_source: str  # a source the accessibility walk opens

    def add_account(self, username: str, language: str) -> Account:
        return add_account(self.live, username, language)

    def new_source(
        self, text: str = REPORT_TEXT, files: list[tuple[bytes, str]] | None = None
    ) -> tuple[str, str]:
        """A woman reports through the source app; (source id, codename)."""
        before = self.source_ids()
        browser = SourceBrowser(self.source_app.test_client())
        codename = browser.report_and_get_codename(text, files=files)
        (source_id,) = self.source_ids() - before
        return source_id, codename

    def source_ids(self) -> set[str]:
        return {str(r[0]) for r in self.conn().execute("SELECT id FROM sources")}

    def source(self, source_id: str) -> models.Source:
        found = models.source_by_id(self.conn(), source_id)
        assert found is not None
        return found

    def items(self, source_id: str) -> list[models.Item]:
        return models.items_of(self.conn(), source_id)

    def conn(self) -> Any:
        return self.live.app.extensions["sesim_staff"].db.reader()


def add_account(live: LiveStaff, username: str, language: str, is_admin: bool = False) -> Account:
    new = live.accounts.add(username, is_admin=is_admin, language=language)
    return Account(username, new.password, new.totp_secret, language)


def log_in(page: Any, live: LiveStaff, account: Account, code: str | None = None) -> None:
    """Type username, passphrase and the code from the authenticator app, and submit."""
    if path_of(page) != "/login":
        page.goto(live("/login"))
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    page.fill("#code", code if code is not None else fresh_code(account))
    submit(page, "main form")


@pytest.fixture(scope="module")
def env(live_staff: LiveStaff, chromium: Any) -> Iterator[Env]:
    from source_interface import create_app

    source_app = create_app(live_staff.instance.config, TESTING=True)
    states: list[dict[str, Any]] = []
    accounts: list[Account] = []
    for username, language, is_admin in (("rena", "az", False), ("aysel", "en", True)):
        account = add_account(live_staff, username, language, is_admin)
        context = laptop_context(chromium, java_script_enabled=False)
        page = context.new_page()
        log_in(page, live_staff, account)
        assert path_of(page) == "/", page.content()[:2000]
        states.append(context.storage_state())
        context.close()
        accounts.append(account)
    environment = Env(
        live_staff,
        source_app,
        lawyer=accounts[0],
        admin=accounts[1],
        lawyer_state=states[0],
        admin_state=states[1],
        walk_source="",
    )
    environment.walk_source, _ = environment.new_source(files=[(ATTACHMENT, "note.jpg")])
    # One woman withdrew, so the withdrawals page and the inbox's notice have something.
    withdrawn, _ = environment.new_source("I want to take it all back.")
    source_app.extensions["sesim"].service.withdraw(withdrawn)
    try:
        yield environment
    finally:
        source_app.extensions["sesim"].service.close()


@pytest.fixture
def no_js(chromium: Any) -> Iterator[Callable[..., Any]]:
    """Make laptop contexts with JavaScript off (``state``: start logged in)."""
    made: list[Any] = []

    def new(state: dict[str, Any] | None = None) -> Any:
        context = laptop_context(chromium, java_script_enabled=False, storage_state=state)
        made.append(context)
        return context

    yield new
    for context in made:
        context.close()


def alert(page: Any) -> str:
    return str(page.locator("main [role=alert]").inner_text()).strip()


def status(page: Any) -> str:
    return str(page.locator("main [role=status]").first.inner_text()).strip()


def button(page: Any, live: LiveStaff, lang: str, label: str) -> Any:
    return page.get_by_role("button", name=live.gettext(lang, label), exact=True)


def read_bundle(path: Path) -> tuple[bundles.ExportManifest, dict[str, bytes]]:
    """Read a downloaded export bundle in full (every item's size and SHA-256 checked)."""
    with path.open("rb") as src, bundles.read_export(src) as reader:
        got = {entry.id: stream.read() for entry, stream in reader}
        return reader.manifest, got


# -- 1. log in with a typed code ---------------------------------------------------------------


def test_log_in_with_passphrase_and_typed_code(env: Env, no_js: Any) -> None:
    live = env.live
    leyla = env.add_account("leyla", "ru")
    page = no_js().new_page()
    documents: list[tuple[str, dict[str, str]]] = []

    def on_response(response: Any) -> None:
        if response.request.resource_type == "document":
            documents.append((response.url, response.headers))

    page.on("response", on_response)

    page.goto(live("/"))  # not logged in: sent to the log-in page, in Azerbaijani
    assert path_of(page) == "/login"
    assert html_lang(page) == "az"
    assert h1(page) == live.gettext("az", "Log in")

    log_in(page, live, leyla, code=wrong_code(leyla))
    assert path_of(page) == "/login"
    assert alert(page) == live.gettext("az", "The username, passphrase or code is not right.")
    assert page.locator("#username").get_attribute("aria-describedby") == "login-error"
    assert page.locator("header nav[aria-label]").count() == 1  # only the language links

    log_in(page, live, leyla)
    assert path_of(page) == "/"
    assert html_lang(page) == "ru"  # her account's language
    assert h1(page) == live.gettext("ru", "Inbox")
    assert page.locator("header form.logout span").inner_text().strip() == "leyla"
    # A lawyer is no administrator: no admin links, and the pages refuse her.
    assert page.locator("header a[href='/admin/staff']").count() == 0
    response = page.goto(live("/admin/staff"))
    assert response is not None and response.status == 403
    assert h1(page) == live.gettext("ru", "For administrators only")

    page.goto(live("/"))
    submit(page, "header form.logout")
    assert path_of(page) == "/login"
    page.goto(live("/"))
    assert path_of(page) == "/login"

    assert "<script" not in page.content().lower()
    for url, headers in documents:
        assert "default-src 'none'" in headers.get("content-security-policy", ""), url
        assert headers.get("cache-control") == "no-store", url


# -- 2. the inbox, a source's page, a reply from a template -----------------------------------


def test_reply_from_a_template_reaches_her(env: Env, no_js: Any) -> None:
    live, lang = env.live, env.lawyer.language
    source_id, codename = env.new_source()
    label = designations.label(env.source(source_id).designation, lang)
    page = no_js(env.lawyer_state).new_page()

    page.goto(live("/"))
    assert h1(page) == live.gettext(lang, "Inbox")
    link = page.locator(f"main a[href='/sources/{source_id}']")
    assert link.inner_text().strip() == label
    with page.expect_navigation():
        link.click()
    assert path_of(page) == f"/sources/{source_id}"
    assert h1(page) == label
    assert page.locator("#items tbody tr").count() == 1  # her report
    assert codename not in page.content() and REPORT_TEXT not in page.content()

    # Add a template, in Russian, to what she typed: nothing typed is replaced, and the
    # reply's language follows the template's.
    page.fill("#text", "Здравствуйте!")
    page.select_option("#template", "legal_help")
    page.select_option("#tlang", "ru")
    with page.expect_navigation():
        button(page, live, lang, "Add this template").click()
    expected = reply_templates.template(env.conn(), "legal_help", "ru")
    assert expected is not None and expected.body
    assert page.input_value("#text") == "Здравствуйте!\n\n" + expected.body
    assert page.input_value("#lang") == "ru"
    assert page.input_value("#template") == "legal_help"
    assert len(env.items(source_id)) == 1  # nothing sent yet

    page.select_option("#lang", "ru")
    page.fill("#text", page.input_value("#text") + "\n\n" + REPLY_MARKER)
    with page.expect_navigation():
        button(page, live, lang, "Send the reply").click()
    assert path_of(page) == f"/sources/{source_id}"
    assert status(page) == live.gettext(
        lang, "Your reply was sealed and stored. She will see it at her next log-in."
    )
    assert REPLY_MARKER not in page.content()  # never shown again here
    rows = page.locator("#items tbody tr")
    assert rows.count() == 2
    assert "rena" in rows.nth(1).inner_text()

    # She logs in with her codename and reads it, in Russian.
    her = SourceBrowser(env.source_app.test_client())
    assert her.login(codename).status_code == 303
    case = her.case()
    match = re.search(r'<p class="text" lang="([a-z]+)">([^<]*)</p>', case)
    assert match, case[:3000]
    assert match.group(1) == "ru"
    assert REPLY_MARKER in match.group(2)


def test_a_reply_sent_after_the_session_ended_survives_the_log_in(
    env: Env, no_js: Any, artifacts: Path
) -> None:
    """JavaScript off: she types a reply, adds a template, goes for lunch; her session
    ends; "Send" brings her reply back inside the log-in form, and logging in sends it."""
    live = env.live
    gunel = env.add_account("gunel", "ru")
    source_id, codename = env.new_source()
    store = live.app.extensions["sesim_staff"].sessions
    before = set(store._entries)
    page = no_js().new_page()
    log_in(page, live, gunel)
    assert path_of(page) == "/"
    page.goto(live(f"/sources/{source_id}"))
    typed = "Reply marker 8d1f: thank you for trusting us."
    page.fill("#text", typed)
    page.select_option("#template", "request_details")
    page.select_option("#tlang", "en")
    with page.expect_navigation():
        button(page, live, "ru", "Add this template").click()
    body = reply_templates.template(env.conn(), "request_details", "en")
    assert body is not None
    assert page.input_value("#text") == typed + "\n\n" + body.body

    for sid in set(store._entries) - before:  # her session ends (idle limit, restart…)
        store.delete(sid)
    with page.expect_navigation():
        button(page, live, "ru", "Send the reply").click()
    assert page.locator("#username").count() == 1  # the log-in form …
    assert page.input_value("#reply_text") == typed + "\n\n" + body.body  # … with her reply
    assert len(env.items(source_id)) == 1  # not sent yet
    lang = html_lang(page)
    page.screenshot(path=str(artifacts / f"staff-{lang}-login-carried-reply.png"), full_page=True)
    page.set_viewport_size(NARROW)
    page.screenshot(
        path=str(artifacts / f"staff-{lang}-login-carried-reply-360.png"), full_page=True
    )
    page.set_viewport_size(LAPTOP)

    def log_in_here(code: str) -> None:  # on this page: log_in() would open /login afresh
        page.fill("#username", gunel.username)
        page.fill("#password", gunel.password)
        page.fill("#code", code)
        submit(page, "main form")

    log_in_here(wrong_code(gunel))  # a typo first: her reply is still there
    assert path_of(page) == "/login"
    assert page.input_value("#reply_text") == typed + "\n\n" + body.body
    page.fill("#reply_text", page.input_value("#reply_text") + "\nGunel")
    log_in_here(fresh_code(gunel))
    assert path_of(page) == f"/sources/{source_id}"
    assert status(page) == live.gettext(
        "ru", "Your reply was sealed and stored. She will see it at her next log-in."
    )
    items = env.items(source_id)
    assert [i.kind for i in items] == ["report", "reply"] and items[1].author == "gunel"
    her = SourceBrowser(env.source_app.test_client())
    assert her.login(codename).status_code == 303
    case = her.case()
    assert "Reply marker 8d1f" in case and "Gunel" in case


# -- 3. export bundles -------------------------------------------------------------------------


def test_export_ticked_items_and_everything_unread(env: Env, no_js: Any, tmp_path: Path) -> None:
    live, lang = env.live, env.lawyer.language
    source_id, _ = env.new_source(files=[(ATTACHMENT, "note.jpg")])
    report, attachment = env.items(source_id)
    assert (report.kind, attachment.kind) == ("report", "file")
    page = no_js(env.lawyer_state).new_page()

    page.goto(live(f"/sources/{source_id}"))
    page.check(f"#item-{attachment.id}")
    with page.expect_download() as info:
        button(page, live, lang, "Download for the workstation").click()
    download = info.value
    assert re.fullmatch(r"sesim-export-\d{4}-\d{2}-\d{2}\.tar", download.suggested_filename)
    saved = tmp_path / "selected.tar"
    download.save_as(saved)
    manifest, got = read_bundle(saved)
    assert [(e.id, e.kind, e.size) for e in manifest.items] == [
        (attachment.id, "file", attachment.size)
    ]
    assert manifest.items[0].source == env.source(source_id).designation
    assert len(got[attachment.id]) == attachment.size
    assert path_of(page) == f"/sources/{source_id}"  # the page stays

    # "Download everything unread", from the inbox: every unread item of every source.
    unread = {
        str(r[0])
        for r in env.conn().execute("SELECT id FROM items WHERE staff_read = 0 AND kind != 'reply'")
    }
    assert {report.id, attachment.id} <= unread
    page.goto(live("/"))
    with page.expect_download() as info:
        button(page, live, lang, "Download everything unread").click()
    saved = tmp_path / "unread.tar"
    info.value.save_as(saved)
    manifest, got = read_bundle(saved)
    assert {e.id for e in manifest.items} == unread
    assert set(got) == unread
    assert {r.designation for r in manifest.retractions}  # the withdrawal notice rides along


# -- 4. bulk deletion, with a confirmation page ----------------------------------------------


def test_bulk_delete_asks_then_deletes(env: Env, no_js: Any) -> None:
    live, lang = env.live, env.lawyer.language
    source_id, codename = env.new_source()
    page = no_js(env.lawyer_state).new_page()

    page.goto(live("/"))
    page.check(f"main input[name=source][value='{source_id}']")
    with page.expect_navigation():
        button(page, live, lang, "Delete…").click()
    assert path_of(page) == "/sources/bulk"
    assert h1(page) == live.ngettext(lang, "Delete %(num)s source?", "Delete %(num)s sources?", 1)
    assert alert(page)
    env.source(source_id)  # nothing deleted yet
    with page.expect_navigation():
        button(page, live, lang, "Yes, delete").click()
    assert path_of(page) == "/"
    assert status(page) == live.gettext(lang, "The selected sources were deleted.")
    assert page.locator(f"main a[href='/sources/{source_id}']").count() == 0
    with pytest.raises(NotFound):
        live.service.source(source_id)
    her = SourceBrowser(env.source_app.test_client())
    assert her.login(codename).status_code != 303  # her codename opens nothing now


# -- 5. administration ---------------------------------------------------------------------------


def test_admin_adds_an_account_reads_the_audit_log_and_edits_templates(
    env: Env, no_js: Any
) -> None:
    live, lang = env.live, env.admin.language
    page = no_js(env.admin_state).new_page()
    page.goto(live("/"))

    # Accounts: add one; the passphrase and the TOTP secret are shown once, with a QR code.
    with page.expect_navigation():
        page.locator("header nav a[href='/admin/staff']").click()
    assert h1(page) == live.gettext(lang, "Staff accounts")
    page.fill("#username", "nigar")
    page.select_option("#language", "ru")
    with page.expect_navigation():
        button(page, live, lang, "Add the account").click()
    assert path_of(page) == "/admin/staff/add"
    assert h1(page) == live.gettext(lang, "Account %(name)s added", name="nigar")
    password = page.locator("main p.secret").inner_text().strip()
    key = page.locator("main code.secret").inner_text().strip()
    assert len(password.split()) == 7, password
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4})*", key), key
    qr = page.locator("main div.qr[role=img]")
    assert qr.get_attribute("aria-label") == live.gettext(lang, "QR code for the authenticator app")
    assert qr.locator("svg").count() == 1
    assert page.locator("main img").count() == 0  # inline SVG, nothing fetched
    assert "otpauth://totp/" in page.locator("main code.uri").inner_text()
    assert password not in page.url and key.replace(" ", "") not in page.url

    # What was shown is enough: she logs in with it, in her language.
    nigar = Account("nigar", password, key.replace(" ", ""), "ru")
    other = no_js().new_page()
    log_in(other, live, nigar)
    assert path_of(other) == "/"
    assert html_lang(other) == "ru"

    # The account is listed; the secret page is not shown again.
    page.goto(live("/admin/staff"))
    row = page.locator("main table.accounts tbody tr", has_text="nigar")
    assert row.count() == 1
    assert password not in page.content()

    # Audit log: the addition is there, naming the account only.
    with page.expect_navigation():
        page.locator("header nav a[href='/admin/audit']").click()
    assert h1(page) == live.gettext(lang, "Audit log")
    added = page.locator(
        "main table tbody tr", has_text=live.gettext(lang, "Added a staff account")
    )
    assert added.count() >= 1
    assert "nigar" in added.first.inner_text()
    assert password not in page.content()

    # Reply templates: twelve (four templates in three languages); edit one, then restore it.
    page.goto(live("/admin/templates"))
    assert h1(page) == live.gettext(lang, "Reply templates")
    assert page.locator("main textarea").count() == len(reply_templates.NAMES) * 3
    original = page.input_value("#body-request_consent-en")
    page.fill("#body-request_consent-en", "May we publish what you told us, without your name?")
    with page.expect_navigation():
        page.locator("#t-request_consent-en button[value=save]").click()
    assert status(page) == live.gettext(lang, "Saved.")
    assert page.input_value("#body-request_consent-en") == (
        "May we publish what you told us, without your name?"
    )
    with page.expect_navigation():
        page.locator("#t-request_consent-en button[value=reset]").click()
    assert page.input_value("#body-request_consent-en") == original


# -- 6. accessibility (axe-core), in three languages, with screenshots -----------------------


def walk_every_page(page: Any, env: Env, lang: str, visit: Visit) -> None:
    """Open every staff page in ``lang``, calling ``visit(name, page)`` on each."""
    live = env.live
    page.goto(live("/login"))
    if html_lang(page) != lang:
        switch_language(page, lang)
    visit("login", page)
    page.fill("#username", "nobody")
    page.fill("#password", "not a passphrase")
    page.fill("#code", "000000")
    submit(page, "main form")
    assert page.locator("#login-error[role=alert]").count() == 1
    visit("login-error", page)

    # Now as the administrator (who sees every page), in the same language.
    page.context.add_cookies(env.admin_state["cookies"])
    page.goto(live(f"/lang/{lang}?next=/"))
    assert (path_of(page), html_lang(page)) == ("/", lang)
    visit("inbox", page)

    with page.expect_navigation():
        page.locator(f"main a[href='/sources/{env.walk_source}']").click()
    visit("source", page)

    submit(page, f"main form[action='/sources/{env.walk_source}/delete']")
    assert page.locator("main button.danger").count() == 1
    visit("confirm", page)
    with page.expect_navigation():
        page.locator("main form a").click()  # Cancel
    assert path_of(page) == f"/sources/{env.walk_source}"

    page.goto(live("/replies/upload"))
    visit("upload", page)
    page.set_input_files(
        "#bundle", files=[{"name": "x.tar", "mimeType": "application/x-tar", "buffer": b"x" * 99}]
    )
    submit(page, "main form")
    assert page.locator("#upload-error[role=alert]").count() == 1
    visit("upload-error", page)

    page.goto(live("/withdrawals"))
    assert page.locator("main table tbody tr").count() >= 1
    visit("withdrawals", page)

    page.goto(live("/admin/staff"))
    visit("admin-staff", page)
    page.fill("#username", "No Capitals!")
    submit(page, "main form.narrow")
    assert page.locator("#admin-error[role=alert]").count() == 1
    visit("admin-staff-error", page)
    page.fill("#username", f"axe-{lang}")
    submit(page, "main form.narrow")
    assert page.locator("main div.qr svg").count() == 1
    visit("admin-secret", page)

    page.goto(live("/admin/audit"))
    visit("admin-audit", page)
    page.goto(live("/admin/templates"))
    visit("admin-templates", page)

    response = page.goto(live("/nope"))
    assert response is not None and response.status == 404
    visit("not-found", page)


def test_axe_reports_a_planted_violation(chromium: Any) -> None:
    """The check below is only worth something if axe really runs and reports."""
    context = laptop_context(chromium, java_script_enabled=True, bypass_csp=True)
    try:
        page = context.new_page()
        page.set_content('<html><body><main><input type="text"></main></body></html>')
        page.add_script_tag(path=str(AXE_JS))
        ids = {v["id"] for v in page.evaluate(AXE_RUN_JS) if v["impact"] in BLOCKING_IMPACTS}
        assert {"html-has-lang", "label"} <= ids, ids
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_every_staff_page_passes_axe(env: Env, chromium: Any, artifacts: Path, lang: str) -> None:
    assert AXE_JS.exists(), f"{AXE_JS} is missing: run npm ci in tests/browser"
    context = laptop_context(chromium, java_script_enabled=True, bypass_csp=True)
    blocking: dict[str, list[dict[str, Any]]] = {}
    visited: list[str] = []

    def visit(name: str, page: Any) -> None:
        visited.append(name)
        assert html_lang(page) == lang, name
        page.add_script_tag(path=str(AXE_JS))
        violations = page.evaluate(AXE_RUN_JS)
        for v in violations:
            print(f"axe {lang} {name}: {v['impact']} {v['id']} {v['targets']}")
        bad = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        if bad:
            blocking[name] = bad
        page.screenshot(path=str(artifacts / f"staff-{lang}-{name}.png"), full_page=True)
        page.set_viewport_size(NARROW)
        page.screenshot(path=str(artifacts / f"staff-{lang}-{name}-360.png"), full_page=True)
        page.set_viewport_size(LAPTOP)

    try:
        walk_every_page(context.new_page(), env, lang, visit)
    finally:
        context.close()
    assert visited == EVERY_PAGE
    assert blocking == {}, "axe found serious or critical violations:\n" + json.dumps(
        blocking, indent=1, ensure_ascii=False
    )
