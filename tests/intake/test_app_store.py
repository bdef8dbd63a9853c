"""The intake app over the real store (core's IntakeStore, SQLCipher, real sealing):
a message through a webhook becomes a sealed pending part, the courier joins it
after the window into a report the reviewer can read, her answers (with a real
receipt that logs in on the source interface) are delivered; STOP and replays;
nothing of her address or words in a log line or a plaintext row."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crypto import PrivateKey
from intake.app import create_app
from intake.base import Intake
from intake.courier import Courier
from securedrop_like.channels import channel_private_key
from securedrop_like.intake_store import IntakeStore
from securedrop_like.service import ReportService
from tests.conftest import Instance, SourceBrowser
from tests.intake.app_support import (
    CONSTANT,
    FAKE_SECRET,
    FakeClock,
    FakeSender,
    fake_channel,
    with_intake,
)
from tests.intake.core_support import canary_hits, count, decrypt_items

PHONE = "+994557654321"
SECRETS = {"webhook_secret": FAKE_SECRET}
WORDS = ("Canary-words-ŞİKAYƏT müdir mənə dedi ki, kağızlarım üçün axşam gəlməliyəm.",
         "Canary-second-part otaq 214, ikinci mərtəbə.")  # fmt: skip


@pytest.fixture
def rig(instance: Instance) -> Iterator[tuple[Flask, Courier, FakeSender, FakeClock]]:
    config = with_intake(instance.config, {"webhook": {}}, SECRETS)
    store = IntakeStore.open(config)
    sender = FakeSender("webhook")
    app = create_app(config, Intake(config, store), modules=[fake_channel({"webhook": sender})])
    clock = FakeClock(5000.0)
    courier = Courier(
        app.extensions["intake"],
        app,
        channel_private_key(config),
        {"webhook": sender},
        join_window=90,
        clock=clock,
    )
    yield app, courier, sender, clock
    store.close()


def _post(client: FlaskClient, text: str, mid: str, sender: str = PHONE) -> bytes:
    body = json.dumps({"from": sender, "text": text, "id": mid}).encode()
    response = client.post("/sms/webhook", data=body, headers={"X-Test-Key": FAKE_SECRET})
    assert response.status_code == 200
    return response.get_data()


def _sources(config: object) -> list[str]:
    service = ReportService.open(config)  # type: ignore[arg-type]
    try:
        return [r[0] for r in service.db.reader().execute("SELECT id FROM sources").fetchall()]
    finally:
        service.close()


def test_sms_parts_become_one_sealed_report_and_her_receipt_logs_in(
    instance: Instance,
    rig: tuple[Flask, Courier, FakeSender, FakeClock],
    source: SourceBrowser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, courier, sender, clock = rig
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    assert _post(client, WORDS[0], "sid-1") == CONSTANT
    clock.now += 30
    assert _post(client, WORDS[1], "sid-2") == CONSTANT
    assert _post(client, WORDS[1], "sid-2") == CONSTANT  # the provider retried
    assert count(instance.config, "intake_parts") == 2
    clock.now += 89
    assert courier.flush_due() == 0
    clock.now += 2
    assert courier.flush_due() == 1
    assert count(instance.config, "intake_parts") == 0
    (source_id,) = _sources(instance.config)

    service = ReportService.open(instance.config)
    try:
        opened = decrypt_items(service, source_id, instance.reviewer_key)
    finally:
        service.close()
    joined = json.dumps(opened, ensure_ascii=False)
    assert WORDS[0] in joined and WORDS[1] in joined
    assert joined.index(WORDS[0]) < joined.index(WORDS[1])

    with app.app_context():
        assert courier.deliver() == 2
    assert {to for to, _ in sender.sent} == {PHONE}
    # (The store's outbox keeps no order between the two: random ids.)
    first, second = sorted((text for _, text in sender.sent), key=lambda t: "BƏLİ" in t)
    assert first.startswith("Müraciət alındı.") and "BƏLİ" in second  # she wrote az
    receipt = first.split("nömrəniz: ")[1][:24]  # "20 rəqəmli nömrəniz: 1234 …"
    assert len(receipt.replace(" ", "")) == 20 and receipt.replace(" ", "").isdigit()
    assert source.login(receipt).status_code in (302, 303)
    assert source.case()

    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (PHONE, PHONE[1:], "Canary", receipt):
        assert secret not in logged
    assert canary_hits(instance.config, ["Canary-words", "Canary-second", PHONE, PHONE[1:]]) == []


def test_stop_withdraws_and_confirms_in_her_language(
    instance: Instance, rig: tuple[Flask, Courier, FakeSender, FakeClock]
) -> None:
    app, courier, sender, clock = rig
    client = app.test_client()
    _post(client, WORDS[0], "a-1")
    clock.now += 91
    courier.flush_due()
    with app.app_context():
        courier.deliver()
    assert len(sender.sent) == 2
    assert _post(client, "Dayan!", "a-2") == CONSTANT
    with app.app_context():
        assert courier.deliver() == 1
    assert sender.sent[-1] == (PHONE, "Göndərdiyiniz hər şey silindi. Sizə bir daha yazmayacağıq.")
    assert count(instance.config, "channel_threads") == 0
    assert _sources(instance.config) == []  # withdrawn as on the web
    assert count(instance.config, "retractions") == 1
    assert canary_hits(instance.config, [PHONE, PHONE[1:], "Canary-words"]) == []


def test_an_unknown_sender_and_a_known_one_get_the_same_answers(
    rig: tuple[Flask, Courier, FakeSender, FakeClock],
) -> None:
    app, courier, _sender, clock = rig
    client = app.test_client()
    _post(client, "first", "k-1", "+994501000001")
    clock.now += 91
    courier.flush_due()
    answers = {
        _post(client, "more words", "k-2", "+994501000001"),  # known
        _post(client, "new words", "u-1", "+994501000002"),  # unknown
        _post(client, "STOP", "u-2", "+994501000003"),  # unknown, STOP
        _post(client, "YES", "k-3", "+994501000001"),  # known, YES
        _post(client, "YES", "k-3", "+994501000001"),  # replay
    }
    assert answers == {CONSTANT}


def test_at_start_the_courier_flushes_what_a_dead_server_left(
    instance: Instance, rig: tuple[Flask, Courier, FakeSender, FakeClock]
) -> None:
    app, courier, _sender, clock = rig
    _post(app.test_client(), WORDS[0], "dead-1")
    # The server stops before the window passed: a new one knows no deadline.
    config = app.extensions["intake"].config
    store = IntakeStore.open(config)
    try:
        again = create_app(config, Intake(config, store), modules=[fake_channel()])
        fresh = Courier(
            again.extensions["intake"], again, channel_private_key(config), join_window=90,
            clock=clock,
        )  # fmt: skip
        assert fresh.flush_all() == 1
    finally:
        store.close()
    assert len(_sources(config)) == 1
    assert count(instance.config, "intake_parts") == 0


def test_the_channel_key_is_not_the_reviewers(instance: Instance) -> None:
    assert channel_private_key(instance.config).public_key != instance.reviewer_key.public_key
    assert isinstance(channel_private_key(instance.config), PrivateKey)
