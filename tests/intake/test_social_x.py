"""X direct messages through the intake app, against a real instance and the recording
server standing in for the X API v2 (every OAuth 1.0a signature checked by oauthlib)."""

from __future__ import annotations

import base64
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
    X_SECRETS,
    X_SENDER,
    X_USER_ID,
    Social,
    receipt_in,
    stored,
    x_body,
    x_headers,
)
from tests.intake.test_social_protocol import verify_oauth

pytestmark = pytest.mark.timeout(60)
social = social_support.social  # the fixture
URL = "/x/webhook"


def post(social: Social, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return social.post(URL, body, x_headers(body) if headers is None else headers)


# -- the CRC -------------------------------------------------------------------------------


def test_crc_answers_the_documented_response_token(social: Social) -> None:
    token = "9b4507b3-9040-4669-9ca3-6b94edb50553"
    response = social.client.get(URL, query_string={"crc_token": token})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    digest = hmac.new(
        X_SECRETS["x_consumer_secret"].encode(), token.encode(), hashlib.sha256
    ).digest()
    assert response.get_json() == {"response_token": "sha256=" + base64.b64encode(digest).decode()}


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"crc_token": ""},
        {"crc_token": "x" * 257},
        # The CRC's HMAC is the one that signs bodies: it must never sign something that
        # could be a body.
        {"crc_token": x_body(("1", "forged")).decode()},
        {"crc_token": '{"for_user_id":"1"}'},
        {"crc_token": "ə"},
    ],
)
def test_crc_refuses_other_tokens(social: Social, query: dict[str, str]) -> None:
    response = social.client.get(URL, query_string=query)
    assert response.status_code == 403
    assert b"sha256=" not in response.get_data()
    assert response.get_data() == social.client.post(URL, data=b"{}").get_data()


# -- authentication ------------------------------------------------------------------------


def test_unsigned_and_forged_posts_are_refused_and_store_nothing(social: Social) -> None:
    body = x_body(("1001", "Məni təhdid edirlər"))
    good = x_headers(body)["x-twitter-webhooks-signature"]
    attempts = [
        {},
        {"x-twitter-webhooks-signature": ""},
        x_headers(body, secret="not-the-consumer-secret"),
        {"x-twitter-webhooks-signature": good.removeprefix("sha256=")},
        {"x-twitter-webhooks-signature": "sha256=" + base64.b64decode(good[7:]).hex()},
        x_headers(body + b"\n"),
        {"x-twitter-webhooks-signature": good.lower()},
    ]
    answers = set()
    for headers in attempts:
        response = post(social, body, headers)
        assert response.status_code == 403
        answers.add(response.get_data())
    assert len(answers) == 1
    assert stored(social) == (0, 0)
    social.settle()
    assert social.rec.requests == []


# -- a report ------------------------------------------------------------------------------


def test_a_dm_becomes_a_sealed_report_with_a_signed_answer(
    social: Social, instance: Instance
) -> None:
    text = "Hello. A police officer asked me for sex to accept my complaint."
    response = post(social, x_body(("1001", text)))
    assert response.status_code == 200 and response.get_data() == b"EVENT_RECEIVED"
    assert stored(social) == (1, 1)
    (source_id,) = social.settle()

    service = social.store.service
    assert source_channel(service, source_id) == "x"
    ((kind, document),) = decrypt_items(service, source_id, instance.reviewer_key)
    assert kind == "report" and document["text"] == text and document["channel"] == "x"
    assert [(r.id, r.channel) for r in inbox.page(service.db.reader()).rows] == [(source_id, "x")]

    sent = social.rec.wait_for(1)
    receipt = receipt_in(social.sent_texts())
    assert sorted(social.sent_texts()) == sorted(social.answers("en", receipt))
    nonces = set()
    for r in sent:
        assert r.method == "POST"
        assert r.path == f"/2/dm_conversations/with/{X_SENDER}/messages"
        assert r.headers["content-type"].startswith("application/json")
        assert list(json.loads(r.body)) == ["text"]
        values = verify_oauth(r, social.rec.url)
        assert values["oauth_token"] == X_SECRETS["x_access_token"]
        nonces.add(values["oauth_nonce"])
    assert len(nonces) == len(sent)
    assert canary_hits(social.config, [X_SENDER, text, "accept my complaint"]) == []


def test_our_own_messages_and_other_activity_are_ignored(social: Social) -> None:
    own = x_body(("2001", "Our automatic answer, echoed back"), sender=X_USER_ID)
    assert post(social, own).get_data() == b"EVENT_RECEIVED"
    other = json.dumps({"for_user_id": X_USER_ID, "favorite_events": [{"id": "1"}]}).encode()
    assert post(social, other).get_data() == b"EVENT_RECEIVED"
    typing = json.dumps(
        {"for_user_id": X_USER_ID, "direct_message_events": [{"type": "typing", "id": "5"}]}
    ).encode()
    assert post(social, typing).get_data() == b"EVENT_RECEIVED"
    assert stored(social) == (0, 0)


def test_a_replay_is_stored_once(social: Social, instance: Instance) -> None:
    body = x_body(("3001", "Только один раз"))
    assert post(social, body).get_data() == post(social, body).get_data() == b"EVENT_RECEIVED"
    assert stored(social) == (1, 1)
    (source_id,) = social.settle()
    assert len(decrypt_items(social.store.service, source_id, instance.reviewer_key)) == 1
    receipt = receipt_in(social.sent_texts())
    assert sorted(social.sent_texts()) == sorted(social.answers("ru", receipt))


