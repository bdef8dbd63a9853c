"""Messenger and X, the parts that need no store: settings, signatures, parsing, and the
senders against the recording server (OAuth 1.0a checked by oauthlib, independently)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from types import SimpleNamespace
from typing import Any

import pytest
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from intake import messenger, x
from intake.base import SendError
from securedrop_like.config import ConfigError
from tests.intake.recorder import Recorded, recorder
from tests.intake.social_support import (
    MESSENGER_SECRETS,
    PAGE_ID,
    PSID,
    X_SECRETS,
    X_USER_ID,
    messenger_section,
    x_section,
)

pytestmark = pytest.mark.timeout(30)


# -- settings ---------------------------------------------------------------------------


def test_messenger_settings_need_every_secret_and_name_none() -> None:
    for key in messenger.SECRET_KEYS:
        partial = {k: v for k, v in MESSENGER_SECRETS.items() if k != key}
        with pytest.raises(ConfigError) as caught:
            messenger.load_settings(
                "messenger", messenger_section("https://graph.facebook.com"), partial
            )
        assert key in str(caught.value)
        for value in MESSENGER_SECRETS.values():
            assert value not in str(caught.value)


def test_x_settings_need_every_secret() -> None:
    for key in x.SECRET_KEYS:
        partial = {k: v for k, v in X_SECRETS.items() if k != key}
        with pytest.raises(ConfigError, match=key):
            x.load_settings("x", x_section("https://api.x.com"), partial)


@pytest.mark.parametrize(
    "base",
    [
        "http://graph.facebook.com",  # plain http off this machine
        "ftp://127.0.0.1",
        "file:///etc/passwd",
        "https://user:pw@graph.facebook.com",
        "https://graph.facebook.com/?access_token=x",
        "",
    ],
)
def test_api_base_is_https_or_loopback(base: str) -> None:
    with pytest.raises(ConfigError):
        messenger.load_settings("messenger", messenger_section(base), MESSENGER_SECRETS)
    with pytest.raises(ConfigError):
        x.load_settings("x", x_section(base), X_SECRETS)


def test_settings_accept_documented_defaults_and_loopback() -> None:
    section = {"page_id": PAGE_ID}
    settings = messenger.load_settings("messenger", section, MESSENGER_SECRETS)
    assert settings.api_base == "https://graph.facebook.com"
    assert settings.api_version == "v21.0"
    assert (
        messenger.load_settings(
            "messenger", messenger_section("http://127.0.0.1:9/"), MESSENGER_SECRETS
        ).api_base
        == "http://127.0.0.1:9"
    )
    assert x.load_settings("x", {"user_id": X_USER_ID}, X_SECRETS).api_base == "https://api.x.com"
    # No secret in the settings' repr (a traceback or a debug print shows it).
    assert MESSENGER_SECRETS["messenger_page_token"] not in repr(settings)
    assert X_SECRETS["x_consumer_secret"] not in repr(
        x.load_settings("x", x_section("https://api.x.com"), X_SECRETS)
    )


def test_bad_ids_and_versions_refused() -> None:
    with pytest.raises(ConfigError, match="page_id"):
        messenger.load_settings("messenger", {"page_id": "my page"}, MESSENGER_SECRETS)
    with pytest.raises(ConfigError, match="api_version"):
        messenger.load_settings(
            "messenger", {"page_id": PAGE_ID, "api_version": "21/../x"}, MESSENGER_SECRETS
        )
    with pytest.raises(ConfigError, match="user_id"):
        x.load_settings("x", {"user_id": "@sesim"}, X_SECRETS)


# -- signatures -------------------------------------------------------------------------


def test_messenger_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"object":"page","entry":[]}'
    expected = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert messenger.signature("app-secret", body) == expected
    assert messenger.signed("app-secret", body, expected)
    assert messenger.signed("app-secret", body, expected.upper().replace("SHA256", "sha256"))
    assert not messenger.signed("app-secret", body + b" ", expected)
    assert not messenger.signed("other", body, expected)
    assert not messenger.signed("app-secret", body, None)
    assert not messenger.signed("app-secret", body, "sha1=" + expected[7:])
    assert not messenger.signed("app-secret", body, "sha256=ə")


def test_x_crc_and_signature_are_base64_hmac_sha256() -> None:
    token = "9b4507b3-9040-4669-9ca3-6b94edb50553"
    digest = hmac.new(b"consumer-secret", token.encode(), hashlib.sha256).digest()
    assert (
        x.signature("consumer-secret", token.encode())
        == "sha256=" + base64.b64encode(digest).decode()
    )
    body = b'{"for_user_id":"1"}'
    good = x.signature("consumer-secret", body)
    assert x.signed("consumer-secret", body, good)
    assert not x.signed("consumer-secret", body, good.lower())  # base64 is case-sensitive
    assert not x.signed("consumer-secret", body[:-1], good)
    assert not x.signed("consumer-secret", body, "")


def test_appsecret_proof_is_hex_hmac_of_the_token() -> None:
    proof = messenger.appsecret_proof("secret", "token")
    assert proof == hmac.new(b"secret", b"token", hashlib.sha256).hexdigest()
    assert len(proof) == 64


# -- parsing ----------------------------------------------------------------------------


def test_messenger_parse_keeps_messages_only() -> None:
    payload: dict[str, Any] = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": PSID},
                        "recipient": {"id": PAGE_ID},
                        "timestamp": 1,
                        "message": {"mid": "m1", "text": "salam"},
                    },
                    {
                        "sender": {"id": PAGE_ID},
                        "recipient": {"id": PSID},
                        "timestamp": 2,
                        "message": {"mid": "m2", "text": "echo", "is_echo": True, "app_id": 5},
                    },
                    {
                        "sender": {"id": PSID},
                        "recipient": {"id": PAGE_ID},
                        "delivery": {"mids": ["m2"], "watermark": 3},
                    },
                    {
                        "sender": {"id": PSID},
                        "recipient": {"id": PAGE_ID},
                        "timestamp": 4,
                        "read": {"watermark": 3},
                    },
                    {
                        "sender": {"id": PSID},
                        "recipient": {"id": PAGE_ID},
                        "timestamp": 5,
                        "message": {
                            "mid": "m3",
                            "attachments": [{"type": "image", "payload": {"url": "https://x"}}],
                        },
                    },
                    {
                        "sender": {"id": PSID},
                        "recipient": {"id": PAGE_ID},
                        "timestamp": 6,
                        "message": {
                            "mid": "m4",
                            "text": "bax",
                            "attachments": [{"type": "audio"}, {"type": "??"}],
                        },
                    },
                ],
            },
            {
                "id": "999",
                "messaging": [
                    {
                        "sender": {"id": PSID},
                        "recipient": {"id": "999"},
                        "message": {"mid": "m5", "text": "other page"},
                    },
                ],
            },
        ],
    }
    assert messenger.parse_events(payload, PAGE_ID) == [
        (PSID, "m1", "salam", "salam"),
        (PSID, "m3", "[attachment: image]", ""),
        (PSID, "m4", "bax\n[attachment: audio, file]", "bax"),
    ]


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"object": "user", "entry": []},
        {"object": "page"},
        {"object": "page", "entry": [{"messaging": {"a": 1}}]},
        {"object": "page", "entry": [{"messaging": [{"message": {"mid": "m", "text": "t"}}]}]},
        {
            "object": "page",
            "entry": [
                {
                    "messaging": [
                        {
                            "sender": {"id": "abc"},
                            "recipient": {"id": PAGE_ID},
                            "message": {"mid": "m", "text": "t"},
                        }
                    ]
                }
            ],
        },
        {
            "object": "page",
            "entry": [
                {
                    "messaging": [
                        {
                            "sender": {"id": PSID},
                            "recipient": {"id": PAGE_ID},
                            "message": {"mid": "m", "text": 5},
                        }
                    ]
                }
            ],
        },
        {
            "object": "page",
            "entry": [
                {
                    "messaging": [
                        {
                            "sender": {"id": PSID},
                            "recipient": {"id": PAGE_ID},
                            "message": {"text": "no mid"},
                        }
                    ]
                }
            ],
        },
    ],
)
def test_messenger_parse_refuses_other_shapes(payload: Any) -> None:
    with pytest.raises(messenger.Malformed):
        messenger.parse_events(payload, PAGE_ID)


def test_x_parse_keeps_dms_from_others_only() -> None:
    payload = {
        "for_user_id": X_USER_ID,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": "101",
                "created_timestamp": "1",
                "message_create": {
                    "target": {"recipient_id": X_USER_ID},
                    "sender_id": "555",
                    "message_data": {"text": "привет", "entities": {}},
                },
            },
            {
                "type": "message_create",
                "id": "102",
                "created_timestamp": "2",
                "message_create": {
                    "target": {"recipient_id": "555"},
                    "sender_id": X_USER_ID,
                    "message_data": {"text": "our answer"},
                },
            },
            {
                "type": "message_create",
                "id": "103",
                "created_timestamp": "3",
                "message_create": {
                    "target": {"recipient_id": X_USER_ID},
                    "sender_id": "555",
                    "message_data": {"text": "", "attachment": {"type": "media", "media": {}}},
                },
            },
            {"type": "participants_join", "id": "104"},
        ],
        "users": {},
    }
    assert x.parse_events(payload, X_USER_ID) == [
        ("555", "101", "привет", "привет"),
        ("555", "103", "[attachment: media]", ""),
    ]
    # Another account subscribed to the same app: not ours.
    assert x.parse_events({**payload, "for_user_id": "777"}, X_USER_ID) == []
    # Other activity has no direct_message_events.
    assert x.parse_events({"for_user_id": X_USER_ID, "favorite_events": []}, X_USER_ID) == []


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"direct_message_events": []},
        {"for_user_id": X_USER_ID, "direct_message_events": {}},
        {
            "for_user_id": X_USER_ID,
            "direct_message_events": [{"type": "message_create", "id": "1"}],
        },
        {
            "for_user_id": X_USER_ID,
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": "x1",
                    "message_create": {"sender_id": "5", "message_data": {}},
                }
            ],
        },
        {
            "for_user_id": X_USER_ID,
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": "1",
                    "message_create": {"sender_id": "5", "message_data": {"text": []}},
                }
            ],
        },
    ],
)
def test_x_parse_refuses_other_shapes(payload: Any) -> None:
    with pytest.raises(x.Malformed):
        x.parse_events(payload, X_USER_ID)


def test_split_text_respects_meta_limit() -> None:
    assert messenger.split_text("short") == ["short"]
    long = ("söz " * 1200).strip()
    pieces = messenger.split_text(long)
    assert len(pieces) == 3
    assert all(0 < len(p) <= messenger.TEXT_LIMIT for p in pieces)
    assert " ".join(pieces) == long
    assert messenger.split_text("x" * 4500) == ["x" * 2000, "x" * 2000, "x" * 500]


# -- senders ----------------------------------------------------------------------------


def _messenger_settings(base: str) -> messenger.MessengerSettings:
    settings: messenger.MessengerSettings = messenger.load_settings(
        "messenger", messenger_section(base), MESSENGER_SECRETS
    )
    return settings


def test_messenger_sender_uses_the_documented_request() -> None:
    with recorder() as rec:
        settings = _messenger_settings(rec.url)
        sender = messenger.make_sender("messenger", settings)
        assert sender is not None and sender.provider == "messenger"
        settings.recent.saw(PSID)
        sender.send(PSID, "Salam, qəbzin: 12345")
        seen = rec.wait_for(1)[0]
    token = MESSENGER_SECRETS["messenger_page_token"]
    proof = hmac.new(
        MESSENGER_SECRETS["messenger_app_secret"].encode(), token.encode(), hashlib.sha256
    ).hexdigest()
    assert seen.method == "POST"
    assert seen.path == "/v21.0/me/messages"
    assert seen.query == {"appsecret_proof": [proof]}
    assert token not in seen.target  # the page token never in the URL
    assert seen.headers["authorization"] == f"Bearer {token}"
    assert seen.headers["content-type"].startswith("application/json")
    assert json.loads(seen.body) == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "Salam, qəbzin: 12345"},
    }


def test_messenger_sender_outside_the_window_uses_the_human_agent_tag() -> None:
    with recorder() as rec:
        sender = messenger.MessengerSender(_messenger_settings(rec.url))
        sender.send(PSID, "A lawyer answered.")
        seen = rec.wait_for(1)[0]
    assert json.loads(seen.body) == {
        "recipient": {"id": PSID},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "A lawyer answered."},
    }


def test_messenger_sender_splits_long_texts() -> None:
    with recorder() as rec:
        messenger.MessengerSender(_messenger_settings(rec.url)).send(PSID, "a " * 2500)
        seen = rec.wait_for(3)
    texts = [json.loads(r.body)["message"]["text"] for r in seen]
    assert all(len(t) <= 2000 for t in texts) and "".join(texts).count("a") == 2500


def _refuse(status: int) -> Any:
    def answer(_: Recorded) -> tuple[int, str, bytes]:
        return status, "application/json", b'{"error":{"message":"echo Salam 12345"}}'

    return answer


@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_sender_errors_name_no_secret_no_address_no_text(status: int) -> None:
    with recorder(_refuse(status)) as rec:
        m = messenger.MessengerSender(_messenger_settings(rec.url))
        xs = x.XSender(x.load_settings("x", x_section(rec.url), X_SECRETS))
        for sender, address in ((m, PSID), (xs, "555")):
            with pytest.raises(SendError) as caught:
                sender.send(address, "Salam 12345")
            message = str(caught.value)
            assert str(status) in message
            for secret in (
                *MESSENGER_SECRETS.values(),
                *X_SECRETS.values(),
                address,
                "Salam",
                "12345",
            ):
                assert secret not in message
            assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_sender_does_not_follow_redirects() -> None:
    def redirect(r: Recorded) -> tuple[int, str, bytes]:
        if r.path.startswith("/elsewhere"):
            return 200, "application/json", b"{}"
        return 307, "text/plain", b""

    with recorder(redirect) as rec:
        with pytest.raises(SendError, match="307"):
            messenger.MessengerSender(_messenger_settings(rec.url)).send(PSID, "t")
        assert len(rec.requests) == 1


def test_sender_unreachable_is_a_send_error() -> None:
    with recorder() as rec:
        url = rec.url
    settings = _messenger_settings(url)  # the server is gone now
    with pytest.raises(SendError, match="unreachable"):
        messenger.MessengerSender(settings).send(PSID, "t")


def test_senders_refuse_non_numeric_addresses() -> None:
    with recorder() as rec:
        with pytest.raises(SendError):
            messenger.MessengerSender(_messenger_settings(rec.url)).send("../../admin", "t")
        with pytest.raises(SendError):
            x.XSender(x.load_settings("x", x_section(rec.url), X_SECRETS)).send("1/../2", "t")
        assert rec.requests == []


def verify_oauth(seen: Recorded, base_url: str) -> dict[str, str]:
    """Check the recorded request's OAuth 1.0a HMAC-SHA1 signature with oauthlib's own
    implementation of RFC 5849; return the protocol parameters."""
    header = seen.headers["authorization"]
    assert header.startswith("OAuth ")
    # collect_parameters percent-decodes the header's values (RFC 5849 §3.5.1).
    values = dict(
        oauth_signature.collect_parameters(
            headers={"Authorization": header}, exclude_oauth_signature=False
        )
    )
    assert len(values) == 7
    uri = base_url + seen.target
    req = OAuthRequest(
        uri, http_method=seen.method, body=seen.body, headers={"Authorization": header}
    )
    # The parameters RFC 5849 §3.4.1.3 signs: the header's and the query's (a JSON body adds none).
    req.params = oauth_signature.collect_parameters(
        uri_query=seen.target.partition("?")[2],
        headers={"Authorization": header},
        exclude_oauth_signature=True,
    )
    req.signature = values["oauth_signature"]
    assert oauth_signature.verify_hmac_sha1(
        req, X_SECRETS["x_consumer_secret"], X_SECRETS["x_access_token_secret"]
    ), "oauthlib does not accept the signature"
    # ... and not with another secret (the check can fail).
    assert not oauth_signature.verify_hmac_sha1(req, "wrong", X_SECRETS["x_access_token_secret"])
    return values


def test_x_sender_signs_with_oauth1_as_oauthlib_checks() -> None:
    with recorder() as rec:
        sender = x.make_sender("x", x.load_settings("x", x_section(rec.url), X_SECRETS))
        assert sender is not None and sender.provider == "x"
        sender.send("555", "Qəbziniz: 12345 — сохраните")
        sender.send("555", "again")
        first, second = rec.wait_for(2)
        url = rec.url
    assert first.method == "POST"
    assert first.path == "/2/dm_conversations/with/555/messages"
    assert first.headers["content-type"].startswith("application/json")
    assert json.loads(first.body) == {"text": "Qəbziniz: 12345 — сохраните"}
    values = verify_oauth(first, url)
    assert values["oauth_consumer_key"] == X_SECRETS["x_consumer_key"]
    assert values["oauth_token"] == X_SECRETS["x_access_token"]
    assert values["oauth_signature_method"] == "HMAC-SHA1"
    assert values["oauth_version"] == "1.0"
    assert abs(int(values["oauth_timestamp"]) - __import__("time").time()) < 60
    assert len(values["oauth_nonce"]) >= 16
    assert verify_oauth(second, url)["oauth_nonce"] != values["oauth_nonce"]
    for secret in ("x_consumer_secret", "x_access_token_secret"):
        assert X_SECRETS[secret] not in first.headers["authorization"]


def test_oauth_signature_matches_oauthlib_with_a_query_and_odd_characters() -> None:
    """The same signature as oauthlib's signer for a request whose URL has a query, a
    default port and characters that need percent-encoding."""
    url = "https://API.example.com:443/1/a%20b?x=1&y=a+b&z=%E2%9C%93"
    header = x.oauth_header(
        "post", url, "key ✓", "sec&ret", "tok", "tok/secret", nonce="n0nce", timestamp=1318622958
    )
    params = oauth_signature.collect_parameters(
        headers={"Authorization": header}, exclude_oauth_signature=False
    )
    values = dict(params)
    base = oauth_signature.signature_base_string(
        "POST",
        oauth_signature.base_string_uri(url),
        oauth_signature.normalize_parameters(
            oauth_signature.collect_parameters(
                uri_query=url.partition("?")[2],
                headers={"Authorization": header},
                exclude_oauth_signature=True,
            )
        ),
    )
    assert base == x.signature_base_string(
        "POST", url, [(k, v) for k, v in params if k != "oauth_signature"]
    )
    assert values["oauth_signature"] == oauth_signature.sign_hmac_sha1_with_client(
        base, SimpleNamespace(client_secret="sec&ret", resource_owner_secret="tok/secret")
    )
