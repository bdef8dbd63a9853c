"""SMS over real sockets: the intake app on a threaded server on 127.0.0.1 with the
courier's own threads (a short join window), Twilio and SMSSync speaking HTTP to it,
and the answers reaching the recording server through urllib."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from twilio.request_validator import RequestValidator

from intake import sms as sms_module
from intake.courier import Courier, make_courier
from securedrop_like.channels import channel_private_key
from securedrop_like.serve import make_quiet_server
from tests.conftest import Instance
from tests.intake.sms_support import (
    OUR_NUMBER,
    SMSSYNC_SECRET,
    TWILIO_SID,
    TWILIO_TOKEN,
    TWIML_EMPTY,
    SmsGateways,
    sms_gateways,
)

HER = "+994557654321"


@dataclass
class Live:
    sms: SmsGateways
    url: str
    courier: Courier


@pytest.fixture
def live(instance: Instance) -> Iterator[Live]:
    with sms_gateways(instance) as sms:
        server = make_quiet_server("127.0.0.1", 0, sms.app)
        url = f"http://127.0.0.1:{server.server_port}"
        ctx = sms.app.extensions["intake"]
        ctx.public_url = url  # what Twilio would be told to call
        courier = make_courier(
            ctx,
            sms.app,
            channel_private_key(sms.config),
            {provider: sms_module for provider in ctx.settings},
            0.3,  # join window, seconds
            scan_seconds=0.1,
            outbox_seconds=0.1,
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        courier.start()
        try:
            yield Live(sms, url, courier)
        finally:
            courier.stop()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


@pytest.mark.timeout(60)
def test_twilio_over_http_reaches_her_through_twilios_api(live: Live) -> None:
    params = {
        "From": HER,
        "To": OUR_NUMBER,
        "Body": "Polis bölməsində məndən pul və görüş istədilər.",
        "MessageSid": "SM" + "1" * 32,
        "AccountSid": TWILIO_SID,
    }
    url = live.url + "/sms/twilio"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    body = urllib.parse.urlencode(params).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, answer = _post(url, body, {**form, "X-Twilio-Signature": signature})
    assert (status, answer) == (200, TWIML_EMPTY)
    # Signed for another address: refused, over the wire as in the test client.
    forged = RequestValidator(TWILIO_TOKEN).compute_signature(
        "https://elsewhere.example/sms/twilio", params
    )
    assert _post(url, body, {**form, "X-Twilio-Signature": forged})[0] == 403
    # The courier joins after the window and sends her answers through "Twilio".
    sent = live.sms.api.wait_for(2, timeout=20)
    basic = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    for seen in sent:
        assert seen.target == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
        assert seen.headers["authorization"] == f"Basic {basic}"
        assert seen.form()["To"] == [HER] and seen.form()["From"] == [OUR_NUMBER]
    (source,) = live.sms.sources()
    assert source.channel == "sms"


@pytest.mark.timeout(60)
def test_smssync_over_http_polls_and_confirms(live: Live) -> None:
    form = {
        "from": "055 765 43 21",
        "message": "Məktəbdə direktor qızımın yeri üçün məndən görüş istədi.",
        "message_id": "8a7b6c5d-0000-4000-8000-000000000001",
        "sent_to": OUR_NUMBER,
        "secret": SMSSYNC_SECRET,
        "device_id": "1",
        "sent_timestamp": "1764669600000",
    }
    status, answer = _post(
        live.url + "/sms/smssync",
        urllib.parse.urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, answer) == (200, b'{"payload":{"success":true,"error":null}}')
    query = urllib.parse.urlencode({"task": "send", "secret": SMSSYNC_SECRET})
    deadline = threading.Event()
    messages: list[dict[str, str]] = []
    for _ in range(100):  # the courier flushes after the join window
        with urllib.request.urlopen(f"{live.url}/sms/smssync?{query}", timeout=10) as response:  # noqa: S310
            messages = json.loads(response.read())["payload"]["messages"]
        if messages:
            break
        deadline.wait(0.1)
    assert messages and all(m["to"] == HER for m in messages)
    status, confirmed = _post(
        live.url + "/sms/smssync?task=sent",
        json.dumps({"queued_messages": [m["uuid"] for m in messages]}).encode(),
        {"Content-Type": "application/json; charset=utf-8"},
    )
    assert status == 200
    assert json.loads(confirmed) == {"message_uuids": [m["uuid"] for m in messages]}
    assert live.sms.store.outbox(live.sms.channel_key) == []


@pytest.mark.timeout(60)
def test_a_huge_body_over_the_wire_is_413(live: Live) -> None:
    status, _ = _post(
        live.url + "/sms/webhook",
        b"{" + b" " * (64 * 1024) + b"}",
        {"Content-Type": "application/json", "X-Sesim-Signature": "sha256=00"},
    )
    assert status == 413
    assert live.sms.sources() == []
