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

from securedrop_like import geo
from tests.browser.conftest import LAPTOP, LiveSource

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
