"""intake/sms.py on its own: phone numbers, Twilio's signature against Twilio's own
validator, settings, and the two senders against the recording server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse

import pytest
from twilio.request_validator import RequestValidator

from intake import sms
from intake.base import SendError
from securedrop_like.config import ConfigError
from tests.intake.recorder import Recorded, recorder

TOKEN = "twilio-auth-token-0123456789abcdef"
SID = "AC0123456789abcdef0123456789abcdef"
HOOK_SECRET = "webhook-secret-0123456789abcdef"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+994501234567", "+994501234567"),
        ("0501234567", "+994501234567"),  # national form, region AZ
        ("050 123 45 67", "+994501234567"),
        ("(050) 123-45-67", "+994501234567"),
        ("994501234567", "+994501234567"),
        ("+7 912 345 67 89", "+79123456789"),
        ("  +994 12 345 67 89 ", "+994123456789"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, expected: str) -> None:
    assert sms.normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "Azercell", "12", "+", "+000-000-0000", "1" * 60])
def test_what_is_not_a_phone_number_is_refused(raw: str) -> None:
    assert sms.normalise_phone(raw) is None


@pytest.mark.parametrize(
    "params",
    [
        {"From": ["+994501234567"], "To": ["+994125550000"], "Body": ["salam"]},
        {"Body": ["Məni işdən çıxarmaqla hədələdi. Доброе утро & 100% = ok?"], "A": ["", "b"]},
        {"MessageSid": ["SM" + "0" * 32], "NumMedia": ["0"], "Body": ["a+b c/d?e=f"]},
        {},
    ],
)
def test_the_twilio_signature_is_twilios_own(params: dict[str, list[str]]) -> None:
    url = "https://intake.example.org/sms/twilio?x=1"
    validator = RequestValidator(TOKEN)
    from werkzeug.datastructures import MultiDict

    multi = MultiDict([(k, v) for k, values in params.items() for v in values])
    expected = validator.compute_signature(url, multi)
    assert sms.twilio_signature(TOKEN, url, params) == expected
    assert sms.twilio_signature("another-token-0123456789", url, params) != expected
    assert validator.validate(url, multi, sms.twilio_signature(TOKEN, url, params))


def test_the_webhook_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"from":"+994501234567","text":"x","id":"1"}'
    digest = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sms.webhook_signature(HOOK_SECRET, body) == f"sha256={digest}"


# -- settings -----------------------------------------------------------------------------


def _twilio_section(**extra: object) -> dict[str, object]:
    return {"account_sid": SID, "number": "+994125550000", **extra}


def test_settings_load_and_keep_secrets_out_of_their_repr() -> None:
    twilio = sms.load_settings("twilio", _twilio_section(), {"twilio_auth_token": TOKEN})
    assert isinstance(twilio, sms.TwilioSettings)
    assert twilio.api_base == "https://api.twilio.com"
    assert TOKEN not in repr(twilio)
    hook = sms.load_settings(
        "webhook", {"send_url": "https://agg.example/send"}, {"webhook_secret": HOOK_SECRET}
    )
    assert HOOK_SECRET not in repr(hook)
    sync = sms.load_settings("smssync", {}, {"smssync_secret": "phone-secret-0123456789"})
    assert isinstance(sync, sms.SmsSyncSettings) and sync.message_results_api
    assert "phone-secret" not in repr(sync)


@pytest.mark.parametrize(
    ("provider", "section", "secrets", "named"),
    [
        ("smssync", {}, {}, "smssync_secret"),
        ("twilio", _twilio_section(), {}, "twilio_auth_token"),
        ("webhook", {"send_url": "https://a.example/s"}, {}, "webhook_secret"),
        ("twilio", {"number": "+994125550000"}, {"twilio_auth_token": TOKEN}, "account_sid"),
        ("twilio", _twilio_section(number="0125550000"), {"twilio_auth_token": TOKEN}, "number"),
        ("webhook", {}, {"webhook_secret": HOOK_SECRET}, "send_url"),
        ("smssync", {"batch": 0}, {"smssync_secret": "s" * 20}, "batch"),
        ("smssync", {"message_results_api": "yes"}, {"smssync_secret": "s" * 20}, "message_"),
    ],
)
def test_bad_settings_are_a_config_error_naming_the_key(
    provider: str, section: dict[str, object], secrets: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        sms.load_settings(provider, section, secrets)
    assert named in str(refused.value)


def test_a_short_secret_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as refused:
        sms.load_settings("smssync", {}, {"smssync_secret": "hunter2"})
    assert "hunter2" not in str(refused.value) and "smssync_secret" in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.twilio.com",
        "ftp://127.0.0.1",
        "http://10.0.0.1:8080",
        "https://user:pw@api.twilio.com",
        "https://api.twilio.com/v1",  # a base, not a path
    ],
)
def test_an_api_base_must_be_https_or_local(url: str) -> None:
    with pytest.raises(ConfigError, match="api_base"):
        sms.load_settings("twilio", _twilio_section(api_base=url), {"twilio_auth_token": TOKEN})


def test_local_http_is_accepted_for_tests_and_the_demo() -> None:
    settings = sms.load_settings(
        "twilio", _twilio_section(api_base="http://127.0.0.1:9/"), {"twilio_auth_token": TOKEN}
    )
    assert isinstance(settings, sms.TwilioSettings)
    assert settings.api_base == "http://127.0.0.1:9"


def test_smssync_pulls_and_the_others_push() -> None:
    sync = sms.load_settings("smssync", {}, {"smssync_secret": "s" * 20})
    assert sms.make_sender("smssync", sync) is None
    twilio = sms.load_settings(
        "twilio", _twilio_section(api_base="http://127.0.0.1:9"), {"twilio_auth_token": TOKEN}
    )
    sender = sms.make_sender("twilio", twilio)
    assert sender is not None and sender.provider == "twilio"


# -- senders ------------------------------------------------------------------------------


def _twilio_sender(base: str) -> sms.TwilioSender:
    settings = sms.load_settings(
        "twilio", _twilio_section(api_base=base), {"twilio_auth_token": TOKEN}
    )
    assert isinstance(settings, sms.TwilioSettings)
    return sms.TwilioSender(settings)


@pytest.mark.timeout(30)
def test_the_twilio_sender_posts_the_documented_request() -> None:
    text = "Sizin qəbz nömrəniz: 12345678901234567890. Ответ & 100%"
    with recorder(lambda _: (201, "application/json", b'{"sid":"SM1"}')) as rec:
        _twilio_sender(rec.url).send("+994501234567", text)
        (seen,) = rec.wait_for(1)
    assert seen.method == "POST"
    assert seen.target == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.headers["authorization"] == "Basic " + base64.b64encode(
        f"{SID}:{TOKEN}".encode()
    ).decode("ascii")
    expected = (
        "To=%2B994501234567&From=%2B994125550000&Body="
        + urllib.parse.quote_plus(text.encode("utf-8"))
    ).encode("ascii")
    assert seen.body == expected
    assert seen.form() == {"To": ["+994501234567"], "From": ["+994125550000"], "Body": [text]}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
def test_a_refusal_is_a_send_error_that_names_no_address_or_token(status: int) -> None:
    with recorder(lambda _: (status, "application/json", b'{"message":"no"}')) as rec:
        with pytest.raises(SendError) as failed:
            _twilio_sender(rec.url).send("+994501234567", "secret text")
    message = str(failed.value)
    assert str(status) in message
    for leak in ("994501234567", TOKEN, SID, "secret text", "127.0.0.1"):
        assert leak not in message
    # nothing chained that could carry the URL into a traceback
    assert failed.value.__cause__ is None
    assert failed.value.__context__ is None or failed.value.__suppress_context__


@pytest.mark.timeout(30)
def test_a_redirect_is_not_followed_with_the_credentials() -> None:
    def answer(seen: Recorded) -> tuple[int, str, bytes]:
        return 307, "text/plain", b""

    with recorder(answer) as rec:
        with pytest.raises(SendError, match="307"):
            _twilio_sender(rec.url).send("+994501234567", "x")
        assert len(rec.requests) == 1


@pytest.mark.timeout(30)
def test_an_unreachable_api_is_a_send_error() -> None:
    with recorder() as rec:
        url = rec.url
    with pytest.raises(SendError) as failed:  # the recorder has stopped: nothing listens
        _twilio_sender(url).send("+994501234567", "x")
    assert "127.0.0.1" not in str(failed.value) and "994501234567" not in str(failed.value)


@pytest.mark.timeout(30)
def test_the_webhook_sender_posts_the_same_shape_signed() -> None:
    with recorder() as rec:
        settings = sms.load_settings(
            "webhook",
            {"send_url": rec.url + "/outgoing/sms", "number": "+994125550000"},
            {"webhook_secret": HOOK_SECRET},
        )
        sender = sms.make_sender("webhook", settings)
        assert sender is not None
        sender.send("+994501234567", "Cavab: hər şey yaxşıdır")
        (seen,) = rec.wait_for(1)
    assert seen.method == "POST" and seen.target == "/outgoing/sms"
    assert seen.headers["content-type"] == "application/json"
    digest = hmac.new(HOOK_SECRET.encode(), seen.body, hashlib.sha256).hexdigest()
    assert seen.headers["x-sesim-signature"] == f"sha256={digest}"
    document = json.loads(seen.body.decode("utf-8"))
    assert set(document) == {"from", "to", "text", "id"}
    assert document["from"] == "+994125550000"
    assert document["to"] == "+994501234567"
    assert document["text"] == "Cavab: hər şey yaxşıdır"
    assert len(document["id"]) == 32
    expected = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    assert seen.body == expected  # compact UTF-8 JSON, byte for byte
