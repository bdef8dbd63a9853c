"""Issue 11, items 2, 4 and 8 in a real Chromium: words or digits chosen on the report
form before any codename is made; a wrong check keeps the codename ("Show it again"),
a right one drops it from the server; and the reassurance on the start and codename
pages (when an answer comes, the promise about the authorities, how answers reach
her), with the instance's own values. JavaScript off, as in Tor Browser at "Safest",
and on; screenshots at 360 and 1280 px in az, ru and en; axe-core on every state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from securedrop_like.sessions import COOKIE_NAME, SEALED_KEY, _open_text, _unb64
from tests.browser.conftest import AXE_JS, PHONE, LiveSource, laptop_context

pytestmark = pytest.mark.browser

REPORT_TEXT = "He said the document would be signed only if I came to his office after six."
WRONG = {"digits": "1111 2222 3333 4444 5555", "words": "zzzq zzzq zzzq zzzq zzzq zzzq zzzq"}
# What a receipt page must never say (item 2): nothing of words or of a story.
WORDS_OR_STORY = {"en": ("word", "story"), "az": ("söz", "hekayə"), "ru": ("слов", "истори")}
DEFAULT_CONSENT = (
    "The %(centre)s never goes to the police or to any other authority without your consent."
)


def default_consent(live: Any, lang: str) -> str:
    """The translated default statement, naming the instance's centre in ``lang``."""
    return str(live.gettext(lang, DEFAULT_CONSENT, centre=live.instance.config.centre_name(lang)))
CONTACT_LINE = {
    "words": "You do not have to give a phone number or an address. The answer waits for you "
    "here: come back with your codename to read it.",
    "digits": "You do not have to give a phone number or an address. The answer waits for you "
    "here: come back with your receipt number to read it.",
}
AXE_RUN_JS = """async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.map(v => ({id: v.id, impact: v.impact,
    targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
}"""


# -- helpers --------------------------------------------------------------------------------


def path_of(page: Any) -> str:
    return urlsplit(page.url).path


def click(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).first.click()


def main_text(page: Any) -> str:
    return str(page.locator("main").inner_text())


def ngettext(live: LiveSource, lang: str, singular: str, plural: str, num: int) -> str:
    from flask_babel import force_locale
    from flask_babel import ngettext as babel_ngettext

    with live.app.test_request_context("/"), force_locale(lang):
        return str(babel_ngettext(singular, plural, num))


def days_line(live: LiveSource, lang: str, days: int) -> str:
    return ngettext(
        live,
        lang,
        "A lawyer tries to answer you within %(num)d day.",
        "A lawyer tries to answer you within %(num)d days.",
        days,
    )


def open_start(page: Any, live: LiveSource, lang: str, path: str = "/") -> None:
    page.goto(live(f"/lang/{lang}?next={path}"))
    assert page.locator("html").get_attribute("lang") == lang


def send_report(page: Any, live: LiveSource, lang: str, kind: str | None) -> str:
    """From the start page to the codename page, choosing ``kind`` on the form."""
    open_start(page, live, lang)
    click(page, "main a.button[href='/report']")
    choice = page.locator("fieldset.codename-choice")
    assert choice.count() == 1
    assert page.locator("fieldset.codename-choice input:checked").count() == 0  # equal
    send = page.locator("main form button[type=submit]").last
    # Before the codename is made, and in her way: above the button that makes it.
    assert choice.bounding_box()["y"] < send.bounding_box()["y"]
    page.fill("#what_happened", REPORT_TEXT)
    if kind:
        page.check(f"#k-{kind}")
    with page.expect_navigation():
        send.click()
    assert path_of(page) == "/report"  # the codename page answers the POST itself
    return str(page.locator("p.codename").inner_text()).strip()


def cookie_key(context: Any) -> bytes:
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
    signed = cookie["value"].rpartition(".")[0]
    return _unb64(signed.rpartition(".")[2])


