"""The source interface in a real Chromium, as a woman on a cheap phone uses it.

The flow runs with JavaScript off (Tor Browser at "Safest") at 360×740. The
layout and accessibility checks need scripts of their own (axe-core, a
scroll-width probe), so they run in a separate context where JavaScript is on
and the pages' CSP is bypassed; the app itself never sends a script.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from crypto import EnvelopeContext, PublicKey, encrypt_bytes
from securedrop_like.errors import NotFound
from securedrop_like.store import new_id
from tests.browser.conftest import AXE_JS, PHONE, LiveSource

pytestmark = pytest.mark.browser

ATTACHMENT = b"Screenshot stand-in: the message he sent on 3 May.\n" * 20
REPORT_TEXT = "The official at the housing office said he would sign only if I met him."
REPLY_TEXT = "We have read your report. A lawyer can meet you; answer here when you can."
UNKNOWN_CODENAME = "zzzq zzzq zzzq zzzq zzzq zzzq zzzq"
BLOCKING_IMPACTS = ("serious", "critical")
EVERY_PAGE = [
    "start",
    "report",
    "report-errors",
    "codename",
    "codename-check",
    "codename-check-mismatch",
    "codename-check-match",
    "case",
    "case-errors",
    "case-consent",
    "case-consent-decided",
    "withdraw",
    "logged-out",
    "login",
    "login-error",
    "withdrawn",
    "not-found",
]

Visit = Callable[[str, Any], None]


# -- helpers --------------------------------------------------------------------------------


def html_lang(page: Any) -> str:
    return str(page.locator("html").get_attribute("lang"))


def h1(page: Any) -> str:
    return str(page.locator("main h1").inner_text()).strip()


def path_of(page: Any) -> str:
    return urlsplit(page.url).path


def submit(page: Any, form: str) -> None:
    """Press the form's submit button and wait for the page that answers."""
    with page.expect_navigation():
        page.locator(f"{form} button").last.click()


def click_link(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).first.click()


def switch_language(page: Any, code: str) -> None:
    click_link(page, f"header nav.langs a[hreflang={code}]")
    assert html_lang(page) == code
    assert page.locator(f"nav.langs span[aria-current][lang={code}]").count() == 1


def screenshot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"source-{name}.png"), full_page=True)


def fill_report(page: Any, text: str) -> None:
    page.fill("#what_happened", text)
    page.check("#t-sextortion")
    page.check("#t-threats")
    page.select_option("#district", "nasimi")
    page.select_option("#perpetrator", "official")
    page.check("#r-self")
    page.check("#c-no")
    page.set_input_files(
        "#files", files=[{"name": "message.txt", "mimeType": "text/plain", "buffer": ATTACHMENT}]
    )


DRAFT_TEXT = (
    "An official at a housing office in Nəsimi district refused to sign a document unless"
    " the woman met him alone (March 2024)."
)


def send_consent_request(live: LiveSource, source_id: str) -> str:
    """A reply asking her about a draft, sealed as the workstation seals it (to her key
    and the reviewer's, bound to the reply) and stored as a reply bundle stores it."""
    her_key = PublicKey(live.service.source(source_id).public_key)
    reply_id = new_id()
    document = {
        "format": "sesim-reply",
        "v": 1,
        "text": "May we publish this? It has nothing that shows who you are.",
        "lang": "en",
        "consent_request": {"draft_id": new_id(), "text": DRAFT_TEXT},
    }
    sealed = encrypt_bytes(
        json.dumps(document, ensure_ascii=False).encode(),
        [her_key, live.instance.reviewer_key.public_key],
        context=EnvelopeContext.reply(reply_id, her_key),
    )
    live.service.store_sealed_replies([(source_id, reply_id, "workstation:leyla", sealed)])
    return reply_id


def decrypt_all(live: LiveSource, source_id: str) -> list[tuple[str, bytes]]:
    out = []
    for item in live.service.items(source_id):
        sink = io.BytesIO()
        live.service.decrypt_item_to(item, live.instance.reviewer_key, sink)
        out.append((item.kind, sink.getvalue()))
    return out


