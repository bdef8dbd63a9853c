"""Routing and case status in the staff interface (issue 11, items 13 and 14).

Assign a source to any enabled colleague; a disabled lawyer's sources read as
unassigned; inbox filters (unread, unassigned, starred, a person, a case
status) alone and together; "select all on the page" without JavaScript; case
status from the source page and in bulk; every change audited with the actor,
the designation and old → new, never content.
"""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from securedrop_like import models
from securedrop_like.db import Database
from tests.conftest import Instance
from tests.functional.test_staff_actions import _post, staff
from tests.functional.test_staff_interface import _code, _login

__all__ = ["staff"]  # the fixture, imported for pytest

ROW_RE = re.compile(r'<input type="checkbox" name="source" value="([0-9a-f]{32})"( checked)?')


def _sources(instance: Instance, n: int, **updates: Any) -> list[str]:
    """``n`` sources with one report each, made straight in the database."""
    conn = Database.for_config(instance.config).open()
    made = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(n):
            lookup = models.new_id() + models.new_id()
            source_id = models.insert_source(
                conn, lookup_id=lookup, public_key=bytes(32), day="2026-11-01"
            )
            models.insert_items(
                conn, source_id, "2026-11-01", [models.NewItem("report", 10, inline=b"x")]
            )
            for column, value in updates.items():
                conn.execute(
                    f"UPDATE sources SET {column} = ? WHERE id = ?",  # noqa: S608 - test
                    (value, source_id),
                )
            made.append(source_id)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return made


def _row(instance: Instance, source_id: str) -> tuple[Any, ...]:
    conn = Database.for_config(instance.config).open()
    try:
        row = conn.execute(
            "SELECT designation, starred, assigned_to, case_status FROM sources WHERE id = ?",
            (source_id,),
        ).fetchone()
        return tuple(row)
    finally:
        conn.close()


def _shown(client: FlaskClient, **args: str) -> set[str]:
    page = client.get("/", query_string=args)
    assert page.status_code == 200
    return {m.group(1) for m in ROW_RE.finditer(page.get_data(as_text=True))}


def _audit(accounts: Any, action: str) -> list[tuple[str | None, str | None]]:
    return [(e.staff, e.target) for e in accounts.audit_entries() if e.action == action]


def test_assign_to_a_colleague_from_the_source_page(instance: Instance, staff: Any) -> None:
    _app, client, accounts = staff
    accounts.add("aysel", language="az")
    accounts.add("leyla", language="ru")
    accounts.disable("leyla")
    (source_id,) = _sources(instance, 1)
    designation = _row(instance, source_id)[0]
    page = client.get(f"/sources/{source_id}").get_data(as_text=True)
    assert '<option value="aysel">aysel</option>' in page
    assert 'value="leyla"' not in page  # a disabled account is not offered

    response = _post(client, f"/sources/{source_id}/assign", to="aysel")
    assert response.status_code == 303
    assert _row(instance, source_id)[2] == "aysel"
    assert _audit(accounts, "assign") == [("rena", f"{designation} aysel")]
    page = client.get(f"/sources/{source_id}").get_data(as_text=True)
    assert '<option value="aysel" selected>aysel</option>' in page

    for bad in ("leyla", "nobody-here", "<b>x</b>", ""):
        response = _post(client, f"/sources/{source_id}/assign", to=bad)
        assert response.status_code == 303 and "assign_invalid" in response.headers["Location"]
        assert _row(instance, source_id)[2] == "aysel"  # unchanged
    error = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "disabled or does not exist" in error

    _post(client, f"/sources/{source_id}/assign", to="nobody")
    assert _row(instance, source_id)[2] is None
    assert _audit(accounts, "unassign") == [("rena", designation)]
    _post(client, f"/sources/{source_id}/assign", to="me")
    assert _row(instance, source_id)[2] == "rena"


