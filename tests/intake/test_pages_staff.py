"""The staff interface shows a channel source's channel in words, and whether her
replies reach her through it (she said YES) or wait for her on the website."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journalist_interface import create_app
from journalist_interface.accounts import StaffAccounts
from securedrop_like import codenames
from securedrop_like.channels import channel_private_key
from securedrop_like.db import Database
from securedrop_like.derivation import Deriver
from securedrop_like.intake_store import IntakeStore
from securedrop_like.service import ReportService, Submission
from tests.conftest import Instance, csrf_of
from tests.functional.test_staff_interface import _code, _login
from tests.intake.core_support import count, flush_all, inbound
from tests.unit.public_map.vnu import validate


@pytest.fixture
def accounts(instance: Instance) -> StaffAccounts:
    return StaffAccounts(Database.for_config(instance.config), opslimit=1, memlimit=8 * 1024 * 1024)


@pytest.fixture
def staff_app(instance: Instance, accounts: StaffAccounts) -> Iterator[Flask]:
    yield create_app(instance.config, accounts=accounts, TESTING=True)


def _source(instance: Instance, channel: str) -> str:
    """A source as the intake server makes one: a receipt's keys, her channel."""
    service = ReportService.open(instance.config)
    try:
        deriver = Deriver(instance.config)
        keys = deriver.derive(deriver.normalise(codenames.generate_receipt()))
        return service.create_source(
            keys, Submission("report", {"what_happened": "By SMS.", "lang": "az"}), channel
        )
    finally:
        service.close()


def _staff(staff_app: Flask, accounts: StaffAccounts, language: str) -> FlaskClient:
    account: Any = accounts.add(f"lawyer{language}", language=language)
    client = staff_app.test_client()
    response = _login(client, account.username, account.password, _code(account.totp_secret))
    assert response.status_code == 303
    return client


@pytest.mark.parametrize(
    ("language", "channel", "label"),
    [("en", "sms", "SMS"), ("az", "email", "E-poçt"), ("ru", "email", "Электронная почта"),
     ("en", "web", "Website"), ("ru", "x", "X (Twitter)")],
)  # fmt: skip
def test_the_inbox_names_the_channel_in_her_language(
    instance: Instance, staff_app: Flask, accounts: StaffAccounts, language: str, channel: str,
    label: str,
) -> None:  # fmt: skip
    _source(instance, channel)
    html = _staff(staff_app, accounts, language).get("/").get_data(as_text=True)
    assert f"<td>{label}</td>" in html
    assert f"<td>{channel}</td>" not in html or channel == "sms" and label == "SMS"


def test_replies_wait_on_the_web_unless_she_asked(
    instance: Instance, staff_app: Flask, accounts: StaffAccounts
) -> None:
    source_id = _source(instance, "sms")
    client = _staff(staff_app, accounts, "en")
    html = client.get(f"/sources/{source_id}").get_data(as_text=True)
    found = re.search(r'<p class="hint" id="delivery">([^<]*)</p>', html)
    assert found, html
    assert "wait for her on the website" in found.group(1)
    assert "by SMS" in found.group(1)
    assert "Channel: SMS" in html


def test_replies_go_by_her_channel_when_she_said_yes(
    instance: Instance, staff_app: Flask, accounts: StaffAccounts
) -> None:
    """Through the real store: she writes on Messenger, says YES; then her case closes."""
    store = IntakeStore.open(instance.config)
    try:
        key = channel_private_key(instance.config)
        assert store.add_part(inbound("Salam", provider="messenger", address="123456"))
        (source_id,) = flush_all(store, key)
        assert store.opt_in(inbound("bəli", provider="messenger", address="123456"), "ok")
    finally:
        store.close()
    client = _staff(staff_app, accounts, "ru")
    html = client.get(f"/sources/{source_id}").get_data(as_text=True)
    found = re.search(r'<p class="hint" id="delivery">([^<]*)</p>', html)
    assert found and "«Messenger»" in found.group(1) and "попросила" in found.group(1)
    token = csrf_of(html)
    before = count(instance.config, "outbox")
    sent = client.post(
        f"/sources/{source_id}/reply",
        data={"csrf_token": token, "text": "Ответ юриста", "lang": "ru"},
        follow_redirects=True,
    )
    assert "«Messenger»" in re.search(
        r'<p class="ok" role="status">([^<]*)</p>', sent.get_data(as_text=True)
    ).group(1)  # type: ignore[union-attr]
    assert count(instance.config, "outbox") == before + 1  # queued for her channel
    closed = client.post(
        f"/sources/{source_id}/status", data={"csrf_token": token, "status": "closed"}
    )
    assert closed.status_code == 303
    html = client.get(f"/sources/{source_id}").get_data(as_text=True)
    found = re.search(r'<p class="hint" id="delivery">([^<]*)</p>', html)
    assert found and "ждут её на сайте" in found.group(1)


def test_a_web_source_has_no_delivery_line(
    instance: Instance, staff_app: Flask, accounts: StaffAccounts
) -> None:
    source_id = _source(instance, "web")
    html = _staff(staff_app, accounts, "en").get(f"/sources/{source_id}").get_data(as_text=True)
    assert 'id="delivery"' not in html and "Channel: Website" in html


@pytest.mark.timeout(300)
def test_the_pages_with_a_channel_source_are_valid_html(
    instance: Instance, staff_app: Flask, accounts: StaffAccounts, tmp_path: Path
) -> None:
    source_id = _source(instance, "sms")
    client = _staff(staff_app, accounts, "az")
    files = []
    for name, path in (("inbox", "/"), ("source", f"/sources/{source_id}")):
        html = client.get(path).get_data(as_text=True)
        assert "E-poçt" in html or "SMS" in html
        (tmp_path / f"{name}.html").write_text(html, "utf-8")
        files.append(tmp_path / f"{name}.html")
    errors = validate(files)
    assert errors == [], "\n".join(errors)