def test_a_known_and_an_unknown_sender_get_byte_identical_answers(social: Social) -> None:
    """Mirrors the Messenger test: whatever happened (a first DM, a known sender's next
    one, a replay, a stranger, a STOP), X gets the same status, body and headers."""
    first = post(social, x_body(("5001", "Salam")))
    social.settle()
    known = post(social, x_body(("5002", "Yenə mənəm")))
    replay = post(social, x_body(("5002", "Yenə mənəm")))
    stranger = post(social, x_body(("5003", "Salam"), sender="7000000000000001"))
    stop = post(social, x_body(("5004", "STOP")))
    answers = {
        (r.status_code, r.get_data(), tuple(sorted(r.headers.items())))
        for r in (first, known, replay, stranger, stop)
    }
    assert len(answers) == 1
    ((status, body, _headers),) = answers
    assert (status, body) == (200, b"EVENT_RECEIVED")


# -- opt-in, opt-out, STOP -----------------------------------------------------------------


def _report(social: Social) -> str:
    assert post(social, x_body(("4001", "Müdir məni hədələyir"))).status_code == 200
    (source_id,) = social.settle()
    return source_id


def test_replies_reach_her_after_yes(social: Social) -> None:
    source_id = _report(social)
    before = len(social.rec.requests)
    assert post(social, x_body(("4002", "да"))).status_code == 200
    social.settle()
    assert len(social.sent_texts(before)) == 1  # the confirmation
    social.store.service.place_reply(source_id, "Vəkil cavab verdi.", "az", "lawyer1")
    social.settle()
    (reply,) = social.rec.requests[before + 1 :]
    assert json.loads(reply.body) == {"text": "Vəkil cavab verdi."}
    assert reply.path == f"/2/dm_conversations/with/{X_SENDER}/messages"
    verify_oauth(reply, social.rec.url)


def test_replies_wait_on_the_web_without_yes(social: Social) -> None:
    source_id = _report(social)
    before = len(social.rec.requests)
    social.store.service.place_reply(source_id, "Saytda oxuyun.", "az", "lawyer1")
    social.settle()
    assert social.rec.requests[before:] == []


def test_stop_withdraws_everything(social: Social) -> None:
    _report(social)
    before = len(social.rec.requests)
    assert post(social, x_body(("4003", "Dayan!"))).get_data() == b"EVENT_RECEIVED"
    assert count(social.config, "sources") == 0
    assert count(social.config, "channel_threads") == 0
    social.settle()
    assert len(social.sent_texts(before)) == 1


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        json.dumps({"for_user_id": X_USER_ID, "direct_message_events": []}).encode("utf-16"),
        b'{"for_user_id":"1","direct_message_events":[{"type":"message_create","id":"1","message_create":{"sender_id":"2","message_data":{"text":"\xfe"}}}]}',
        b'{"direct_message_events": [{"type": "message_create"}]}',
        b'{"for_user_id": "1", "direct_message_events": "no"}',
        b"[1]",
        b"[" * 30000 + b"]" * 30000,  # nested too deep for the parser
    ],
)
def test_malformed_signed_bodies_are_a_clear_400(social: Social, body: bytes) -> None:
    response = post(social, body)
    assert response.status_code == 400
    message = response.get_data(as_text=True).strip()
    assert message and len(message) < 200
    assert stored(social) == (0, 0)


def test_a_huge_body_is_413_and_stores_nothing(social: Social) -> None:
    body = x_body(("5001", "x" * 70000))
    assert post(social, body).status_code == 413
    assert stored(social) == (0, 0)


def test_a_disabled_provider_is_404(instance: Instance) -> None:
    from intake.app import create_app
    from tests.intake.social_support import MESSENGER_SECRETS, messenger_section, with_intake

    config = with_intake(
        instance.config,
        {"messenger": messenger_section("https://graph.facebook.com")},
        MESSENGER_SECRETS,
    )
    app = create_app(config)
    try:
        client = app.test_client()
        assert client.get(URL, query_string={"crc_token": "abc"}).status_code == 404
        assert client.post(URL, data=x_body(("1", "t"))).status_code == 404
    finally:
        app.extensions["intake"].store.close()


def test_no_id_text_or_secret_in_the_logs(social: Social, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    text = "Müəllim qiymət üçün görüş istəyir"
    assert post(social, x_body(("6001", text))).status_code == 200
    post(social, b"{}", x_headers(b"{}", secret="forged"))
    social.rec.answer = lambda _: (503, "application/json", b'{"title":"Service Unavailable"}')
    social.settle()
    assert any("failed" in r.getMessage() for r in caplog.records)
    logged = "\n".join(r.getMessage() + str(r.args) + str(r.exc_info) for r in caplog.records)
    for secret in (X_SENDER, text, *X_SECRETS.values()):
        assert secret not in logged


def test_her_sealed_id_is_nowhere_in_plaintext_while_a_reply_waits(social: Social) -> None:
    source_id = _report(social)
    assert post(social, x_body(("6101", "yes"))).status_code == 200
    social.rec.answer = lambda _: (429, "application/json", b'{"title":"Too Many Requests"}')
    social.settle()
    social.store.service.place_reply(source_id, "Gizli vəkil cavabı", "az", "lawyer1")
    social.settle()
    assert count(social.config, "outbox") >= 1
    assert (
        canary_hits(social.config, [X_SENDER, "Müdir məni hədələyir", "Gizli vəkil cavabı"]) == []
    )
