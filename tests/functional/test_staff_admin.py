"""The admin pages: staff accounts managed on the web, secrets shown once, the audit log."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journalist_interface import create_app
from journalist_interface.accounts import LastAdmin, NewAccount, StaffAccounts
from journalist_interface.admin import action_labels
from journalist_interface.audit import write_audit
from journalist_interface.totp import code_at
from securedrop_like import designations
from securedrop_like.db import Database
from tests.conftest import Instance, csrf_of
from tests.functional.test_staff_interface import STEP, _code, _login

PASSPHRASE_RE = re.compile(r'<p class="secret" lang="en">([^<]+)</p>')
KEY_RE = re.compile(r'<code class="secret" lang="en">([^<]+)</code>')
URI_RE = re.compile(r'<code class="uri">([^<]+)</code>')
OLDER_RE = re.compile(r'href="/admin/audit\?before=(\d+)[^"]*"')
ROW_RE = re.compile(r"<tr>\s*<td><time")
ADMIN_POSTS = ("add", "{u}/disable", "{u}/enable", "{u}/reset-password", "{u}/reset-2fa")


@dataclass
class Admin:
    """An instance's staff app with an administrator, nigar, logged in."""

    app: Flask
    client: FlaskClient
    accounts: StaffAccounts
    account: NewAccount

    def token(self) -> str:
        return csrf_of(self.client.get("/").get_data(as_text=True))

    def post(self, path: str, **data: Any) -> Any:
        return self.client.post(path, data={"csrf_token": self.token(), **data})

    def login(self, username: str, password: str, code: str) -> FlaskClient:
        client = self.app.test_client()
        assert _login(client, username, password, code).status_code == 303
        return client


@pytest.fixture
def admin(instance: Instance) -> Iterator[Admin]:
    accounts = StaffAccounts(
        Database.for_config(instance.config), opslimit=1, memlimit=8 * 1024 * 1024
    )
    app = create_app(instance.config, accounts=accounts, TESTING=True)
    account = accounts.add("nigar", is_admin=True, language="en")
    client = app.test_client()
    assert _login(client, "nigar", account.password, _code(account.totp_secret)).status_code == 303
    yield Admin(app, client, accounts, account)
    app.extensions["sesim_staff"].reports.close()


@pytest.fixture
def rena(admin: Admin) -> NewAccount:
    return admin.accounts.add("rena", language="en")


def _secrets(html: str) -> tuple[str | None, str | None, str | None]:
    """(passphrase, base32 key, otpauth URI) shown on a page, each None if absent."""
    password = PASSPHRASE_RE.search(html)
    key = KEY_RE.search(html)
    uri = URI_RE.search(html)
    return (
        password.group(1) if password else None,
        key.group(1).replace(" ", "") if key else None,
        uri.group(1).replace("&amp;", "&") if uri else None,
    )


