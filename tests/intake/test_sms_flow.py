"""SMS end to end: each gateway's message becomes a sealed report in the real store,
shows in the staff inbox as an SMS report, opens with the reviewer key; answers
reach her through the gateway's own protocol, byte for byte; forgeries, replays,
STOP, YES, and bad bodies."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from flask_babel import force_locale
from twilio.request_validator import RequestValidator

from intake import texts
from securedrop_like.i18n import gettext
from tests.conftest import Instance
from tests.intake.core_support import canary_hits
from tests.intake.sms_support import (
    CONSTANT,
    JOIN_WINDOW,
    OUR_NUMBER,
    PUBLIC_URL,
    RECEIPT_RE,
    SMSSYNC_SECRET,
    TWILIO_SID,
    TWILIO_TOKEN,
    WEBHOOK_SECRET,
    SmsGateways,
    sign,
    sms_gateways,
)

PROVIDERS = ("smssync", "twilio", "webhook")
HER = "+994501234567"
HER_LOCAL = "050 123 45 67"  # the same number as a gateway may give it
AZ_TEXT = "Sosial müdafiə idarəsində məmur kömək üçün görüş tələb etdi."
RU_TEXT = "Чиновник в отделе соцзащиты требовал встречи за помощь."
EN_TEXT = "The official at the housing office asked me to meet him for the permit."


@pytest.fixture
def sms(instance: Instance) -> Iterator[SmsGateways]:
    with sms_gateways(instance) as gateways, gateways.app.app_context():
        yield gateways  # in the app's context: texts.answer(...) in her language


def delivered(sms: SmsGateways, provider: str) -> list[tuple[str, str]]:
    """(number, text) of every answer that reached her through ``provider``: SMSSync's
    through its task poll, the others through the recorder (checked byte for byte)."""
    if provider == "smssync":
        return [(m["to"], m["message"]) for m in sms.smssync_deliver()]
    sms.deliver()
    out = []
    for seen in sms.api.requests:
        if provider == "twilio" and seen.path.startswith("/2010-04-01/"):
            assert seen.target == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
            basic = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
            assert seen.headers["authorization"] == f"Basic {basic}"
            assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
            form = seen.form()
            to, text = form["To"][0], form["Body"][0]
            expected = urllib.parse.urlencode({"To": to, "From": OUR_NUMBER, "Body": text})
            assert seen.body == expected.encode("ascii")
            out.append((to, text))
        elif provider == "webhook" and seen.path == "/aggregator/send":
            assert seen.headers["x-sesim-signature"] == sign(WEBHOOK_SECRET, seen.body)
            assert seen.headers["content-type"] == "application/json"
            doc = json.loads(seen.body)
            assert doc["from"] == OUR_NUMBER and set(doc) == {"from", "to", "text", "id"}
            out.append((doc["to"], doc["text"]))
    sms.api.requests.clear()
    return out


class _AnyUuid(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and len(other) == 36 and other.count("-") == 4

    __hash__ = str.__hash__


ANY_UUID = _AnyUuid()


def receipt_in(said: list[str]) -> str:
    """The 20-digit receipt in her answers (the outbox keeps no order among them)."""
    found = [m.group(0) for m in map(RECEIPT_RE.search, said) if m]
    assert len(found) == 1, said
    assert len(found[0].replace(" ", "")) == 20
    return found[0]


def nothing_stored(sms: SmsGateways) -> None:
    assert sms.store.pending_threads() == []
    assert sms.flush() == []
    assert sms.sources() == []
    assert sms.store.outbox(sms.channel_key) == []


# -- a message becomes a sealed report --------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_message_becomes_a_sealed_sms_report_and_she_gets_her_receipt(
    sms: SmsGateways, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sender = HER_LOCAL if provider == "smssync" else HER
    response = sms.send(provider, sender, AZ_TEXT, f"{provider}-1")
    assert response.status_code == 200, response.data
    assert response.data == CONSTANT[provider]
    assert sms.sources() == []  # waiting for more parts, sealed
    (source_id,) = sms.flush()
    (source,) = sms.sources()
    assert source.id == source_id and source.channel == "sms"
    (report,) = sms.texts_of(source_id)
    assert AZ_TEXT in report

    answers = delivered(sms, provider)
    assert [number for number, _ in answers] == [HER] * len(answers)  # E.164
    said = [text for _, text in answers]
    assert sorted(said) == sorted(texts.answer("az", receipt_in(said)))
    assert all(set(t) & set("əğıöüşç") for t in said)  # Azerbaijani, not a fallback
    assert all(texts.sms_segments(t) <= 2 for t in said)
    assert delivered(sms, provider) == []  # delivered once
    assert sms.store.outbox(sms.channel_key) == []
    # Nothing she sent in a log line.
    for leak in (HER, HER[1:], "501234567", AZ_TEXT[:20]):
        assert leak not in caplog.text


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("provider", "text", "lang"),
    [
        ("twilio", RU_TEXT, "ru"),
        ("webhook", EN_TEXT, "en"),
        ("smssync", RU_TEXT, "ru"),
    ],
)
def test_the_answer_is_in_her_language(
    sms: SmsGateways, provider: str, text: str, lang: str
) -> None:
    assert sms.send(provider, HER, text, "m1").status_code == 200
    sms.flush()
    said = [t for _, t in delivered(sms, provider)]
    assert sorted(said) == sorted(texts.answer(lang, receipt_in(said)))
    marks = {"ru": set("абвгдежзийклмнопрстуфхцчшщыэюя"), "en": set("the")}[lang]
    assert all(set(t.lower()) & marks for t in said)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_report_shows_in_the_staff_inbox_as_sms(sms: SmsGateways, provider: str) -> None:
    from journalist_interface import create_app as staff_app
    from journalist_interface.accounts import StaffAccounts
    from journalist_interface.totp import code_at
    from securedrop_like.db import Database
    from tests.conftest import csrf_of

    assert sms.send(provider, HER, AZ_TEXT, "m1").status_code == 200
    (source_id,) = sms.flush()
    accounts = StaffAccounts(
        Database.for_config(sms.instance.config), opslimit=1, memlimit=8 * 1024 * 1024
    )
    lawyer = accounts.add("leyla", language="en")
    app = staff_app(sms.instance.config, accounts=accounts, TESTING=True)
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    code = code_at(lawyer.totp_secret, int(time.time()) // 30)
    login = client.post(
        "/login",
        data={"csrf_token": token, "username": "leyla", "password": lawyer.password, "code": code},
    )
    assert login.status_code == 303
    page = client.get("/").get_data(as_text=True)
    (row,) = [block for block in page.split("<tr")[1:] if source_id in block]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[2].strip().lower() == "sms"  # the Channel column
    assert HER not in page and AZ_TEXT not in page


# -- one message, one report ------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_replayed_message_is_stored_once(sms: SmsGateways, provider: str) -> None:
    first = sms.send(provider, HER, AZ_TEXT, "same-id")
    again = sms.send(provider, HER, AZ_TEXT, "same-id")
    assert first.data == again.data == CONSTANT[provider]
    (source_id,) = sms.flush()
    (report,) = sms.texts_of(source_id)
    assert report.count(AZ_TEXT) == 1
    assert sms.send(provider, HER, AZ_TEXT, "same-id").data == CONSTANT[provider]
    assert sms.flush() == []  # seen before: nothing new after the flush either


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_parts_within_the_window_are_joined_into_one_report(
    sms: SmsGateways, provider: str
) -> None:
    parts = ["Birinci hissə: məmur pul istədi.", "İkinci hissə: sonra görüş tələb etdi."]
    for n, part in enumerate(parts):
        assert sms.send(provider, HER, part, f"part-{n}").status_code == 200
    assert sms.send(provider, "+994551112233", "Başqa qadın, başqa hesabat.", "other").data
    flushed = sms.flush()
    assert len(flushed) == 2  # her thread and the other woman's
    mine = [s for s in flushed if any(parts[0] in t for t in sms.texts_of(s))]
    (source_id,) = mine
    (report,) = sms.texts_of(source_id)
    assert report.index(parts[0]) < report.index(parts[1])  # in order, one report


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_known_and_unknown_senders_get_byte_identical_answers(
    sms: SmsGateways, provider: str
) -> None:
    unknown = sms.send(provider, HER, AZ_TEXT, "a")
    sms.flush()
    known = sms.send(provider, HER, "Bir şey də əlavə edirəm.", "b")
    yes = sms.send(provider, HER, "Bəli", "c")
    stop = sms.send(provider, HER, "STOP", "d")
    assert unknown.data == known.data == yes.data == stop.data == CONSTANT[provider]
    assert {r.status_code for r in (unknown, known, yes, stop)} == {200}
    assert unknown.headers["Content-Type"] == known.headers["Content-Type"]


# -- YES, replies, STOP -----------------------------------------------------------------


def _reply(sms: SmsGateways, source_id: str, text: str) -> None:
    sms.store.service.place_reply(source_id, text, "az", "leyla")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_after_yes_the_lawyers_replies_reach_her(sms: SmsGateways, provider: str) -> None:
    assert sms.send(provider, HER, AZ_TEXT, "m1").status_code == 200
    (source_id,) = sms.flush()
    delivered(sms, provider)  # her receipt
    assert sms.send(provider, HER, "bəli", "m2").status_code == 200
    assert delivered(sms, provider) == [(HER, texts.opted_in("az"))]
    _reply(sms, source_id, "Hüquqşünas: sabah zəng edə bilərsiniz.")
    assert delivered(sms, provider) == [(HER, "Hüquqşünas: sabah zəng edə bilərsiniz.")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_without_yes_replies_wait_on_the_web(sms: SmsGateways, provider: str) -> None:
    assert sms.send(provider, HER, AZ_TEXT, "m1").status_code == 200
    (source_id,) = sms.flush()
    delivered(sms, provider)
    _reply(sms, source_id, "Hüquqşünas: cavab saytdadır.")
    assert delivered(sms, provider) == []
    assert sms.store.outbox(sms.channel_key) == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_stop_withdraws_everything_and_confirms(sms: SmsGateways, provider: str) -> None:
    assert sms.send(provider, HER, AZ_TEXT, "m1").status_code == 200
    (source_id,) = sms.flush()
    delivered(sms, provider)
    assert sms.send(provider, HER, "bəli", "m2").status_code == 200
    delivered(sms, provider)
    assert sms.send(provider, HER, "Dayan!", "m3").status_code == 200
    answers = delivered(sms, provider)
    assert answers == [(HER, texts.withdrawn("az"))]
    from securedrop_like import models

    assert models.source_by_id(sms.store.service.db.reader(), source_id) is None
    assert sms.sources() == []
    assert sms.store.outbox(sms.channel_key) == []
    # Her next message starts afresh: a new report, a new receipt.
    assert sms.send(provider, HER, "Yenidən yazıram.", "m4").status_code == 200
    (again,) = sms.flush()
    assert again != source_id
    assert receipt_in([t for _, t in delivered(sms, provider)])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_parts_are_joined_until_the_window_after_her_last_part(
    sms: SmsGateways, provider: str
) -> None:
    assert sms.send(provider, HER, "Birinci hissə.", "p1").status_code == 200
    assert sms.wait(JOIN_WINDOW - 30) == 0
    assert sms.send(provider, HER, "İkinci hissə.", "p2").status_code == 200
    assert sms.wait(JOIN_WINDOW - 30) == 0  # the window counts from her last part
    assert sms.sources() == []
    assert sms.wait(31) == 1
    (source,) = sms.sources()
    (report,) = sms.texts_of(source.id)
    assert report.index("Birinci hissə.") < report.index("İkinci hissə.")
    # A part after the window is a new message of the same report, with no new receipt.
    delivered(sms, provider)
    assert sms.send(provider, HER, "Üçüncü hissə, sonra.", "p3").status_code == 200
    assert sms.wait(JOIN_WINDOW + 1) == 1
    (same,) = sms.sources()
    assert same.id == source.id
    later = sms.texts_of(source.id)
    assert len(later) == 2 and "Üçüncü hissə, sonra." in later[1]
    assert not any(RECEIPT_RE.search(t) for _, t in delivered(sms, provider))


@pytest.mark.timeout(120)
def test_stop_before_the_flush_drops_the_waiting_parts(sms: SmsGateways) -> None:
    assert sms.webhook(HER, AZ_TEXT, "m1").status_code == 200
    assert sms.webhook(HER, "stop", "m2").status_code == 200
    assert sms.flush() == []
    assert sms.sources() == []


@pytest.mark.timeout(180)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_her_number_and_words_are_nowhere_in_plaintext(
    sms: SmsGateways, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    local = "05" + "".join(secrets.choice("0123456789") for _ in range(8))
    number = "+994" + local[1:]
    text = f"KANARYA-{secrets.token_hex(6)} məmur"
    reply = f"CAVAB-{secrets.token_hex(6)}"
    watched = [number, number[1:], local, local[1:], text, text.split()[0], reply]
    sender = local if provider == "smssync" else number
    assert sms.send(provider, sender, text, "c1").status_code == 200
    assert canary_hits(sms.config, watched) == []  # a pending part: sealed
    (source_id,) = sms.flush()
    assert sms.send(provider, sender, "Bəli", "c2").status_code == 200
    sms.store.service.place_reply(source_id, reply, "az", "leyla")
    assert canary_hits(sms.config, watched) == []  # kept sealed, queued sealed
    answers = delivered(sms, provider)
    assert (number, reply) in answers  # the reply did reach her
    assert canary_hits(sms.config, watched) == []
    assert sms.send(provider, sender, "STOP", "c3").status_code == 200
    delivered(sms, provider)
    assert canary_hits(sms.config, watched) == []
    for canary in watched:
        assert canary not in caplog.text


# -- forgeries --------------------------------------------------------------------------


def _forgeries(sms: SmsGateways) -> list[tuple[str, Any]]:
    params = sms.twilio_params(HER, AZ_TEXT, "SM1")
    tampered = dict(params, Body="something else")
    good_sig = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + "/sms/twilio", params)
    body = json.dumps({"from": HER, "to": OUR_NUMBER, "text": AZ_TEXT, "id": "1"}).encode()
    return [
        ("smssync wrong secret", lambda: sms.smssync(HER, AZ_TEXT, "1", secret="wrong" * 6)),
        ("smssync no secret", lambda: sms.smssync(HER, AZ_TEXT, "1", secret=None)),
        ("smssync empty secret", lambda: sms.smssync(HER, AZ_TEXT, "1", secret="")),
        ("twilio unsigned", lambda: sms.twilio(HER, AZ_TEXT, "SM1", signature="")),
        ("twilio other token", lambda: sms.twilio(HER, AZ_TEXT, "SM1", token="x" * 32)),
        (
            "twilio other url",
            lambda: sms.twilio(HER, AZ_TEXT, "SM1", signed_url="https://evil.example/sms/twilio"),
        ),
        ("twilio tampered", lambda: sms.twilio(HER, "", "", params=tampered, signature=good_sig)),
        ("twilio garbage", lambda: sms.twilio(HER, AZ_TEXT, "SM1", signature="abc=")),
        ("webhook unsigned", lambda: sms.webhook("", "", "", raw=body, header="")),
        ("webhook other secret", lambda: sms.webhook(HER, AZ_TEXT, "1", secret="y" * 32)),
        ("webhook sha1", lambda: sms.webhook("", "", "", raw=body, header="sha1=" + "0" * 40)),
        (
            "webhook body changed",
            lambda: sms.webhook("", "", "", raw=body + b" ", header=sign(WEBHOOK_SECRET, body)),
        ),
        (
            "webhook bare hex",
            lambda: sms.webhook("", "", "", raw=body, header=sign(WEBHOOK_SECRET, body)[7:]),
        ),
    ]


@pytest.mark.timeout(120)
def test_every_forgery_gets_the_same_403_and_stores_nothing(
    sms: SmsGateways, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = set()
    for name, attempt in _forgeries(sms):
        response = attempt()
        assert response.status_code == 403, name
        bodies.add((response.data, response.headers["Content-Type"]))
    assert len(bodies) == 1
    nothing_stored(sms)
    # The administrator sees which gateway failed to authenticate, and nothing else.
    for provider in PROVIDERS:
        assert f"{provider}: refused a caller that did not authenticate" in caplog.text
    for leak in (SMSSYNC_SECRET, TWILIO_TOKEN, WEBHOOK_SECRET, HER, HER[1:], AZ_TEXT[:20]):
        assert leak not in caplog.text


@pytest.mark.timeout(60)
def test_the_smssync_poll_and_its_reports_need_the_secret(sms: SmsGateways) -> None:
    assert sms.webhook(HER, AZ_TEXT, "m1").status_code == 200
    for secret in ("", "wrong-secret-0123456789abcdef", SMSSYNC_SECRET + "x"):
        response = sms.poll(secret)
        assert response.status_code == 403
        assert SMSSYNC_SECRET.encode() not in response.data
    assert sms.client.get("/sms/smssync?task=send").status_code == 403
    assert sms.client.get("/sms/smssync?task=result&secret=nope").status_code == 403
    assert (
        sms.client.post("/sms/smssync?task=sent&secret=nope", json={"queued_messages": []})
    ).status_code == 403


@pytest.mark.timeout(60)
def test_twilio_signs_the_query_string_too(sms: SmsGateways) -> None:
    path = "/sms/twilio?region=baku"
    assert sms.twilio(HER, AZ_TEXT, "SM9", path=path).status_code == 200
    assert (
        sms.twilio(
            HER, AZ_TEXT, "SM10", path=path, signed_url=PUBLIC_URL + "/sms/twilio"
        ).status_code
        == 403
    )
    assert len(sms.flush()) == 1


# -- SMSSync's task protocol ------------------------------------------------------------


@pytest.mark.timeout(120)
def test_the_smssync_poll_is_the_documented_format_and_confirmations_deliver(
    sms: SmsGateways,
) -> None:
    empty = sms.poll()
    assert empty.status_code == 200
    assert empty.headers["Content-Type"] == "application/json; charset=utf-8"
    assert empty.data == (
        b'{"payload":{"task":"send","secret":"' + SMSSYNC_SECRET.encode() + b'","messages":[]}}'
    )
    assert sms.smssync(HER, RU_TEXT, "m1").status_code == 200
    sms.flush()
    first = sms.poll()
    payload = json.loads(first.data)
    messages = payload["payload"]["messages"]
    said = [m["message"] for m in messages]
    assert sorted(said) == sorted(texts.answer("ru", receipt_in(said)))
    assert all(set(m) == {"to", "message", "uuid"} and m["to"] == HER for m in messages)
    assert first.data == json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )
    # Handed out, not confirmed yet: not handed out twice.
    assert json.loads(sms.poll().data)["payload"]["messages"] == []
    # A uuid the server never handed out is not confirmed; the real ones are.
    uuids = [m["uuid"] for m in messages]
    confirmed = sms.confirm(["00000000-0000-4000-8000-000000000000", *uuids])
    assert confirmed.status_code == 200
    assert confirmed.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(confirmed.data) == {"message_uuids": uuids}
    assert sms.store.outbox(sms.channel_key) == []
    # A confirmation replayed confirms nothing more.
    assert json.loads(sms.confirm(uuids).data) == {"message_uuids": []}


@pytest.mark.timeout(120)
def test_a_handed_out_reply_is_not_confirmed_after_stop(sms: SmsGateways) -> None:
    assert sms.smssync(HER, AZ_TEXT, "m1").status_code == 200
    (source_id,) = sms.flush()
    sms.smssync_deliver()
    assert sms.smssync(HER, "bəli", "m2").status_code == 200
    sms.smssync_deliver()
    sms.store.service.place_reply(source_id, "Hüquqşünasın cavabı.", "az", "leyla")
    handed = json.loads(sms.poll().data)["payload"]["messages"]
    assert [m["message"] for m in handed] == ["Hüquqşünasın cavabı."]
    assert sms.smssync(HER, "STOP", "m3").status_code == 200  # before the phone confirms
    confirmed = sms.confirm([m["uuid"] for m in handed])
    assert json.loads(confirmed.data) == {"message_uuids": []}  # the phone sends nothing
    assert sms.smssync_deliver() == [
        {"to": HER, "message": texts.withdrawn("az"), "uuid": ANY_UUID}
    ]


@pytest.mark.timeout(120)
def test_an_unconfirmed_message_is_offered_again_after_its_lease(instance: Instance) -> None:
    with sms_gateways(instance, smssync={"lease_seconds": 10}) as sms:
        assert sms.smssync(HER, AZ_TEXT, "m1").status_code == 200
        sms.flush()
        handed = json.loads(sms.poll().data)["payload"]["messages"]
        assert handed
        leases = sms.app.extensions["intake.sms.leases"]
        with leases.lock:  # ten seconds later
            leases.by_token = {t: (r, 0.0) for t, (r, _) in leases.by_token.items()}
        again = json.loads(sms.poll().data)["payload"]["messages"]
        assert [m["message"] for m in again] == [m["message"] for m in handed]
        assert {m["uuid"] for m in again}.isdisjoint(m["uuid"] for m in handed)
        assert json.loads(sms.confirm([m["uuid"] for m in handed]).data)["message_uuids"] == []


@pytest.mark.timeout(120)
def test_without_the_results_api_a_poll_delivers(instance: Instance) -> None:
    with sms_gateways(instance, smssync={"message_results_api": False}) as sms:
        assert sms.smssync(HER, AZ_TEXT, "m1").status_code == 200
        sms.flush()
        handed = json.loads(sms.poll().data)["payload"]["messages"]
        assert len(handed) == len(texts.answer("az", "0" * 20))
        assert sms.store.outbox(sms.channel_key) == []
        assert json.loads(sms.poll().data)["payload"]["messages"] == []


@pytest.mark.timeout(60)
def test_smssync_json_sync_scheme_is_accepted(sms: SmsGateways) -> None:
    doc = {
        "secret": SMSSYNC_SECRET,
        "from": HER,
        "message": AZ_TEXT,
        "message_id": "json-1",
        "sent_to": OUR_NUMBER,
        "device_id": "1",
        "sent_timestamp": "1764669600000",
    }
    response = sms.client.post(
        "/sms/smssync", data=json.dumps(doc), content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200 and response.data == CONSTANT["smssync"]
    assert len(sms.flush()) == 1


@pytest.mark.timeout(60)
def test_smssync_delivery_report_requests_are_answered(sms: SmsGateways) -> None:
    q = urllib.parse.urlencode({"task": "result", "secret": SMSSYNC_SECRET})
    assert sms.client.get(f"/sms/smssync?{q}").data == b'{"message_uuids":[]}'
    report = sms.client.post(f"/sms/smssync?{q}", json={"message_result": []})
    assert report.status_code == 200 and report.data == CONSTANT["smssync"]


# -- bad bodies -------------------------------------------------------------------------


def _translated(sms: SmsGateways, message: str, **variables: str) -> bytes:
    with sms.app.test_request_context(), force_locale(sms.config.default_locale):
        return (gettext(message, **variables) + "\n").encode("utf-8")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_huge_body_is_413_and_stores_nothing(sms: SmsGateways, provider: str) -> None:
    text = "a" * (64 * 1024)
    response = sms.send(provider, HER, text, "huge")
    assert response.status_code == 413
    nothing_stored(sms)


@pytest.mark.timeout(120)
def test_bodies_that_are_not_utf8_are_refused_clearly(sms: SmsGateways) -> None:
    latin = "Bir məmur".encode().replace("ə".encode(), b"\xe6")  # cp1252-ish
    form = (
        b"from=%2B994501234567&message="
        + latin
        + b"&message_id=1&secret="
        + (SMSSYNC_SECRET.encode())
    )
    r1 = sms.client.post(
        "/sms/smssync", data=form, content_type="application/x-www-form-urlencoded"
    )
    assert r1.status_code == 400
    assert r1.data == _translated(sms, "The message could not be read: send it as UTF-8 form data.")
    assert sms.config.default_locale == "az"  # the gateways get the instance's language
    assert r1.data.decode() == (
        "Mesajı oxumaq mümkün olmadı: onu UTF-8 forma məlumatı kimi göndərin.\n"
    )
    escaped = form.replace(latin, b"Bir+m%E6mur")  # a percent escape that is not UTF-8
    r2 = sms.client.post(
        "/sms/smssync", data=escaped, content_type="application/x-www-form-urlencoded"
    )
    assert r2.status_code == 400
    declared = sms.client.post(
        "/sms/smssync",
        data=form.replace(latin, b"Bir"),
        content_type="application/x-www-form-urlencoded; charset=iso-8859-1",
    )
    assert declared.status_code == 400
    raw = b'{"from":"+994501234567","text":"' + latin + b'","id":"1"}'
    r3 = sms.webhook("", "", "", raw=raw)
    assert r3.status_code == 400
    assert r3.data == _translated(
        sms, "The message could not be read: send it as a UTF-8 JSON object."
    )
    surrogate = b'{"from":"+994501234567","text":"\\ud800","id":"1"}'
    assert sms.webhook("", "", "", raw=surrogate).status_code == 400
    nothing_stored(sms)


@pytest.mark.timeout(120)
def test_malformed_bodies_and_missing_fields_are_refused_clearly(sms: SmsGateways) -> None:
    missing = _translated(sms, "A required field is missing or empty: %(field)s.", field="text")
    cases = [
        (sms.webhook("", "", "", raw=b"not json"), None),
        (sms.webhook("", "", "", raw=b"[1,2]"), None),
        (sms.webhook("", "", "", raw=b'{"from":"+994501234567","id":"1"}'), missing),
        (sms.webhook("", "", "", raw=b'{"from":"+994501234567","text":"  ","id":"1"}'), missing),
        (sms.webhook("", "", "", raw=b'{"from":"+994501234567","text":5,"id":"1"}'), None),
        (sms.webhook("", "", "", raw=b'{"from":"+994501234567","text":"x","id":NaN}'), None),
        (sms.webhook("BANK", AZ_TEXT, "1"), None),
        (sms.webhook(HER, AZ_TEXT, ""), None),
        (sms.smssync(HER, "", "1"), None),
        (sms.smssync("Azercell", AZ_TEXT, "1"), None),
        (sms.smssync(HER, AZ_TEXT, ""), None),
        (sms.twilio(HER, "", "SM1"), None),
        (sms.twilio("whatsapp:+994501234567", AZ_TEXT, "SM1"), None),
        (sms.twilio(HER, AZ_TEXT, ""), None),
    ]
    for n, (response, body) in enumerate(cases):
        assert response.status_code == 400, (n, response.data)
        assert response.headers["Content-Type"].startswith("text/plain")
        assert response.data.strip(), n
        if body is not None:
            assert response.data == body, n
    nothing_stored(sms)


@pytest.mark.timeout(60)
def test_a_disabled_gateway_is_404(instance: Instance) -> None:
    with sms_gateways(instance, twilio=None, smssync=None) as sms:  # type: ignore[arg-type]
        assert sms.twilio(HER, AZ_TEXT, "SM1").status_code == 404
        assert sms.smssync(HER, AZ_TEXT, "1").status_code == 404
        assert sms.poll().status_code == 404
        assert sms.webhook(HER, AZ_TEXT, "1").status_code == 200


@pytest.mark.timeout(60)
def test_other_tasks_and_methods_are_refused(sms: SmsGateways) -> None:
    q = urllib.parse.urlencode({"task": "reboot", "secret": SMSSYNC_SECRET})
    assert sms.client.get(f"/sms/smssync?{q}").status_code == 400
    assert sms.client.get("/sms/twilio").status_code == 405
    assert sms.client.get("/sms/webhook").status_code == 405
