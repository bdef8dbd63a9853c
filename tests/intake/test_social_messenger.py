"""Messenger through the intake app, against a real instance (SQLCipher, real crypto) and
the recording server standing in for Meta's Send API."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from securedrop_like import inbox
from tests.conftest import Instance
from tests.intake import social_support
from tests.intake.core_support import canary_hits, count, decrypt_items, source_channel
from tests.intake.social_support import (
    MESSENGER_SECRETS,
    PAGE_ID,
    PSID,
    Social,
    hub_signature,
    messenger_body,
    receipt_in,
    stored,
)

pytestmark = pytest.mark.timeout(60)
social = social_support.social  # the fixture
URL = "/messenger/webhook"
TOKEN = MESSENGER_SECRETS["messenger_page_token"]
PROOF = hmac.new(
    MESSENGER_SECRETS["messenger_app_secret"].encode(), TOKEN.encode(), hashlib.sha256
).hexdigest()


def post(social: Social, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return social.post(URL, body, hub_signature(body) if headers is None else headers)


# -- the handshake -----------------------------------------------------------------------


def test_handshake_echoes_the_challenge(social: Social) -> None:
    response = social.client.get(
        URL,
        query_string={
            "hub.mode": "subscribe",
            "hub.verify_token": MESSENGER_SECRETS["messenger_verify_token"],
            "hub.challenge": "1158201444",
        },
    )
    assert response.status_code == 200
    assert response.get_data() == b"1158201444"
    assert response.mimetype == "text/plain"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {
            "hub.mode": "unsubscribe",
            "hub.verify_token": MESSENGER_SECRETS["messenger_verify_token"],
            "hub.challenge": "1",
        },
        {"hub.mode": "subscribe", "hub.verify_token": MESSENGER_SECRETS["messenger_verify_token"]},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {
            "hub.mode": "subscribe",
            "hub.verify_token": MESSENGER_SECRETS["messenger_verify_token"] + "x",
            "hub.challenge": "1",
        },
        {},
    ],
)
def test_handshake_refused_otherwise(social: Social, query: dict[str, str]) -> None:
    response = social.client.get(URL, query_string=query)
    reference = social.client.post(URL, data=b"{}")  # unsigned: the common 403
    assert response.status_code == 403
    assert response.get_data() == reference.get_data()
    assert b"1" != response.get_data()


# -- authentication ------------------------------------------------------------------------


def test_unsigned_and_forged_posts_are_refused_and_store_nothing(social: Social) -> None:
    body = messenger_body(("m-forged", "Məni hədələyirlər"))
    attempts = [
        {},
        {"X-Hub-Signature-256": ""},
        hub_signature(body, secret="not-the-app-secret"),
        {
            "X-Hub-Signature-256": hub_signature(body)["X-Hub-Signature-256"].replace(
                "sha256=", "sha1="
            )
        },
        {
            "X-Hub-Signature": "sha1="
            + hmac.new(b"app-secret-7f3a9c", body, hashlib.sha1).hexdigest()
        },
        hub_signature(body + b" "),  # signed another body
    ]
    bodies = set()
    for headers in attempts:
        response = post(social, body, headers)
        assert response.status_code == 403
        bodies.add(response.get_data())
    assert len(bodies) == 1  # the same answer whatever the reason
    assert stored(social) == (0, 0)
    social.settle()
    assert social.rec.requests == []


# -- a report ------------------------------------------------------------------------------


def test_a_dm_becomes_a_sealed_report_with_an_answer_in_her_language(
    social: Social, instance: Instance
) -> None:
    text = "Salam. Sosial müdafiə idarəsində məmur məndən görüş istəyir, yoxsa müavinət yoxdur."
    body = messenger_body(
        ("m-1", text),
        extra=[
            {
                "sender": {"id": PSID},
                "recipient": {"id": PAGE_ID},
                "delivery": {"mids": ["x"], "watermark": 1},
            },
            {
                "sender": {"id": PSID},
                "recipient": {"id": PAGE_ID},
                "timestamp": 2,
                "read": {"watermark": 1},
            },
            {
                "sender": {"id": PAGE_ID},
                "recipient": {"id": PSID},
                "timestamp": 3,
                "message": {"mid": "m-echo", "text": "echo of ours", "is_echo": True},
            },
        ],
    )
    response = post(social, body)
    assert response.status_code == 200
    assert response.get_data() == b"EVENT_RECEIVED"
    assert stored(social) == (1, 1)  # the echo, the delivery and the read are not parts
    (source_id,) = social.settle()

    service = social.store.service
    assert source_channel(service, source_id) == "messenger"
    ((kind, document),) = decrypt_items(service, source_id, instance.reviewer_key)
    assert kind == "report"
    assert document["text"] == text and document["channel"] == "messenger"
    # The staff inbox lists her with the channel.
    rows = inbox.page(service.db.reader()).rows
    assert [(r.id, r.channel) for r in rows] == [(source_id, "messenger")]

    # The automatic answer: in Azerbaijani, through the documented Send API request.
    sent = social.rec.wait_for(1)
    receipt = receipt_in(social.sent_texts())
    assert sorted(social.sent_texts()) == sorted(social.answers("az", receipt))
    assert sorted(social.sent_texts()) != sorted(social.answers("en", receipt))
    for r in sent:
        assert r.method == "POST" and r.path == "/v21.0/me/messages"
        assert r.query == {"appsecret_proof": [PROOF]}
        assert r.headers["authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in r.target
        doc = json.loads(r.body)
        assert list(doc) == ["recipient", "messaging_type", "message"]
        assert doc["recipient"] == {"id": PSID} and doc["messaging_type"] == "RESPONSE"
    # Nowhere in the instance in plaintext: not her id, not her words.
    assert canary_hits(social.config, [PSID, text, "müavinət yoxdur"]) == []


def test_several_messages_in_one_post_join_into_one_report(
    social: Social, instance: Instance
) -> None:
    body = messenger_body(("m-a", "Это было в полиции."), ("m-b", "Он требовал встречи."))
    assert post(social, body).get_data() == b"EVENT_RECEIVED"
    assert stored(social) == (2, 2)
    (source_id,) = social.settle()
    ((_, document),) = decrypt_items(social.store.service, source_id, instance.reviewer_key)
    assert document["text"] == "Это было в полиции.\nОн требовал встречи."
    receipt = receipt_in(social.sent_texts())
    assert sorted(social.sent_texts()) == sorted(social.answers("ru", receipt))


def test_a_replay_is_stored_once(social: Social, instance: Instance) -> None:
    body = messenger_body(("m-replayed", "Bir dəfə yazdım"))
    first, second = post(social, body), post(social, body)
    assert first.get_data() == second.get_data() == b"EVENT_RECEIVED"
    assert stored(social) == (1, 1)
    (source_id,) = social.settle()
    assert len(decrypt_items(social.store.service, source_id, instance.reviewer_key)) == 1
    # Meta's retry after the flush: still once.
    assert post(social, body).status_code == 200
    assert social.store.pending_threads() == []


def test_an_attachment_without_text_is_noted(social: Social, instance: Instance) -> None:
    body = messenger_body(
        extra=[
            {
                "sender": {"id": PSID},
                "recipient": {"id": PAGE_ID},
                "timestamp": 1,
                "message": {
                    "mid": "m-photo",
                    "attachments": [
                        {"type": "image", "payload": {"url": "https://cdn.example/p.jpg"}}
                    ],
                },
            }
        ]
    )
    assert post(social, body).status_code == 200
    (source_id,) = social.settle()
    ((_, document),) = decrypt_items(social.store.service, source_id, instance.reviewer_key)
    assert document["text"] == "[attachment: image]"
    # Her language is read from her words alone: none here, so the default (az).
    assert sorted(social.sent_texts()) == sorted(
        social.answers("az", receipt_in(social.sent_texts()))
    )
    assert not any("cdn.example" in r.target for r in social.rec.requests)  # never fetched


# -- opt-in, opt-out, STOP -----------------------------------------------------------------


def _report(social: Social, text: str = "Məmur pul istədi") -> str:
    assert post(social, messenger_body(("m-r", text))).status_code == 200
    (source_id,) = social.settle()
    return source_id


def test_replies_reach_her_after_yes(social: Social) -> None:
    source_id = _report(social)
    before = len(social.rec.requests)
    assert post(social, messenger_body(("m-yes", "Bəli"))).get_data() == b"EVENT_RECEIVED"
    social.settle()
    confirmation = social.sent_texts(before)
    assert len(confirmation) == 1  # the opt-in confirmation
    service = social.store.service
    service.place_reply(source_id, "Hüquqşünas: sizə kömək edəcəyik.", "az", "lawyer1")
    social.settle()
    delivered = social.rec.requests[before + 1 :]
    assert [json.loads(r.body)["message"]["text"] for r in delivered] == [
        "Hüquqşünas: sizə kömək edəcəyik."
    ]
    assert json.loads(delivered[0].body)["recipient"] == {"id": PSID}
    assert delivered[0].query == {"appsecret_proof": [PROOF]}


def test_replies_wait_on_the_web_without_yes(social: Social) -> None:
    source_id = _report(social)
    before = len(social.rec.requests)
    social.store.service.place_reply(source_id, "Cavab: saytda oxuyun.", "az", "lawyer1")
    social.settle()
    assert social.rec.requests[before:] == []


def test_stop_withdraws_everything(social: Social) -> None:
    _report(social)
    assert count(social.config, "sources") == 1
    before = len(social.rec.requests)
    assert post(social, messenger_body(("m-stop", "STOP"))).get_data() == b"EVENT_RECEIVED"
    assert count(social.config, "sources") == 0
    assert count(social.config, "channel_threads") == 0
    social.settle()
    assert len(social.sent_texts(before)) == 1  # the confirmation


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"object": "page", "entry": [',
        '{"object": "page", "entry": []}'.encode("utf-16"),
        b'{"object":"page","entry":[{"messaging":[{"message":{"text":"\xff"}}]}]}',
        b'{"object": "instagram", "entry": []}',
        b'{"object": "page", "entry": [{"messaging": '
        b'[{"sender": {}, "message": {"mid": "1", "text": "t"}}]}]}',
        b"[]",
        b"[" * 30000 + b"]" * 30000,  # nested too deep for the parser
    ],
)
def test_malformed_signed_bodies_are_a_clear_400(social: Social, body: bytes) -> None:
    response = post(social, body)
    assert response.status_code == 400
    message = response.get_data(as_text=True).strip()
    assert message and len(message) < 200 and "Traceback" not in message
    assert stored(social) == (0, 0)


def test_a_huge_body_is_413_and_stores_nothing(social: Social) -> None:
    body = messenger_body(("m-huge", "ə" * 40000))
    assert len(body) > 64 * 1024
    response = post(social, body)
    assert response.status_code == 413
    assert stored(social) == (0, 0)


def test_a_body_just_under_the_cap_is_taken(social: Social) -> None:
    body = messenger_body(("m-big", "a" * 60000))
    assert len(body) <= 64 * 1024
    assert post(social, body).status_code == 200
    assert stored(social) == (1, 1)


# -- joining, constant answers, logs ---------------------------------------------------------


def test_parts_wait_for_the_join_window(social: Social, instance: Instance) -> None:
    assert post(social, messenger_body(("m-j1", "Birinci hissə"))).status_code == 200
    social.clock.now += social.join_window - 5
    assert social.courier.flush_due() == 0
    assert count(social.config, "sources") == 0 and social.rec.requests == []
    # A second part within the window moves the deadline (after her last part).
    assert post(social, messenger_body(("m-j2", "ikinci hissə"))).status_code == 200
    social.clock.now += 10
    assert social.courier.flush_due() == 0
    (source_id,) = social.settle()
    ((_, document),) = decrypt_items(social.store.service, source_id, instance.reviewer_key)
    assert document["text"] == "Birinci hissə\nikinci hissə"


def test_a_known_and_an_unknown_sender_get_the_same_answer(social: Social) -> None:
    first = post(social, messenger_body(("m-k1", "Salam")))
    social.settle()
    known = post(social, messenger_body(("m-k2", "Yenə mənəm")))
    replay = post(social, messenger_body(("m-k2", "Yenə mənəm")))
    stranger = post(social, messenger_body(("m-k3", "Salam"), psid="7000000000000001"))
    answers = {
        (r.status_code, r.get_data(), tuple(sorted(r.headers.items())))
        for r in (first, known, replay, stranger)
    }
    assert len(answers) == 1


def test_no_id_text_or_token_in_the_logs(social: Social, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    text = "Rayon icra hakimiyyətində işçi"
    assert post(social, messenger_body(("m-log", text))).status_code == 200
    post(social, b"{}", hub_signature(b"{}", secret="forged"))
    post(social, b"not json")
    social.rec.answer = lambda _: (500, "application/json", b'{"error":"boom"}')  # Meta is down
    social.settle()
    assert any("failed" in r.getMessage() for r in caplog.records)  # the failure was logged
    logged = "\n".join(r.getMessage() + str(r.args) + str(r.exc_info) for r in caplog.records)
    for secret in (PSID, text, TOKEN, PROOF, *MESSENGER_SECRETS.values()):
        assert secret not in logged


def test_a_reply_after_the_24_hours_uses_the_human_agent_tag(social: Social) -> None:
    source_id = _report(social)
    assert post(social, messenger_body(("m-yes2", "yes"))).status_code == 200
    social.settle()
    before = len(social.rec.requests)
    social.intake.settings["messenger"].recent.window = -1.0  # her last message is "old"
    social.store.service.place_reply(source_id, "Late answer from a lawyer.", "en", "lawyer1")
    social.settle()
    (late,) = social.rec.requests[before:]
    assert json.loads(late.body) == {
        "recipient": {"id": PSID},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "Late answer from a lawyer."},
    }


def test_her_sealed_id_is_nowhere_in_plaintext_while_a_reply_waits(social: Social) -> None:
    source_id = _report(social, "Kimsə mənə şantaj edir")
    assert post(social, messenger_body(("m-yes3", "hə"))).status_code == 200
    social.rec.answer = lambda _: (503, "application/json", b"{}")  # Meta is down: rows wait
    social.settle()
    social.store.service.place_reply(source_id, "Gizli cavab mətni", "az", "lawyer1")
    social.settle()
    assert count(social.config, "outbox") >= 1  # queued, sealed
    assert canary_hits(social.config, [PSID, "Kimsə mənə şantaj edir", "Gizli cavab mətni"]) == []
