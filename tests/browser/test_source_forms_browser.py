"""Issue 11's form fixes in a real Chromium: where errors appear, kept files she can
remove, and deleting an answer that asks first — with JavaScript off (Tor Browser at
"Safest") and on, at 360 px, with axe-core and screenshots at 360 and 1280 px in
az, ru and en (``test-artifacts/source-forms-*.png``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import AXE_JS, LAPTOP, PHONE, LiveSource
from tests.browser.test_source_browser import (
    AXE_RUN_JS,
    BLOCKING_IMPACTS,
    REPLY_TEXT,
    REPORT_TEXT,
    click_link,
    h1,
    html_lang,
    path_of,
    submit,
)

pytestmark = pytest.mark.browser

PHOTO = b"\xff\xd8\xff\xe0 a photo with the place it was taken " * 200
CASE_FORM = "main form[action='/case/message']"


def _in_view(page: Any, selector: str) -> bool:
    """Whether the element's top is inside the visible part of the page, as it loads."""
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    height = page.viewport_size["height"]
    return bool(0 <= box["y"] < height - 40)


def _focused_id(page: Any) -> str:
    """The focused element's id (Playwright's own world works with the page's JS off)."""
    return str(page.locator("*:focus").first.get_attribute("id"))


def _go(page: Any, live: LiveSource, path: str, lang: str) -> None:
    page.goto(live(f"/lang/{lang}?next={path}"))
    assert html_lang(page) == lang and path_of(page) == path


def _report(page: Any, live: LiveSource, lang: str) -> str:
    """A report sent through the form; her source id."""
    _go(page, live, "/report", lang)
    page.fill("#what_happened", REPORT_TEXT)
    page.select_option("select[name=when_month]", "")  # no date: when is unknown
    submit(page, "main form")
    (source_id,) = live.logged_in_source_ids()
    return source_id


@pytest.fixture(params=["js-off", "js-on"])
def phone(request: pytest.FixtureRequest, chromium: Any) -> Iterator[Any]:
    from tests.browser.conftest import _context

    yield from _context(chromium, java_script_enabled=request.param == "js-on")


# -- errors where she is ------------------------------------------------------------------------


def test_case_page_error_is_in_view_and_its_link_focuses_the_field(
    live_source: LiveSource, phone: Any
) -> None:
    live = live_source
    page = phone.new_page()
    source_id = _report(page, live, "en")
    # With answers above the form, the form is far down the page on a phone.
    for n in range(3):
        live.service.place_reply(source_id, f"{REPLY_TEXT} ({n})", "en", "lawyer")
    page.goto(live("/case"))
    assert not _in_view(page, "#message")
    page.fill("#message", "x" * (live.instance.config.max_text_chars + 1))
    submit(page, CASE_FORM)
    assert path_of(page) == "/case/message"  # the answer to her POST
    # The error is on screen after the page loads, at the top.
    assert _in_view(page, "#error-summary[role=alert]")
    assert not _in_view(page, "#message")  # (the field itself is still far below)
    link = page.locator("#error-summary a[href='#message']")
    assert "too long" in link.inner_text()
    link.click()
    assert _focused_id(page) == "message"
    assert _in_view(page, "#message")
    # What she typed is still there.
    assert len(page.input_value("#message")) == live.instance.config.max_text_chars + 1


def test_report_error_summary_links_focus_their_questions(
    live_source: LiveSource, phone: Any
) -> None:
    live = live_source
    page = phone.new_page()
    _go(page, live, "/report", "en")
    page.fill("#what_happened", "   ")  # passes the browser's `required`, not the server
    page.select_option("select[name=when_month]", "3")
    submit(page, "main form")
    assert _in_view(page, "#error-summary[role=alert]")
    links = page.locator("#error-summary a")
    assert links.count() == 2
    for target in ("what_happened", "when_day"):
        page.locator(f"#error-summary a[href='#{target}']").click()
        assert _focused_id(page) == target
        assert _in_view(page, f"#{target}")