def _is_live(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


# -- who may come in --------------------------------------------------------------------


def test_a_non_admin_is_refused_on_every_admin_route(admin: Admin, rena: NewAccount) -> None:
    client = admin.login("rena", rena.password, _code(rena.totp_secret))
    inbox = client.get("/").get_data(as_text=True)
    assert "/admin/" not in inbox  # no Accounts or Audit log links for her
    for path in ("/admin/staff", "/admin/audit", "/admin/staff/add", "/admin/staff/nigar/x"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "For administrators only" in response.get_data(as_text=True)
    token = csrf_of(inbox)
    for action in ADMIN_POSTS:
        path = "/admin/staff/" + action.format(u="nigar")
        data = {"csrf_token": token, "username": "intruder", "is_admin": "1", "language": "en"}
        assert client.post(path, data=data).status_code == 403, path
    client.get("/lang/az")
    assert 'lang="az"' in client.get("/admin/staff").get_data(as_text=True)
    nigar = admin.accounts.info("nigar")
    assert not nigar.disabled and nigar.generation == 1
    assert [a.username for a in admin.accounts.list()] == ["nigar", "rena"]
    assert _is_live(admin.client)  # nothing happened to the admin's session either


def test_logged_out_visitors_go_to_the_login_page(admin: Admin) -> None:
    client = admin.app.test_client()
    for path in ("/admin/staff", "/admin/audit"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"].endswith("/login")


def test_an_admin_sees_the_admin_links_and_the_accounts(admin: Admin, rena: NewAccount) -> None:
    page = admin.client.get("/").get_data(as_text=True)
    assert 'href="/admin/staff"' in page and 'href="/admin/audit"' in page
    staff = admin.client.get("/admin/staff")
    html = staff.get_data(as_text=True)
    assert staff.status_code == 200
    assert '<th scope="row">rena</th>' in html and "Administrator" in html
    assert "/admin/staff/rena/disable" in html
    assert "/admin/staff/nigar/disable" not in html  # no button to disable herself


# -- adding an account ------------------------------------------------------------------


def test_an_account_added_on_the_web_can_log_in_with_what_the_page_shows(admin: Admin) -> None:
    response = admin.post("/admin/staff/add", username="  Aysel ", language="ru", is_admin="1")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Location" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    password, key, uri = _secrets(html)
    assert password and key and uri
    assert uri.startswith("otpauth://totp/") and f"secret={key}" in uri and "aysel" in uri
    assert "<svg" in html and 'class="qr"' in html
    assert "data:" not in html and "style=" not in html and "<script" not in html
    info = admin.accounts.info("aysel")  # trimmed and lower-cased
    assert info.is_admin and info.language == "ru" and not info.disabled
    client = admin.login("aysel", password, code_at(key, int(time.time()) // STEP))
    inbox = client.get("/")
    assert inbox.status_code == 200 and 'lang="ru"' in inbox.get_data(as_text=True)
    assert client.get("/admin/staff").status_code == 200  # she is an administrator


def test_a_staff_member_added_without_the_checkbox_is_not_an_admin(admin: Admin) -> None:
    response = admin.post("/admin/staff/add", username="lala", language="az")
    password, key, _uri = _secrets(response.get_data(as_text=True))
    assert password and key
    assert not admin.accounts.info("lala").is_admin
    client = admin.login("lala", password, _code(key))
    assert client.get("/admin/staff").status_code == 403


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("rena", 409),
        ("  RENA ", 409),
        ("", 400),
        ("ab", 400),
        ("a" * 33, 400),
        ("two words", 400),
        ("ləylə", 400),
        ("<b>x</b>", 400),
        ("nul\x00byte", 400),
        ("x" * 5000, 400),
    ],
)
def test_a_bad_or_taken_username_comes_back_with_what_was_typed(
    admin: Admin, rena: NewAccount, username: str, status: int
) -> None:
    response = admin.post("/admin/staff/add", username=username, language="ru", is_admin="1")
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert 'role="alert"' in html
    if status == 409:
        assert "There is already an account named rena." in html
    else:
        assert "A username is 3 to 32 characters" in html
    shown = re.search(r'<input type="text" id="username" name="username" value="([^"]*)"', html)
    assert shown, html
    if "<" in username:
        assert shown.group(1) == "&lt;b&gt;x&lt;/b&gt;"
    elif "\x00" not in username:
        assert shown.group(1) == username[:100]
    assert 'id="is_admin" name="is_admin" value="1" checked' in html
    assert '<option value="ru" lang="ru" selected>' in html
    assert _secrets(html) == (None, None, None)
    assert [a.username for a in admin.accounts.list()] == ["nigar", "rena"]


def test_an_unknown_language_is_refused_politely(admin: Admin) -> None:
    response = admin.post("/admin/staff/add", username="gulnar", language="fr")
    assert response.status_code == 400
    assert "Choose a language from the list." in response.get_data(as_text=True)
    assert [a.username for a in admin.accounts.list()] == ["nigar"]


# -- resets, disabling, enabling ----------------------------------------------------------


def test_a_passphrase_reset_ends_her_session_and_the_old_passphrase(
    admin: Admin, rena: NewAccount
) -> None:
    client = admin.login("rena", rena.password, _code(rena.totp_secret))
    assert _is_live(client)
    response = admin.post("/admin/staff/rena/reset-password")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    password, key, uri = _secrets(html)
    assert password and password != rena.password and key is None and uri is None
    assert not _is_live(client)  # the generation moved on
    later = _code(rena.totp_secret, 1)
    assert _login(admin.app.test_client(), "rena", rena.password, later).status_code == 400
    assert _is_live(admin.login("rena", password, later))


def test_a_2fa_reset_ends_her_session_and_the_old_codes(admin: Admin, rena: NewAccount) -> None:
    client = admin.login("rena", rena.password, _code(rena.totp_secret))
    response = admin.post("/admin/staff/rena/reset-2fa")
    html = response.get_data(as_text=True)
    password, key, uri = _secrets(html)
    assert response.status_code == 200 and password is None and key and uri
    assert key != rena.totp_secret and "<svg" in html
    assert not _is_live(client)
    old_code = _code(rena.totp_secret, 1)
    if old_code != _code(key, 1):
        assert _login(admin.app.test_client(), "rena", rena.password, old_code).status_code == 400
    assert _is_live(admin.login("rena", rena.password, _code(key)))


def test_disable_refuses_her_live_session_and_enable_lets_her_back(
    admin: Admin, rena: NewAccount
) -> None:
    client = admin.login("rena", rena.password, _code(rena.totp_secret))
    response = admin.post("/admin/staff/rena/disable")
    assert response.status_code == 303
    assert "done=disabled" in response.headers["Location"]
    notice = admin.client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'role="status">rena is disabled and their sessions have ended.' in notice
    assert admin.accounts.info("rena").disabled
    assert not _is_live(client)
    later = _code(rena.totp_secret, 1)
    assert _login(admin.app.test_client(), "rena", rena.password, later).status_code == 403
    response = admin.post("/admin/staff/rena/enable")
    assert response.status_code == 303
    notice = admin.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "rena can log in again." in notice
    assert _is_live(admin.login("rena", rena.password, later))
    actions = [(e.staff, e.action, e.target) for e in admin.accounts.audit_entries(limit=10)]
    assert ("nigar", "staff_disable", "rena") in actions
    assert ("nigar", "staff_enable", "rena") in actions


def test_an_admin_cannot_disable_herself(admin: Admin) -> None:
    response = admin.post("/admin/staff/nigar/disable")
    assert response.status_code == 409
    assert 'role="alert"' in response.get_data(as_text=True)
    assert "You cannot disable your own account." in response.get_data(as_text=True)
    assert not admin.accounts.info("nigar").disabled
    assert _is_live(admin.client)


def test_the_last_enabled_admin_is_never_disabled_from_the_web(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.accounts.add("samira", is_admin=True)
    token = admin.token()
    real = StaffAccounts.disable

    def racing(self: StaffAccounts, username: str, **kwargs: Any) -> None:
        real(self, "nigar")  # meanwhile, on the server's command line
        real(self, username, **kwargs)

    monkeypatch.setattr(StaffAccounts, "disable", racing)
    response = admin.client.post("/admin/staff/samira/disable", data={"csrf_token": token})
    assert response.status_code == 409
    assert "samira is the last enabled administrator." in response.get_data(as_text=True)
    assert not admin.accounts.info("samira").disabled


def test_the_last_admin_guard_in_the_accounts(admin: Admin, rena: NewAccount) -> None:
    accounts = admin.accounts
    with pytest.raises(LastAdmin):
        accounts.disable("nigar", keep_an_admin=True)
    assert not accounts.info("nigar").disabled
    accounts.add("samira", is_admin=True)
    accounts.disable("samira", keep_an_admin=True)  # nigar is still there
    accounts.disable("rena", keep_an_admin=True)  # not an admin
    accounts.disable("samira", keep_an_admin=True)  # already disabled: not the last one
    accounts.disable("nigar")  # the command line may (it can always enable again)
    assert accounts.info("nigar").disabled


def test_unknown_accounts_are_not_found(admin: Admin) -> None:
    for name in ("nobody", "NOT-VALID!", "x"):
        assert admin.post(f"/admin/staff/{name}/disable").status_code == 404
        assert admin.post(f"/admin/staff/{name}/reset-password").status_code == 404


def test_an_action_address_opened_by_get_goes_back_to_the_list(admin: Admin) -> None:
    for path in ("/admin/staff/add", "/admin/staff/rena/reset-password"):
        response = admin.client.get(path)
        assert response.status_code == 303 and response.headers["Location"] == "/admin/staff"


def test_without_the_csrf_token_nothing_happens(admin: Admin, rena: NewAccount) -> None:
    for action in ADMIN_POSTS:
        path = "/admin/staff/" + action.format(u="rena")
        for token in (None, "forged"):
            data = {"username": "mallory", "language": "en"}
            if token:
                data["csrf_token"] = token
            response = admin.client.post(path, data=data)
            assert response.status_code == 400, path
            assert "This page has expired" in response.get_data(as_text=True)
    info = admin.accounts.info("rena")
    assert not info.disabled and info.generation == 1
    assert [a.username for a in admin.accounts.list()] == ["nigar", "rena"]


# -- secrets stay secret ------------------------------------------------------------------


def test_secrets_are_never_logged_stored_in_the_session_or_audited(
    admin: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    responses = [admin.post("/admin/staff/add", username="aysel", language="en")]
    responses.append(admin.post("/admin/staff/aysel/reset-password"))
    responses.append(admin.post("/admin/staff/aysel/reset-2fa"))
    for response in responses:
        assert response.status_code == 200
        shown += [s for s in _secrets(response.get_data(as_text=True)) if s]
        assert not any(s in str(response.headers) for s in shown)
    assert len(shown) == 6  # passphrase, key and URI; passphrase; key and URI
    password, key = shown[3], shown[4]
    admin.login("aysel", password, _code(key))
    audit = admin.client.get("/admin/audit").get_data(as_text=True)
    sessions = repr(admin.app.extensions["sesim_staff"].sessions.live_data())
    for secret in shown:
        grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        for text in (audit, caplog.text, sessions):
            assert secret not in text and grouped not in text
    assert "Reset a passphrase" in audit and "aysel" in audit


# -- the audit log -------------------------------------------------------------------------


def _write_rows(instance_config: Any, rows: list[tuple[str | None, str, str | None]]) -> None:
    conn = Database.for_config(instance_config).open()
    conn.execute("BEGIN IMMEDIATE")
    for staff, action, target in rows:
        write_audit(conn, staff, action, target, 1_709_633_245.0)
    conn.execute("COMMIT")
    conn.close()


def test_the_audit_log_labels_every_action(admin: Admin, instance: Instance) -> None:
    token = "3fa9c2d17b40"
    rows: list[tuple[str | None, str, str | None]] = [
        ("rena", action, token) for action in action_labels()
    ]
    rows.append(("rena", "mystery_action", "something"))
    _write_rows(instance.config, rows)
    html = admin.client.get("/admin/audit").get_data(as_text=True)
    for label in action_labels().values():
        assert f"<td>{label}</td>" in html
    assert "<td>mystery_action</td>" in html  # unknown: shown as it is
    assert designations.label(token, "en") in html  # a designation, never the raw token
    assert "<td>2024-03-05 10:07</td>" not in html and "2024-03-05 10:07" in html
    known = (
        "login login_failed login_refused_disabled staff_add staff_disable staff_enable"
        " staff_reset_password staff_reset_2fa star unstar assign unassign mark_read"
        " mark_unread reply export delete_item delete_source reply_bundle template_edit"
        " download"
    )
    assert set(known.split()) <= set(action_labels())


def test_the_audit_log_pages_by_key_and_filters_by_staff(admin: Admin, instance: Instance) -> None:
    _write_rows(instance.config, [("rena", "star", f"{i:012x}") for i in range(230)])
    _write_rows(instance.config, [("lala", "reply", "0" * 12)])
    total = len(admin.accounts.audit_entries(limit=10_000))
    seen: list[int] = []
    path: str | None = "/admin/audit"
    pages = 0
    while path:
        response = admin.client.get(path)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        count = len(ROW_RE.findall(html))
        assert count <= 100
        pages += 1
        seen.append(count)
        older = OLDER_RE.search(html)
        path = f"/admin/audit?before={older.group(1)}" if older else None
        if pages > 1:
            assert "Newest entries" in html
    assert sum(seen) == total and seen[0] == 100 and pages == (total + 99) // 100
    only = admin.client.get("/admin/audit", query_string={"staff": " LALA "}).get_data(as_text=True)
    assert len(ROW_RE.findall(only)) == 1 and 'value="lala"' in only
    first = OLDER_RE.search(admin.client.get("/admin/audit?staff=rena").get_data(as_text=True))
    assert first and "staff=rena" in first.group(0)
    for before in ("abc", "-1", "9" * 40, "١٢", ""):
        assert admin.client.get("/admin/audit", query_string={"before": before}).status_code == 200


# -- every admin page in every language --------------------------------------------------


@pytest.mark.parametrize("lang", ["az", "ru", "en"])
def test_every_admin_page_in_every_language(admin: Admin, rena: NewAccount, lang: str) -> None:
    admin.client.get(f"/lang/{lang}")
    pages = {
        "staff": admin.client.get("/admin/staff"),
        "audit": admin.client.get("/admin/audit"),
        "add": admin.post("/admin/staff/add", username=f"new-{lang}", language=lang),
        "reset-2fa": admin.post("/admin/staff/rena/reset-2fa"),
        "bad": admin.post("/admin/staff/add", username="?", language=lang),
        "self": admin.post("/admin/staff/nigar/disable"),
    }
    expected = {"bad": 400, "self": 409}
    for name, response in pages.items():
        html = response.get_data(as_text=True)
        assert response.status_code == expected.get(name, 200), name
        assert f'<html lang="{lang}">' in html, name
        assert response.headers["Cache-Control"] == "no-store"
        csp = response.headers["Content-Security-Policy"]
        assert csp.startswith("default-src 'none'") and "script-src" not in csp
        assert "<script" not in html and "style=" not in html and "data:" not in html, name
