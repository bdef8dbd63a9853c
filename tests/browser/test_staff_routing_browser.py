"""Routing and case status in a real Chromium with JavaScript off (issue 11, 13 and 14).

A lawyer filters the inbox, ticks every source on the page with "Select all on
this page" (a plain link: no script), sets their case status and assigns them to
a colleague in bulk, sets one status from the source page; a disabled
colleague's sources show as unassigned. Then axe-core checks the filtered inbox
and the source page in az, ru and en, with screenshots at 1280 and 360 px.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from securedrop_like import case_status
from tests.browser.conftest import AXE_JS, LAPTOP, laptop_context
from tests.browser.test_source_browser import AXE_RUN_JS, BLOCKING_IMPACTS, html_lang, path_of
from tests.browser.test_staff_browser import NARROW, Env, button, env, no_js, status

__all__ = ["env", "no_js"]  # fixtures, imported for pytest

pytestmark = pytest.mark.browser


# Elements sticking out to the right of the screen, outside a scroll box of their own.
WIDER_THAN_SCREEN_JS = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')]
    .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > width + 0.5)
    .map(e => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''));
}"""


def _query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _ticked(page: Any) -> dict[str, bool]:
    boxes = page.locator("main input[name=source]")
    return {
        boxes.nth(i).get_attribute("value"): boxes.nth(i).is_checked() for i in range(boxes.count())
    }


def _status_of(env: Env, source_id: str) -> tuple[str, str | None]:
    row = (
        env.conn()
        .execute("SELECT case_status, assigned_to FROM sources WHERE id = ?", (source_id,))
        .fetchone()
    )
    return str(row[0]), row[1]