def test_a_disabled_lawyers_sources_show_as_unassigned(instance: Instance, staff: Any) -> None:
    _app, client, accounts = staff
    accounts.add("leyla", language="ru")
    hers = _sources(instance, 2)
    other = _sources(instance, 1, assigned_to="rena")[0]
    _post(client, "/sources/bulk", action="assign_to", to="leyla", source=hers)
    assert _shown(client, assigned="leyla") == set(hers)
    assert _shown(client, assigned="none") == set()

    accounts.disable("leyla")
    assert _shown(client, assigned="none") == set(hers)
    assert _shown(client, assigned="leyla") == set()
    assert _shown(client, assigned="me") == {other}
    page = client.get(f"/sources/{hers[0]}").get_data(as_text=True)
    assert "leyla" not in page  # neither as assignee nor as a choice
    assert '<option value="nobody" selected>' in page
    inbox = client.get("/").get_data(as_text=True)
    assert ">leyla<" not in inbox

    accounts.enable("leyla")  # back before anyone took them: hers again
    assert _shown(client, assigned="leyla") == set(hers)


def test_each_inbox_filter_and_combinations(instance: Instance, staff: Any) -> None:
    _app, client, accounts = staff
    accounts.add("aysel", language="az")
    a = _sources(instance, 1, starred=1, assigned_to="aysel", case_status="in_progress")[0]
    b = _sources(instance, 1, starred=1, case_status="closed")[0]
    c = _sources(instance, 1, assigned_to="rena", case_status="in_progress")[0]
    d = _sources(instance, 1, case_status="referred")[0]
    conn = Database.for_config(instance.config).open()
    conn.execute("UPDATE items SET staff_read = 1 WHERE source_id IN (?, ?)", (b, d))
    conn.close()

    assert _shown(client) == {a, b, c, d}
    assert _shown(client, unread="1") == {a, c}
    assert _shown(client, starred="1") == {a, b}
    assert _shown(client, assigned="none") == {b, d}
    assert _shown(client, assigned="aysel") == {a}
    assert _shown(client, assigned="me") == {c}
    assert _shown(client, mine="1") == {c}  # older links keep working
    assert _shown(client, status="in_progress") == {a, c}
    assert _shown(client, status="referred") == {d}
    assert _shown(client, unread="1", starred="1") == {a}
    assert _shown(client, starred="1", assigned="none") == {b}
    assert _shown(client, status="in_progress", assigned="me", unread="1") == {c}
    assert _shown(client, status="closed", unread="1") == set()
    # nonsense is ignored, never a 500
    assert _shown(client, status="lost", assigned="", unread="yes") == {a, b, c, d}
    assert _shown(client, assigned="<script>") == set()
    page = client.get("/", query_string={"status": "closed", "unread": "1"})
    html = page.get_data(as_text=True)
    assert "No source matches these filters." in html
    assert '<option value="closed" selected>' in html and 'name="unread" value="1" checked' in html
    # the status shows in the row, translated
    html = client.get("/", query_string={"status": "referred"}).get_data(as_text=True)
    assert "status-referred" in html and ">Referred<" in html


def test_select_all_on_the_page_works_without_javascript(instance: Instance, staff: Any) -> None:
    _app, client, _accounts = staff
    made = _sources(instance, 3, case_status="new")
    _sources(instance, 1, case_status="closed")
    page = client.get("/", query_string={"status": "new"}).get_data(as_text=True)
    ticks = ROW_RE.findall(page)
    assert {i for i, _ in ticks} == set(made) and not any(c for _, c in ticks)
    link = re.search(r'<a href="([^"]+)" class="button-link">Select all 3 on this page', page)
    assert link, page
    page = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    ticks = ROW_RE.findall(page)
    assert {i for i, _ in ticks} == set(made) and all(c for _, c in ticks)
    assert "Clear the selection" in page
    # the filter rides along with the form, so the bulk action comes back to it
    assert '<input type="hidden" name="keep_status" value="new">' in page