# -- kept files and deleting an answer, with screenshots and axe ---------------------------------


def _axe(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE_JS))
    violations = page.evaluate(AXE_RUN_JS)
    return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]


def test_delete_asks_first_and_then_says_no_answer_yet_no_more(
    live_source: LiveSource, phone: Any
) -> None:
    live = live_source
    page = phone.new_page()
    source_id = _report(page, live, "az")
    live.service.place_reply(source_id, REPLY_TEXT, "en", "lawyer")
    page.goto(live("/case"))
    # One tap on "delete" only asks.
    click_link(page, "article.reply a.delete")
    assert h1(page) == live.gettext("az", "Delete this answer?")
    assert len([i for i in live.service.items(source_id) if i.kind == "reply"]) == 1
    # "No" keeps it and brings her back to it.
    click_link(page, "main a.secondary")
    assert path_of(page) == "/case"
    assert page.locator("article.reply").count() == 1
    click_link(page, "article.reply a.delete")
    submit(page, "main form")
    assert path_of(page) == "/case"
    assert page.locator("article.reply").count() == 0
    assert page.locator("p.ok[role=status]").inner_text().strip() == live.gettext(
        "az", "The reply was deleted."
    )
    never = live.gettext(
        "az",
        "No answer yet. The lawyers usually answer within a few days. "
        "Come back later with your codename.",
    )
    deleted = live.gettext(
        "az", "There are no answers here now: you deleted them. A new answer will appear here."
    )
    content = page.locator("main").inner_text()
    assert never not in content and deleted in content
    page.reload()
    assert deleted in page.locator("main").inner_text()
    assert [i for i in live.service.items(source_id) if i.kind == "reply"] == []


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_error_states_look_right_and_pass_axe(
    live_source: LiveSource, inspect_context: Any, artifacts: Path, lang: str
) -> None:
    live = live_source
    page = inspect_context.new_page()
    blocking: dict[str, Any] = {}
    shots: list[str] = []

    def visit(name: str) -> None:
        bad = _axe(page)
        if bad:
            blocking[name] = bad
        # The same answer (often a POST's) at both widths: the page reflows in place.
        for size in (PHONE, LAPTOP):
            page.set_viewport_size(size)
            path = artifacts / f"source-forms-{name}-{lang}-{size['width']}.png"
            page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size(PHONE)
        shots.append(name)

    # A report that fails, with a photo kept: the summary and the remove boxes.
    _go(page, live, "/report", lang)
    page.set_input_files(
        "#files", files=[{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": PHOTO}]
    )
    page.select_option("select[name=when_month]", "3")
    page.fill("#what_happened", "   ")
    submit(page, "main form")
    assert page.locator("input[name=remove_files]").count() == 1
    visit("report-errors")
    # She removes the photo; the form fails again, and says the photo is gone.
    page.check("input[name=remove_files]")
    page.fill("#what_happened", "   ")
    submit(page, "main form")
    assert page.locator("input[name=remove_files]").count() == 0
    assert live.service.unclaimed_uploads() == set()
    visit("report-removed")
    page.fill("#what_happened", REPORT_TEXT)
    page.select_option("select[name=when_month]", "")  # no date: when is unknown
    submit(page, "main form")
    (source_id,) = live.logged_in_source_ids()
    live.service.place_reply(source_id, REPLY_TEXT, "en", "lawyer")
    page.goto(live("/case"))
    page.fill("#message", "x" * (live.instance.config.max_text_chars + 1))
    submit(page, CASE_FORM)
    assert page.locator("#error-summary").count() == 1
    visit("case-errors")
    page.goto(live("/case"))
    click_link(page, "article.reply a.delete")
    visit("delete")
    submit(page, "main form")
    visit("case-deleted")
    assert shots == ["report-errors", "report-removed", "case-errors", "delete", "case-deleted"]
    assert blocking == {}, json.dumps(blocking, indent=1, ensure_ascii=False)
