"""The source interface's and the staff interface's pages are valid HTML too (the W3C Nu
Html Checker, vnu.jar, errors only; one Java run per app): every page a woman sees in
az, ru and en, before and after she reports, and the staff's pages once logged in, with
a report in the inbox. (The map's pages: tests/unit/public_map/test_valid_html.py.)"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from flask import Flask

from journalist_interface import create_app
from journalist_interface.accounts import StaffAccounts
from journalist_interface.totp import code_at
from securedrop_like.db import Database
from tests.conftest import Instance, SourceBrowser, csrf_of
from tests.unit.public_map.vnu import validate

pytestmark = pytest.mark.timeout(600)
HOSTILE = 'At the "ASAN" office: <script>alert(1)</script> & </textarea>'


def _save(folder: Path, name: str, html: str) -> Path:
    path = folder / (re.sub(r"\W", "_", name) + ".html")
    path.write_text(html, "utf-8")
    return path


def test_every_source_page_is_valid_html(source: SourceBrowser, tmp_path: Path) -> None:
    client = source.client
    files = []
    for lang in ("az", "ru", "en"):
        for path in ("/", "/report", "/login", "/nowhere", "/channels/", "/channels/email"):
            response = client.get(f"{path}?lang={lang}")
            assert response.mimetype == "text/html", path
            files.append(_save(tmp_path, f"{lang}{path}", response.get_data(as_text=True)))
    answer = source.report(HOSTILE)  # the codename page is the answer to the POST
    files.append(_save(tmp_path, "codename", answer.get_data(as_text=True)))
    files.append(_save(tmp_path, "case", client.get("/case").get_data(as_text=True)))
    files.append(_save(tmp_path, "withdraw", client.get("/case/withdraw").get_data(as_text=True)))
    errors = validate(files)
    assert errors == [], "\n".join(errors)


def test_every_staff_page_is_valid_html(
    instance: Instance, source: SourceBrowser, tmp_path: Path
) -> None:
    source.report(HOSTILE)
    accounts = StaffAccounts(
        Database.for_config(instance.config), opslimit=1, memlimit=8 * 1024 * 1024
    )
    admin = accounts.add("nigar", is_admin=True, language="en")
    app: Flask = create_app(instance.config, accounts=accounts, TESTING=True)
    client = app.test_client()
    files = [_save(tmp_path, "login", client.get("/login").get_data(as_text=True))]
    token = csrf_of(client.get("/login").get_data(as_text=True))
    code = code_at(admin.totp_secret, int(time.time()) // 30)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": "nigar", "password": admin.password, "code": code},
    )
    assert response.status_code == 303
    inbox = client.get("/").get_data(as_text=True)
    files.append(_save(tmp_path, "inbox", inbox))
    pages = ["/withdrawals", "/replies/upload", "/admin/templates", "/admin/staff",
             "/admin/staff/add", "/admin/audit", "/nowhere"]  # fmt: skip
    pages += sorted(set(re.findall(r'href="(/sources/[0-9a-f]{32})"', inbox)))[:1]
    for path in pages:
        response = client.get(path)
        if response.status_code in (404, 405) and path != "/nowhere":
            continue  # not a page in this version
        assert response.mimetype == "text/html", path
        files.append(_save(tmp_path, path, response.get_data(as_text=True)))
    # A template added to what she typed, then the log-in page carrying her reply once
    # her session has ended (what she typed is the hostile text: escaped in both).
    (source_path,) = [p for p in pages if p.startswith("/sources/")]
    token = csrf_of(client.get(source_path).get_data(as_text=True))
    form = {"csrf_token": token, "text": HOSTILE, "lang": "en"}
    added = client.post(
        source_path + "/reply",
        data={**form, "action": "template", "template": "acknowledgement", "tlang": "ru"},
    )
    assert added.status_code == 200
    files.append(_save(tmp_path, "source-template-added", added.get_data(as_text=True)))
    accounts.reset_password("nigar")  # her session ends
    carried = client.post(source_path + "/reply", data=form)
    assert carried.status_code == 200 and 'name="reply_text"' in carried.get_data(as_text=True)
    files.append(_save(tmp_path, "login-carried-reply", carried.get_data(as_text=True)))
    assert len(files) >= 6
    errors = validate(files)
    assert errors == [], "\n".join(errors)