def test_bulk_case_status_is_audited_old_to_new(instance: Instance, staff: Any) -> None:
    _app, client, accounts = staff
    fresh = _sources(instance, 2)
    done = _sources(instance, 1, case_status="referred")[0]
    untouched = _sources(instance, 1)[0]
    response = _post(
        client,
        "/sources/bulk",
        action="status",
        status="referred",
        source=[*fresh, done],
        keep_status="new",
        keep_unread="1",
        keep_evil="x",
    )
    assert response.status_code == 303
    where = response.headers["Location"]
    assert "done=bulk_done" in where and "status=new" in where and "unread=1" in where
    assert "evil" not in where
    for source_id in [*fresh, done]:
        assert _row(instance, source_id)[3] == "referred"
    assert _row(instance, untouched)[3] == "new"
    rows = _audit(accounts, "case_status")
    expected = {("rena", f"{_row(instance, s)[0]} new referred") for s in fresh}
    assert set(rows) == expected  # the one already referred changed nothing: no row

    for status in ("", "lost"):
        response = _post(client, "/sources/bulk", action="status", status=status, source=fresh)
        assert "choose_status" in response.headers["Location"]
    assert "Choose a case status first" in client.get("/?done=choose_status").get_data(as_text=True)
    assert _row(instance, fresh[0])[3] == "referred"


def test_bulk_assign_to_a_colleague(instance: Instance, staff: Any) -> None:
    _app, client, accounts = staff
    accounts.add("aysel", language="az")
    accounts.add("leyla", language="ru")
    accounts.disable("leyla")
    made = _sources(instance, 2)
    response = _post(client, "/sources/bulk", action="assign_to", to="aysel", source=made)
    assert "bulk_done" in response.headers["Location"]
    assert {_row(instance, s)[2] for s in made} == {"aysel"}
    for bad in ("leyla", "", "ghost"):
        response = _post(client, "/sources/bulk", action="assign_to", to=bad, source=made)
        assert "choose_person" in response.headers["Location"]
    assert {_row(instance, s)[2] for s in made} == {"aysel"}
    _post(client, "/sources/bulk", action="assign_to", to="nobody", source=made)
    assert {_row(instance, s)[2] for s in made} == {None}
    _post(client, "/sources/bulk", action="assign", source=made)  # "Assign to me"
    assert {_row(instance, s)[2] for s in made} == {"rena"}
    assert len(_audit(accounts, "assign")) == 4 and len(_audit(accounts, "unassign")) == 2


def test_status_from_the_source_page_and_in_the_audit_page(instance: Instance, staff: Any) -> None:
    app, client, accounts = staff
    (source_id,) = _sources(instance, 1)
    designation = _row(instance, source_id)[0]
    response = _post(client, f"/sources/{source_id}/status", status="aid_offered")
    assert response.status_code == 303 and "status_set" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The case status is now “Legal aid offered”." in page
    assert '<option value="aid_offered" selected>' in page
    assert _row(instance, source_id)[3] == "aid_offered"
    for bad in ("", "deleted", "x" * 5000):
        response = _post(client, f"/sources/{source_id}/status", status=bad)
        assert "status_invalid" in response.headers["Location"]
    assert _row(instance, source_id)[3] == "aid_offered"
    _post(client, f"/sources/{source_id}/status", status="aid_offered")  # no change: no row
    _post(client, f"/sources/{source_id}/status", status="closed")
    assert _audit(accounts, "case_status") == [
        ("rena", f"{designation} aid_offered closed"),
        ("rena", f"{designation} new aid_offered"),
    ]
    assert _post(client, "/sources/" + "0" * 32 + "/status", status="new").status_code == 404
    # an admin reads it with the designation's label and the statuses' labels
    boss = accounts.add("boss", language="en", is_admin=True)
    admin = app.test_client()
    assert _login(admin, "boss", boss.password, _code(boss.totp_secret)).status_code == 303
    audit_page = admin.get("/admin/audit").get_data(as_text=True)
    assert "Changed a case status" in audit_page
    assert "Legal aid offered → Closed" in audit_page
    assert designation not in audit_page  # staff never see a designation raw
