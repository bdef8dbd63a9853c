"""Issue 11, items 9 and 10 in a real Chromium: the "When" box, the districts'
order, tap targets, Log out near the top, page titles, the codename field.

Measured with getBoundingClientRect (Playwright's bounding_box) at 360×740
(a phone) and 1280×800; the flows run with JavaScript off as Tor Browser at
"Safest" would, the measurements in a context where the test may run scripts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from securedrop_like import codenames, geo
from tests.browser.conftest import AXE_JS, LAPTOP, PHONE, LiveSource
from tests.browser.test_source_browser import AXE_RUN_JS, BLOCKING_IMPACTS, OVERFLOW_JS

pytestmark = pytest.mark.browser

LANGS = ("az", "ru", "en")
MIN_TAP = 44  # px, WCAG 2.5.5 (AAA) and Apple's and Google's guidance
REPORT_TEXT = "He asked for money, then for more."


def go(page: Any, live: LiveSource, lang: str, path: str) -> None:
    page.goto(live(f"/lang/{lang}?next={path}"))
    assert page.locator("html").get_attribute("lang") == lang
    assert urlsplit(page.url).path == path


def submit(page: Any, selector: str = "main form button[type=submit]") -> None:
    with page.expect_navigation():
        page.locator(selector).last.click()


def report(page: Any, live: LiveSource, lang: str = "en") -> str:
    """Send a report; her codename."""
    go(page, live, lang, "/report")
    page.fill("#what_happened", REPORT_TEXT)
    submit(page)
    return str(page.locator("p.codename").inner_text()).strip()


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not shown"
    return dict(found)


# -- item 9: the "When" box ------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_the_date_is_three_selects_beside_their_labels_at_1280(
    live_source: LiveSource, chromium: Any, artifacts: Path, lang: str
) -> None:
    context = chromium.new_context(viewport=LAPTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        go(page, live_source, lang, "/report")
        assert page.locator("input[type=date]").count() == 0
        tops = []
        for name in ("when_day", "when_month", "when_year"):
            label, select = box(page, f"label[for={name}]"), box(page, f"#{name}")
            # Beside: the label ends before the select starts, on the same line.
            assert label["x"] + label["width"] <= select["x"], (name, label, select)
            middle = label["y"] + label["height"] / 2
            assert select["y"] <= middle <= select["y"] + select["height"], (name, label, select)
            first = page.locator(f"#{name} option").first
            assert first.get_attribute("value") == ""
            assert first.inner_text() == live_source.gettext(lang, "— choose —")
            tops.append(select["y"])
        if lang != "ru":  # "— выберите —" three times is wider than the form: two lines
            assert max(tops) - min(tops) < 2, tops  # one line at 1280 px
        months = page.locator("#when_month option").all_inner_texts()[1:]
        expected = {"az": "Fevral", "ru": "Февраль", "en": "February"}[lang]
        assert len(months) == 12 and months[1] == expected
        page.locator("#when").screenshot(path=str(artifacts / f"source-when-{lang}-1280.png"))
        page.screenshot(path=str(artifacts / f"source-report-{lang}-1280.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_a_day_that_does_not_exist_comes_back_with_a_message_and_nothing_lost(
    live_source: LiveSource, no_js_context: Any, artifacts: Path, lang: str
) -> None:
    page = no_js_context.new_page()
    go(page, live_source, lang, "/report")
    page.fill("#what_happened", REPORT_TEXT)
    page.fill("#landmark", "28 May")
    page.select_option("#when_day", "31")
    page.select_option("#when_month", "2")
    page.select_option("#when_year", "2025")
    submit(page)
    message = live_source.gettext(lang, "That month has only %(num)d days. Please check the day.")
    # ngettext's plural for 28 (Russian: "дней") — the app's own text, whatever it is.
    from flask_babel import force_locale, ngettext

    with live_source.app.test_request_context("/"), force_locale(lang):
        message = str(
            ngettext(
                "That month has only %(num)d day. Please check the day.",
                "That month has only %(num)d days. Please check the day.",
                28,
            )
        )
    assert page.locator("#when-error").inner_text().strip() == message
    assert "28" in message
    assert page.locator("#when").get_attribute("aria-describedby") == "when-error"
    assert page.input_value("#what_happened") == REPORT_TEXT
    assert page.input_value("#landmark") == "28 May"
    chosen = [page.input_value(f"#when_{n}") for n in ("day", "month", "year")]
    assert chosen == ["31", "2", "2025"]
    page.screenshot(path=str(artifacts / f"source-when-error-{lang}-360.png"), full_page=True)
    page.select_option("#when_day", "28")
    submit(page)
    assert page.locator("p.codename").count() == 1
    (source_id,) = live_source.logged_in_source_ids()
    item = live_source.service.items(source_id)[0]
    import io

    sink = io.BytesIO()
    live_source.service.decrypt_item_to(item, live_source.instance.reviewer_key, sink)
    when = json.loads(sink.getvalue())["when"]
    assert when == {"precision": "day", "date": "2025-02-28", "part_of_day": None}


@pytest.mark.parametrize("lang", LANGS)
def test_districts_are_in_the_alphabetical_order_of_the_page(
    live_source: LiveSource, no_js_context: Any, lang: str
) -> None:
    page = no_js_context.new_page()
    go(page, live_source, lang, "/report")
    shown = page.locator("#district option").all_inner_texts()
    names = [d.name(lang) for d in geo.districts_in(lang)]
    assert shown[1:-1] == names
    assert names == sorted(names, key=lambda n: geo.sort_key(n, lang))
    # And the box that asks who and which service says so.
    legend = page.locator("fieldset:has(#perpetrator) legend").inner_text()
    assert legend == live_source.gettext(lang, "Who did it, and in which service?")


# -- item 10: tap targets, Log out, titles, the codename field ----------------------------------


def _small(page: Any, selector: str) -> list[str]:
    small = []
    for n, element in enumerate(page.locator(selector).all()):
        found = element.bounding_box()
        if found is None:
            continue
        if found["height"] < MIN_TAP or found["width"] < MIN_TAP:
            text = element.inner_text() or element.get_attribute("id") or ""
            small.append(
                f"{selector}[{n}] {text.strip()!r} {found['width']:.0f}×{found['height']:.0f}"
            )
    return small


@pytest.mark.parametrize("lang", LANGS)
def test_tap_targets_are_at_least_44_px_on_a_phone(
    live_source: LiveSource, inspect_context: Any, lang: str
) -> None:
    page = inspect_context.new_page()
    small: list[str] = []
    measured = 0

    def measure(where: str) -> None:
        nonlocal measured
        for selector in ("header nav.langs a", "main a:not(.button)", "input[type=file]"):
            measured += page.locator(selector).count()
            small.extend(f"{where}: {s}" for s in _small(page, selector))

    for path in ("/", "/report", "/login"):
        go(page, live_source, lang, path)
        measure(path)
    report(page, live_source, lang)
    measure("codename")
    for path in ("/codename/check", "/case", "/case/withdraw"):
        page.goto(live_source(path))
        measure(path)
    small.extend(f"/case: {s}" for s in _small(page, "header form.out button"))
    assert measured > 10
    assert small == [], "\n".join(small)


def test_the_tap_target_check_catches_a_small_link(inspect_context: Any) -> None:
    page = inspect_context.new_page()
    page.set_content('<main><p>Small <a href="#">link</a></p></main>')
    assert len(_small(page, "main a:not(.button)")) == 1


@pytest.mark.parametrize("lang", LANGS)
def test_log_out_is_in_the_first_screen_and_stays_in_reach(
    live_source: LiveSource, inspect_context: Any, artifacts: Path, lang: str
) -> None:
    page = inspect_context.new_page()
    codename = report(page, live_source, lang)
    page.goto(live_source("/case"))
    button = page.locator("header form.out button")
    assert button.inner_text().strip() == live_source.gettext(lang, "Log out")
    for scroll in (0, 100_000):  # at the top, and at the bottom of a long page
        page.evaluate(f"window.scrollTo(0, {scroll})")
        found = box(page, "header form.out button")
        assert 0 <= found["y"] and found["y"] + found["height"] <= PHONE["height"], found
        assert found["x"] + found["width"] <= PHONE["width"], found
    assert page.evaluate(OVERFLOW_JS)["scrollWidth"] <= PHONE["width"]
    # On the languages' line: the sticky header keeps two lines, not three.
    langs = box(page, "header nav.langs")
    assert abs(found["y"] - langs["y"]) < langs["height"], (found, langs)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / f"source-case-header-{lang}-360.png"))
    assert page.locator("footer form").count() == 0  # one Log out, at the top
    submit(page, "header form.out button")
    assert live_source.logged_in_source_ids() == []
    assert page.locator("header form.out").count() == 0  # not shown to someone logged out
    assert codename not in page.content()


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_has_its_own_neutral_title(
    live_source: LiveSource, no_js_context: Any, lang: str
) -> None:
    page = no_js_context.new_page()
    titles: dict[str, str] = {}
    for name, path in (("start", "/"), ("report", "/report"), ("login", "/login")):
        go(page, live_source, lang, path)
        titles[name] = page.title()
    report(page, live_source, lang)
    titles["codename"] = page.title()
    for name, path in (
        ("check", "/codename/check"),
        ("case", "/case"),
        ("withdraw", "/case/withdraw"),
        ("not-found", "/nope"),
    ):
        page.goto(live_source(path))
        titles[name] = page.title()
    submit(page, "header form.out button")
    titles["logged-out"] = page.title()
    assert len(set(titles.values())) == len(titles), titles
    name = live_source.instance.config.instance_name
    assert all(t.endswith(f" – {name}") for t in titles.values()), titles
    assert titles["login"] == live_source.gettext(lang, "Log in") + f" – {name}"
    # Neutral: nothing a glance at the tab could read as what the site is about.
    words = ("harass", "report", "codename", "case", "sextortion", "lawyer", "legal", "police")
    subjects = [live_source.gettext(lang, w) for w in ("Report what happened", "Your case")]
    for title in titles.values():
        assert not any(w in title.lower() for w in words), titles
        assert not any(s.lower() in title.lower() for s in subjects), titles


def _widest_codename(words_list: str) -> str:
    """A codename of the list's longest, widest words: at least eight of them, and
    as many as a codename from that list has (az 8, ru 9)."""
    count = max(8, codenames.WORDS_PER_CODENAME[words_list])
    wide = "mwжшщюмыф"
    words = codenames.load_wordlist(words_list)
    return " ".join(sorted(words, key=lambda w: (len(w), sum(w.count(c) for c in wide)))[-count:])


@pytest.mark.parametrize("lang", LANGS)
def test_the_longest_codenames_fit_the_codename_field_on_a_phone(
    live_source: LiveSource, inspect_context: Any, artifacts: Path, lang: str
) -> None:
    page = inspect_context.new_page()
    go(page, live_source, lang, "/login")
    field = page.locator("#codename")
    assert field.evaluate("e => e.tagName") == "TEXTAREA"
    for words_list in codenames.LANGUAGES:
        field.fill(_widest_codename(words_list))
        sizes = field.evaluate(
            "e => [e.scrollWidth, e.clientWidth, e.scrollHeight, e.clientHeight]"
        )
        # All shown, no scrolling inside the field.
        assert sizes[0] <= sizes[1] and sizes[2] <= sizes[3], (words_list, sizes)
        assert page.evaluate(OVERFLOW_JS)["scrollWidth"] <= PHONE["width"]
        if words_list == lang:
            page.screenshot(path=str(artifacts / f"source-login-long-codename-{lang}-360.png"))


@pytest.mark.parametrize("lang", LANGS)
def test_a_codename_typed_over_several_lines_logs_in(
    live_source: LiveSource, no_js_context: Any, lang: str
) -> None:
    page = no_js_context.new_page()
    codename = report(page, live_source, lang)
    submit(page, "header form.out button")
    go(page, live_source, lang, "/login")
    words = codename.split()
    page.locator("#codename").click()
    # Enter in the field adds a line (no script can make it send); the line breaks
    # are dropped like spaces.
    for n, word in enumerate(words):
        page.keyboard.type(word)
        page.keyboard.press("Enter" if n % 2 else "Space")
    assert "\n" in page.input_value("#codename")
    assert urlsplit(page.url).path == "/login"  # Enter did not send the form
    submit(page)
    assert urlsplit(page.url).path == "/case"


# -- screenshots and axe at both widths ----------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["360", "1280"])
def test_changed_pages_pass_axe_with_screenshots(
    live_source: LiveSource, chromium: Any, artifacts: Path, lang: str, viewport: dict[str, int]
) -> None:
    assert AXE_JS.exists(), f"{AXE_JS} is missing: run npm ci in tests/browser"
    context = chromium.new_context(viewport=viewport, java_script_enabled=True, bypass_csp=True)
    blocking: dict[str, Any] = {}
    try:
        page = context.new_page()

        def check(name: str) -> None:
            page.screenshot(
                path=str(artifacts / f"source-{name}-{lang}-{viewport['width']}.png"),
                full_page=True,
            )
            page.add_script_tag(path=str(AXE_JS))
            bad = [v for v in page.evaluate(AXE_RUN_JS) if v["impact"] in BLOCKING_IMPACTS]
            if bad:
                blocking[name] = bad
            assert page.evaluate(OVERFLOW_JS)["scrollWidth"] <= viewport["width"], name

        go(page, live_source, lang, "/login")
        check("login")
        go(page, live_source, lang, "/report")
        page.fill("#what_happened", REPORT_TEXT)
        page.select_option("#when_day", "31")
        page.select_option("#when_month", "4")
        page.select_option("#when_year", "2025")
        submit(page)
        assert page.locator("#when-error").count() == 1
        check("report-when-error")
        page.select_option("#when_day", "")
        submit(page)
        page.goto(live_source("/case"))
        check("case-logged-in")
    finally:
        context.close()
    assert blocking == {}, json.dumps(blocking, indent=1, ensure_ascii=False)