def walk_every_page(page: Any, live: LiveSource, lang: str, visit: Visit) -> None:
    """Open every page a source can see, in ``lang``, calling ``visit(name, page)`` on each."""
    page.goto(live("/"))
    if lang != html_lang(page):
        switch_language(page, lang)
    visit("start", page)

    click_link(page, "main a.button[href='/report']")
    visit("report", page)
    # Only spaces pass the browser's `required` check but not the server's; a
    # file is attached so that the "kept from before" notice shows too.
    fill_report(page, "   ")
    page.select_option("select[name=when_month]", "3")
    submit(page, "main form")
    assert page.locator(".errbox[role=alert]").count() == 1
    visit("report-errors", page)

    page.fill("#what_happened", REPORT_TEXT)
    page.select_option("select[name=when_month]", "")
    submit(page, "main form")
    assert path_of(page) == "/report"  # the codename page answers the POST itself
    codename = page.locator("p.codename").inner_text().strip()
    visit("codename", page)

    click_link(page, "main a[href='/codename/check']")
    visit("codename-check", page)
    page.fill("#codename", UNKNOWN_CODENAME)
    submit(page, "main form")
    assert page.locator("p.err[role=alert]").count() == 1
    visit("codename-check-mismatch", page)
    page.fill("#codename", codename)
    submit(page, "main form")
    assert page.locator("p.ok[role=status]").count() == 1
    visit("codename-check-match", page)

    (source_id,) = live.logged_in_source_ids()
    live.service.place_reply(source_id, REPLY_TEXT, "en", "lawyer")
    page.goto(live("/case"))
    page.fill("#message", "One more thing: it happened twice.")
    submit(page, "main form[action='/case/message']")
    assert page.locator("article.reply").count() == 1
    visit("case", page)

    page.fill("#message", "x" * (live.instance.config.max_text_chars + 1))
    submit(page, "main form[action='/case/message']")
    assert page.locator("#message-error").count() == 1
    visit("case-errors", page)

    send_consent_request(live, source_id)
    page.goto(live("/case"))
    assert page.locator("section.consent blockquote.draft").inner_text() == DRAFT_TEXT
    visit("case-consent", page)
    with page.expect_navigation():
        page.locator("section.consent button[value=approve]").click()
    assert page.locator("section.consent p.ok").count() == 1
    visit("case-consent-decided", page)

    click_link(page, "main a[href='/case/withdraw']")
    visit("withdraw", page)

    submit(page, "header form.out")
    visit("logged-out", page)

    page.goto(live("/login"))
    # Logging out forgets the session, and the chosen language with it.
    if lang != html_lang(page):
        switch_language(page, lang)
    visit("login", page)
    page.fill("#codename", UNKNOWN_CODENAME)
    submit(page, "main form")
    assert page.locator("#codename-error").count() == 1
    visit("login-error", page)
    page.fill("#codename", codename)
    submit(page, "main form")
    assert path_of(page) == "/case"

    page.goto(live("/case/withdraw"))
    page.check("#confirm")
    submit(page, "main form")
    visit("withdrawn", page)

    response = page.goto(live("/nope"))
    assert response is not None and response.status == 404
    if lang != html_lang(page):  # withdrawing ended the session too
        switch_language(page, lang)
    visit("not-found", page)


# -- the whole flow, JavaScript off -----------------------------------------------------------