def what_the_store_opens_to(live: LiveSource, key: bytes) -> list[bytes]:
    """Every sealed secret in the server's session store that opens with her cookie's key:
    what someone holding a memory image of the server and her cookie would read."""
    interface = live.app.session_interface
    found = []
    for data in live.app.extensions["sesim"].sessions.live_data():
        opened = interface._opened(data, key)  # type: ignore[attr-defined]
        for name, text in (opened.get(SEALED_KEY) or {}).items():
            value = _open_text(key, name, text)
            if value is not None:
                found.append(value)
    return found


def database_dump(live: LiveSource) -> str:
    """Every row of every table, opened with the database key (as a seizure with it would)."""
    conn = live.service.db.reader()
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    # Table names from sqlite_master itself, not from input.
    rows = [repr(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"')]  # noqa: S608
    assert rows, "the dump should hold her report's rows"
    return "\n".join(rows)


@pytest.fixture(params=["no_js", "js"])
def phone(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A phone with JavaScript off (Tor Browser at "Safest") and one with it on."""
    name = "no_js_context" if request.param == "no_js" else "inspect_context"
    yield request.getfixturevalue(name)


# -- items 2 and 4: the choice first; a wrong check keeps it; a right one drops it ----------


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_digits_chosen_first_kept_after_a_wrong_check_dropped_after_a_right_one(
    live_source: LiveSource, phone: Any, lang: str
) -> None:
    live = live_source
    page = phone.new_page()
    receipt = send_report(page, live, lang, "digits")
    digits = receipt.replace(" ", "")
    assert len(digits) == 20 and digits.isdigit(), receipt
    text = main_text(page).lower()
    for word in WORDS_OR_STORY[lang]:
        assert word not in text, f"the receipt page speaks of {word!r}"
    assert live.gettext(lang, "This is your receipt number. Write it down now:") in main_text(page)

    # Opening the check keeps it; a wrong copy keeps it, says so, and offers it again.
    click(page, "main a[href='/codename/check']")
    assert page.locator("main h1").inner_text() == live.gettext(lang, "Check your receipt number")
    page.fill("#codename", WRONG["digits"])
    click(page, "main form button")
    assert page.locator("p.err[role=alert]").count() == 1
    key = cookie_key(phone)
    assert receipt.encode() in what_the_store_opens_to(live, key)  # the control: still kept
    click(page, "#show-again")
    assert path_of(page) == "/codename"
    assert page.locator("p.codename").inner_text().strip() == receipt  # the same one

    # Her case page does not end it either; then she types it right.
    click(page, "main a[href='/case']")
    page.goto(live("/codename/check"))
    page.fill("#codename", receipt.replace(" ", "-"))
    click(page, "main form button")
    assert page.locator("p.ok[role=status]").count() == 1
    assert page.locator("#show-again, main a[href='/codename']").count() == 0

    # Where an attacker would look: the session store, even opened with her cookie's key,
    # and the database, hold it no more.
    assert cookie_key(phone) == key  # the same session: her cookie still opens it
    opened = what_the_store_opens_to(live, key)
    assert opened, "her session (its private key) should still open"
    assert not any(digits.encode() in v.replace(b" ", b"") for v in opened)
    store = repr(live.app.extensions["sesim"].sessions.live_data())
    assert "fresh_codename" not in store and digits not in store.replace(" ", "")
    assert digits not in database_dump(live).replace(" ", "")
    page.goto(live("/codename"))
    assert path_of(page) == "/case"  # never shown again
    assert receipt not in page.content()


def test_words_chosen_first_are_seven_words_with_the_story_advice(
    live_source: LiveSource, no_js_context: Any
) -> None:
    live = live_source
    page = no_js_context.new_page()
    codename = send_report(page, live, "en", "words")
    assert len(codename.split()) == 7, codename
    assert "make up a short story with the words" in main_text(page)
    click(page, "main a[href='/codename/check']")
    page.fill("#codename", WRONG["words"])
    click(page, "main form button")
    click(page, "#show-again")
    assert page.locator("p.codename").inner_text().strip() == codename
    assert page.locator("main h1").inner_text() == "Your codename"


def test_nothing_chosen_gives_words(live_source: LiveSource, no_js_context: Any) -> None:
    codename = send_report(no_js_context.new_page(), live_source, "en", None)
    assert len(codename.split()) == 7, codename


# -- item 8: reassurance where she decides, with the instance's own values --------------------


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_reassurance_on_the_start_and_codename_pages(
    live_source: LiveSource, no_js_context: Any, lang: str
) -> None:
    live = live_source
    page = no_js_context.new_page()
    open_start(page, live, lang)
    section = str(page.locator("main section.reassure").inner_text())
    assert days_line(live, lang, 3) in section
    assert default_consent(live, lang) in section
    assert live.gettext(lang, CONTACT_LINE["words"]) in section
    send_report(page, live, lang, "digits")
    section = str(page.locator("main section.reassure").inner_text())
    assert days_line(live, lang, 3) in section
    assert default_consent(live, lang) in section
    assert live.gettext(lang, CONTACT_LINE["digits"]) in section
    if lang != "en":  # really translated
        assert default_consent(live, "en") not in section and "lawyer" not in section.lower()

    # The instance's own values: its days, its statement in this language.
    own = {
        "az": "Mərkəz sizin yazılı razılığınız olmadan heç bir orqana müraciət etmir.",
        "ru": "Центр ни при каких условиях не обращается в органы без вашего согласия.",
        "en": "We never contact the police, a ministry or a court unless you ask us to.",
    }
    config = live.app.config["SESIM"]
    live.app.config["SESIM"] = config.with_changes(
        answer_within_days=21, **{f"consent_statement_{lang}": own[lang]}
    )
    try:
        open_start(page, live, lang)
        section = str(page.locator("main section.reassure").inner_text())
        assert days_line(live, lang, 21) in section and days_line(live, lang, 3) not in section
        assert own[lang] in section and default_consent(live, lang) not in section
        page.goto(live("/codename"))
        section = str(page.locator("main section.reassure").inner_text())
        assert days_line(live, lang, 21) in section and own[lang] in section
        other = next(code for code in ("az", "ru", "en") if code != lang)
        open_start(page, live, other)  # another language: its translated default
        section = str(page.locator("main section.reassure").inner_text())
        assert default_consent(live, other) in section and own[lang] not in section
    finally:
        live.app.config["SESIM"] = config


# -- screenshots at 360 and 1280 px, and axe-core on every new state --------------------------


def _visit_states(page: Any, live: LiveSource, lang: str, seen: Any) -> None:
    open_start(page, live, lang)
    seen("start")
    click(page, "main a.button[href='/report']")
    page.locator("fieldset.codename-choice").scroll_into_view_if_needed()
    seen("report-choice")
    receipt = send_report(page, live, lang, "digits")
    seen("codename-digits")
    click(page, "main a[href='/codename/check']")
    page.fill("#codename", WRONG["digits"])
    click(page, "main form button")
    seen("codename-check-show-again")
    click(page, "#show-again")
    seen("codename-again")
    click(page, "main a[href='/codename/check']")
    page.fill("#codename", receipt)
    click(page, "main form button")
    seen("codename-check-forgotten")


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_screenshots_and_axe(
    live_source: LiveSource, chromium: Any, inspect_context: Any, artifacts: Path, lang: str
) -> None:
    assert AXE_JS.exists(), f"{AXE_JS} is missing: run npm ci in tests/browser"
    blocking: dict[str, Any] = {}
    visited: list[str] = []
    laptop = laptop_context(chromium, java_script_enabled=True, bypass_csp=True)
    try:
        for width, context in ((PHONE["width"], inspect_context), (1280, laptop)):
            page = context.new_page()

            def seen(name: str, page: Any = page, width: int = width) -> None:
                visited.append(f"{name}-{width}")
                page.screenshot(
                    path=str(artifacts / f"source-flow-{name}-{lang}-{width}.png"), full_page=True
                )
                assert page.evaluate("document.documentElement.scrollWidth") <= width, name
                page.add_script_tag(path=str(AXE_JS))
                bad = [
                    v for v in page.evaluate(AXE_RUN_JS) if v["impact"] in ("serious", "critical")
                ]
                if bad:
                    blocking[f"{name}-{width}"] = bad

            _visit_states(page, live_source, lang, seen)
            page.close()
    finally:
        laptop.close()
    assert len(visited) == 12, visited
    assert blocking == {}, json.dumps(blocking, indent=1, ensure_ascii=False)