def test_filter_select_all_bulk_status_and_assign_without_javascript(env: Env, no_js: Any) -> None:
    live, lang = env.live, env.lawyer.language
    colleague = env.add_account("leyla", "ru")
    made = {env.new_source()[0] for _ in range(3)}
    # Everything else in the inbox is moved out of "new" so the filter shows ours only.
    others = env.source_ids() - made
    live.service.writer.command("set_case_status", (sorted(others), "closed"))

    page = no_js(env.lawyer_state).new_page()
    page.goto(live("/"))
    # Filter: status "new case", with unread items.
    page.select_option("#f-status", "new")
    page.check("main form.filters input[name=unread]")
    with page.expect_navigation():
        button(page, live, lang, "Show").click()
    assert _query(page) == {"status": ["new"], "unread": ["1"]}
    assert set(_ticked(page)) == made and not any(_ticked(page).values())

    # Select all on this page: a link, served with every box ticked.
    link = page.get_by_role(
        "link",
        name=live.ngettext(
            lang, "Select all %(num)s on this page", "Select all %(num)s on this page", 3
        ),
    )
    with page.expect_navigation():
        link.click()
    assert _ticked(page) == dict.fromkeys(made, True)
    assert page.locator("main a", has_text=live.gettext(lang, "Clear the selection")).count()

    # Bulk: set the status; she lands back on the same filter, which now shows nobody.
    page.select_option("#bulk-status", "in_progress")
    with page.expect_navigation():
        button(page, live, lang, "Set the status").click()
    assert status(page) == live.gettext(lang, "Done for the selected sources.")
    assert _query(page)["status"] == ["new"] and _query(page)["unread"] == ["1"]
    assert _ticked(page) == {}
    assert live.gettext(lang, "No source matches these filters.") in page.content()
    assert {_status_of(env, s)[0] for s in made} == {"in_progress"}

    # Filter on the new status; the column shows it, translated.
    page.select_option("#f-status", "in_progress")
    page.uncheck("main form.filters input[name=unread]")
    with page.expect_navigation():
        button(page, live, lang, "Show").click()
    assert set(_ticked(page)) == made
    cells = page.locator("main td.status-in_progress")
    assert cells.count() == 3
    assert cells.first.inner_text().strip() == live.gettext(lang, "In progress")

    # Bulk: a status with none chosen says so and changes nothing.
    with page.expect_navigation():
        page.get_by_role(
            "link",
            name=live.ngettext(
                lang, "Select all %(num)s on this page", "Select all %(num)s on this page", 3
            ),
        ).click()
    with page.expect_navigation():
        button(page, live, lang, "Set the status").click()
    assert page.locator("main [role=alert]").inner_text().strip() == live.gettext(
        lang, "Choose a case status first, then press “Set the status”."
    )
    assert {_status_of(env, s)[0] for s in made} == {"in_progress"}

    # Bulk: assign all three to the colleague.
    with page.expect_navigation():
        page.get_by_role(
            "link",
            name=live.ngettext(
                lang, "Select all %(num)s on this page", "Select all %(num)s on this page", 3
            ),
        ).click()
    page.select_option("#bulk-to", colleague.username)
    with page.expect_navigation():
        button(page, live, lang, "Assign").click()
    assert {_status_of(env, s)[1] for s in made} == {colleague.username}
    page.goto(live(f"/?assigned={colleague.username}"))
    assert set(_ticked(page)) == made

    # She is disabled: her sources show as unassigned, and nobody is offered her name.
    live.accounts.disable(colleague.username)
    page.select_option("#f-assigned", "none")
    page.select_option("#f-status", "in_progress")
    with page.expect_navigation():
        button(page, live, lang, "Show").click()
    assert set(_ticked(page)) == made
    assert colleague.username not in page.locator("main table").inner_text()
    assert page.locator(f"#bulk-to option[value='{colleague.username}']").count() == 0

    # One source's page: set the status there.
    one = sorted(made)[0]
    page.goto(live(f"/sources/{one}"))
    page.select_option("#case-status", "aid_offered")
    with page.expect_navigation():
        button(page, live, lang, "Set the status").click()
    assert status(page) == live.gettext(
        lang,
        "The case status is now “%(status)s”.",
        status=live.gettext(lang, "Legal aid offered"),
    )
    assert _status_of(env, one)[0] == "aid_offered"
    # ...and assign it to herself from there.
    page.select_option("#assign-to", env.lawyer.username)
    with page.expect_navigation():
        button(page, live, lang, "Assign").click()
    assert _status_of(env, one)[1] == env.lawyer.username
    assert path_of(page) == f"/sources/{one}"

    # The audit log holds who, the designation and old -> new; never content.
    rows = [
        e
        for e in live.accounts.audit_entries()
        if e.action == "case_status" and e.staff == env.lawyer.username
    ]
    assert len(rows) == 4
    assert all(
        e.target
        and e.target.split()[1:] in (["new", "in_progress"], ["in_progress", "aid_offered"])
        for e in rows
    )


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_filtered_inbox_and_source_controls_pass_axe(
    env: Env, chromium: Any, artifacts: Path, lang: str
) -> None:
    assert AXE_JS.exists(), f"{AXE_JS} is missing: run npm ci in tests/browser"
    live = env.live
    if not {r[0] for r in env.conn().execute("SELECT case_status FROM sources")} - {"new"}:
        live.service.writer.command("set_case_status", ([env.walk_source], "referred"))
    context = laptop_context(chromium, java_script_enabled=True, bypass_csp=True)
    blocking: dict[str, list[dict[str, Any]]] = {}
    try:
        page = context.new_page()
        page.context.add_cookies(env.lawyer_state["cookies"])
        page.goto(live(f"/lang/{lang}?next=/"))
        shots = {
            "inbox-filters": "/?unread=1&assigned=none&all=1",
            "inbox-status": f"/?status={case_status.CASE_STATUSES[1].code}&starred=",
            "inbox-nothing": "/?status=closed&starred=1&unread=1",
            "source-status": f"/sources/{env.walk_source}?done=status_set",
        }
        for name, path in shots.items():
            page.goto(live(path))
            assert html_lang(page) == lang, name
            page.add_script_tag(path=str(AXE_JS))
            violations = page.evaluate(AXE_RUN_JS)
            for v in violations:
                print(f"axe {lang} {name}: {v['impact']} {v['id']} {v['targets']}")
            bad = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
            if bad:
                blocking[name] = bad
            page.screenshot(
                path=str(artifacts / f"staff-routing-{lang}-{name}.png"), full_page=True
            )
            page.set_viewport_size(NARROW)
            page.screenshot(
                path=str(artifacts / f"staff-routing-{lang}-{name}-360.png"), full_page=True
            )
            # nothing is wider than a phone's screen but the table's own scroll box
            wide = page.evaluate(WIDER_THAN_SCREEN_JS)
            assert wide == [], f"{name} scrolls sideways at 360 px: {wide}"
            page.set_viewport_size(LAPTOP)
    finally:
        context.close()
    assert blocking == {}, "axe found serious or critical violations:\n" + json.dumps(
        blocking, indent=1, ensure_ascii=False
    )