def test_whole_flow_on_a_phone_without_javascript(
    live_source: LiveSource, no_js_context: Any, artifacts: Path
) -> None:
    live = live_source
    page = no_js_context.new_page()
    requests: list[str] = []
    documents: list[tuple[str, dict[str, str]]] = []

    def on_response(response: Any) -> None:
        if response.request.resource_type == "document":
            documents.append((response.url, response.headers))

    page.on("request", lambda request: requests.append(request.url))
    page.on("response", on_response)

    def seen(name: str | None = None) -> None:
        html = page.content()
        assert "<script" not in html.lower(), f"a script on {page.url}"
        if name:
            screenshot(page, artifacts, name)

    # Start page, in Azerbaijani by default; the language links work without JavaScript.
    page.goto(live("/"))
    assert html_lang(page) == "az"
    seen("start")
    switch_language(page, "ru")
    assert path_of(page) == "/"
    switch_language(page, "en")
    assert path_of(page) == "/"
    assert h1(page) == live.gettext("en", "Tell us what happened. Safely.")
    switch_language(page, "az")

    # Report, with a few options and a file.
    click_link(page, "main a.button[href='/report']")
    assert path_of(page) == "/report"
    assert h1(page) == live.gettext("az", "Report what happened")
    fill_report(page, REPORT_TEXT)
    seen("report")
    submit(page, "main form")

    # The codename: eight words of the az list, shown once, in the answer to her report.
    assert path_of(page) == "/report"
    codename = page.locator("p.codename").inner_text().strip()
    assert len(codename.split()) == 8, codename  # az page: 8 words of the az list (issue 11)
    seen("codename")

    # Her case: the report and the file are listed; she adds a message.
    click_link(page, "main a[href='/case']")
    assert path_of(page) == "/case"
    assert h1(page) == live.gettext("az", "Your case")
    assert page.locator("main table tbody tr").count() == 2
    page.fill("#message", "One more thing: it happened twice.")
    submit(page, "main form[action='/case/message']")
    assert path_of(page) == "/case"
    assert page.locator("p.ok[role=status]").inner_text().strip() == live.gettext(
        "az", "Sent. The %(centre)s will see it.", centre="Hüquq Mərkəzi"
    )
    assert page.locator("main table tbody tr").count() == 3
    seen()

    # What arrived is sealed to the reviewer, with her answers inside.
    (source_id,) = live.logged_in_source_ids()
    decrypted = decrypt_all(live, source_id)
    assert [kind for kind, _ in decrypted] == ["report", "file", "message"]
    report = json.loads(decrypted[0][1])
    assert report["text"] == REPORT_TEXT
    assert report["types"] == ["sextortion", "threats"]
    assert report["where"]["location"] == "nasimi"
    assert report["perpetrator"] == "official"
    assert (report["role"], report["consent"], report["lang"]) == ("self", "no", "az")
    assert report["attachments"][0]["name"] == "message.txt"
    assert decrypted[1][1] == ATTACHMENT
    assert codename not in page.content()

    # Log out, and back in with the codename in capitals and with dashes.
    submit(page, "header form.out")
    assert h1(page) == live.gettext("az", "You have logged out")
    assert live.logged_in_source_ids() == []
    seen("logged-out")
    click_link(page, "header a.brand")
    click_link(page, "main a[href='/login']")
    seen("login")
    page.fill("#codename", codename.upper().replace(" ", "-"))
    submit(page, "main form")
    assert path_of(page) == "/case"
    assert h1(page) == live.gettext("az", "Your case")
    assert live.logged_in_source_ids() == [source_id]

    # A lawyer answers; she reads it, then deletes it.
    live.service.place_reply(source_id, REPLY_TEXT, "en", "lawyer")
    page.reload()
    reply = page.locator("article.reply")
    assert reply.count() == 1
    assert reply.locator("p.text").inner_text().strip() == REPLY_TEXT
    assert reply.locator("p.text").get_attribute("lang") == "en"
    assert reply.locator("strong").inner_text().strip() == live.gettext("az", "New")
    seen("case")
    # Deleting asks first, on a page of its own.
    click_link(page, "article.reply a.delete")
    assert h1(page) == live.gettext("az", "Delete this answer?")
    submit(page, "main form")
    assert path_of(page) == "/case"
    assert page.locator("article.reply").count() == 0
    assert page.locator("p.ok[role=status]").inner_text().strip() == live.gettext(
        "az", "The reply was deleted."
    )
    assert [k for k, _ in decrypt_all(live, source_id)] == ["report", "file", "message"]

    # The language can change while she is logged in; she stays logged in.
    switch_language(page, "ru")
    assert path_of(page) == "/case"
    switch_language(page, "en")
    assert path_of(page) == "/case"
    assert h1(page) == "Your case"

    # Withdraw everything.
    click_link(page, "main a[href='/case/withdraw']")
    assert path_of(page) == "/case/withdraw"
    seen("withdraw")
    page.check("#confirm")
    submit(page, "main form")
    assert h1(page) == live.gettext("en", "Everything has been deleted")
    assert html_lang(page) == "en"
    seen("withdrawn")
    assert live.logged_in_source_ids() == []
    with pytest.raises(NotFound):
        live.service.source(source_id)

    # The codename no longer opens anything.
    page.goto(live("/login"))
    page.fill("#codename", codename)
    submit(page, "main form")
    assert path_of(page) == "/login"
    assert page.locator("#codename-error[role=alert]").count() == 1
    seen("login-error")

    # Nothing was fetched from anywhere but the app, and every page had the strict headers.
    origin = live("")
    assert [u for u in requests if not u.startswith(origin + "/")] == []
    assert documents
    for url, headers in documents:
        assert "default-src 'none'" in headers.get("content-security-policy", ""), url
        assert headers.get("referrer-policy") == "no-referrer", url


# -- JavaScript really is off -----------------------------------------------------------------


def _title_after_inline_script(context: Any, url: str) -> str:
    """The title of a page of ours (routed at ``url``) whose inline script sets the title."""
    context.route(
        url,
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            body="<!doctype html><title>js off</title><script>document.title='js on'</script>",
        ),
    )
    page = context.new_page()
    page.goto(url)
    title = str(page.title())
    page.close()
    return title


def test_the_no_javascript_context_runs_no_scripts(
    live_source: LiveSource, no_js_context: Any, inspect_context: Any
) -> None:
    probe = live_source("/js-probe")
    assert _title_after_inline_script(inspect_context, probe) == "js on"  # the probe works
    assert _title_after_inline_script(no_js_context, probe) == "js off"

    # And the app's pages carry no script at all, yet work (the form posts back).
    page = no_js_context.new_page()
    for path in ("/", "/report", "/login", "/nope"):
        page.goto(live_source(path))
        assert "<script" not in page.content().lower(), path
    page.goto(live_source("/login"))
    page.fill("#codename", UNKNOWN_CODENAME)
    submit(page, "main form")
    assert page.locator("#codename-error").count() == 1


# -- layout: no sideways scrolling on a 360 px phone -----------------------------------------

OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > width + 0.5) {
      wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                (el.className && typeof el.className === 'string' ? '.' + el.className : '') +
                ' right=' + Math.round(r.right));
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10)};
}"""


# The report form scrolls sideways at 360 px (and 320 px): a <fieldset> is at
# least as wide as its widest content by default (min-width: min-content), and the
# "Who did it?" / "Was a public service involved?" selects hold options such as
# "Documents, permits and registration", so that fieldset grows to 399 px in
# English, 412 px in Azerbaijani and 444 px in Russian.
# `fieldset{min-width:0}` in source_interface/static/style.css fixes it.
REPORT_OVERFLOW = (
    "product bug: the report form is 399-444 px wide at a 360 px viewport (fieldset "
    "min-width: min-content with long <select> options); fix: fieldset{min-width:0} in style.css"
)
REPORT_PAGES = ("report", "report-errors")


def _overflowing_pages(page: Any, live: LiveSource, lang: str) -> dict[str, Any]:
    problems: dict[str, Any] = {}

    def visit(name: str, page: Any) -> None:
        assert html_lang(page) == lang
        result = page.evaluate(OVERFLOW_JS)
        if result["scrollWidth"] > PHONE["width"]:
            problems[name] = result

    walk_every_page(page, live, lang, visit)
    return problems


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_no_page_scrolls_sideways_on_a_phone(
    live_source: LiveSource, inspect_context: Any, lang: str
) -> None:
    problems = _overflowing_pages(inspect_context.new_page(), live_source, lang)
    others = {name: found for name, found in problems.items() if name not in REPORT_PAGES}
    assert others == {}, json.dumps(others, indent=1, ensure_ascii=False)


def test_report_form_does_not_scroll_sideways_on_a_phone(
    live_source: LiveSource, inspect_context: Any
) -> None:
    page = inspect_context.new_page()
    problems = {}
    for lang in ("az", "ru", "en"):
        page.goto(live_source(f"/lang/{lang}?next=/report"))
        assert html_lang(page) == lang
        result = page.evaluate(OVERFLOW_JS)
        if result["scrollWidth"] > PHONE["width"]:
            problems[lang] = result
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)


# -- accessibility (axe-core) -----------------------------------------------------------------

AXE_RUN_JS = """async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5),
  }));
}"""


def test_axe_reports_a_planted_violation(inspect_context: Any) -> None:
    """The check below is only worth something if axe really runs and reports."""
    page = inspect_context.new_page()
    page.set_content('<html><body><main><input type="text"></main></body></html>')
    page.add_script_tag(path=str(AXE_JS))
    ids = {v["id"] for v in page.evaluate(AXE_RUN_JS) if v["impact"] in BLOCKING_IMPACTS}
    assert {"html-has-lang", "label"} <= ids, ids


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_every_page_passes_axe(live_source: LiveSource, inspect_context: Any, lang: str) -> None:
    assert AXE_JS.exists(), f"{AXE_JS} is missing: run npm ci in tests/browser"
    page = inspect_context.new_page()
    blocking: dict[str, list[dict[str, Any]]] = {}
    visited: list[str] = []

    def visit(name: str, page: Any) -> None:
        visited.append(name)
        page.add_script_tag(path=str(AXE_JS))
        violations = page.evaluate(AXE_RUN_JS)
        for v in violations:
            print(f"axe {lang} {name}: {v['impact']} {v['id']} {v['targets']}")
        bad = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        if bad:
            blocking[name] = bad

    walk_every_page(page, live_source, lang, visit)
    assert visited == EVERY_PAGE
    assert blocking == {}, "axe found serious or critical violations:\n" + json.dumps(
        blocking, indent=1, ensure_ascii=False
    )


# -- languages --------------------------------------------------------------------------------


def test_pages_are_in_the_language_they_declare(
    live_source: LiveSource, no_js_context: Any
) -> None:
    """A page marked lang="az" or "ru" must not be English (screen readers follow lang)."""
    page = no_js_context.new_page()
    english = {
        "/": "Tell us what happened. Safely.",
        "/report": "Report what happened",
        "/login": "Come back to your report",
    }
    untranslated = []
    for lang in ("az", "ru"):
        for path, msgid in english.items():
            page.goto(live_source(f"/lang/{lang}?next={path}"))
            assert html_lang(page) == lang
            if h1(page) == msgid:
                untranslated.append(f"{lang} {path}: {msgid!r}")
    assert untranslated == []
    page.goto(live_source("/lang/en?next=/"))
    assert (html_lang(page), h1(page)) == ("en", english["/"])


CODENAME_LOST_ON_LANGUAGE_SWITCH = (
    "product bug: the language links on /codename lead back to /codename, which has already "
    "popped the one-time codename from the session and so redirects to /case: a woman who "
    "switches language to read the instructions loses her codename for good"
)


def test_switching_language_on_the_codename_page_keeps_the_codename(
    live_source: LiveSource, no_js_context: Any
) -> None:
    page = no_js_context.new_page()
    page.goto(live_source("/report"))
    page.fill("#what_happened", REPORT_TEXT)
    submit(page, "main form")
    codename = page.locator("p.codename").inner_text().strip()
    switch_language(page, "ru")
    assert path_of(page) == "/codename"
    assert page.locator("p.codename").inner_text().strip() == codename
