"""The sms package's test helpers: an intake app with SMSSync, Twilio and the webhook
enabled over a real instance (SQLCipher, real sealing), Twilio's and the aggregator's
outgoing APIs pointed at the recording server, and a client that speaks each
gateway's protocol (Twilio requests signed with Twilio's own RequestValidator)."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from crypto import PrivateKey
from intake.courier import Courier
from securedrop_like.config import Config
from securedrop_like.intake_store import IntakeStore
from tests.conftest import Instance
from tests.intake.recorder import Recorder, recorder

SMSSYNC_SECRET = "smssync-secret-0123456789-abcdef"
TWILIO_TOKEN = "twilio-auth-token-0123456789abcdef"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
WEBHOOK_SECRET = "webhook-secret-0123456789-abcdef"
OUR_NUMBER = "+994125550000"
PUBLIC_URL = "https://intake.example.org"
SMSSYNC_OK = b'{"payload":{"success":true,"error":null}}'
TWIML_EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
WEBHOOK_OK = b'{"ok":true}'
CONSTANT = {"smssync": SMSSYNC_OK, "twilio": TWIML_EMPTY, "webhook": WEBHOOK_OK}
JOIN_WINDOW = 90.0
RECEIPT_RE = re.compile(r"\d[\d ]{18,}\d")


def intake_config(instance: Instance, rec: Recorder, **tables: dict[str, Any]) -> Config:
    """The instance's config with ``[intake]`` (all three SMS providers unless
    ``tables`` says otherwise) and secrets/intake.toml (0600)."""
    section: dict[str, Any] = {
        "join_window_seconds": JOIN_WINDOW,
        "public_url": PUBLIC_URL,
        "smssync": {},
        "twilio": {"account_sid": TWILIO_SID, "number": OUR_NUMBER, "api_base": rec.url},
        "webhook": {"send_url": rec.url + "/aggregator/send", "number": OUR_NUMBER},
    }
    for name, table in tables.items():
        if table is None:
            section.pop(name, None)
        else:
            section[name] = table
    secrets = {
        "smssync_secret": SMSSYNC_SECRET,
        "twilio_auth_token": TWILIO_TOKEN,
        "webhook_secret": WEBHOOK_SECRET,
    }
    path = instance.config.secrets_dir / "intake.toml"
    path.write_text("".join(f'{k} = "{v}"\n' for k, v in secrets.items()), "utf-8")
    path.chmod(0o600)
    return instance.config.with_changes(extra={**instance.config.extra, "intake": section})


@dataclass
class SmsGateways:
    """An intake app and what talks to it."""

    instance: Instance
    config: Config
    app: Flask
    client: FlaskClient
    api: Recorder  # Twilio's REST API and the aggregator's send_url
    courier: Courier
    clock: Clock

    # -- the context ------------------------------------------------------------------------
    @property
    def store(self) -> IntakeStore:
        return self.app.extensions["intake"].store  # type: ignore[no-any-return]

    @property
    def channel_key(self) -> PrivateKey:
        from securedrop_like.channels import channel_private_key

        return channel_private_key(self.config)

    # -- the gateways -----------------------------------------------------------------------
    def smssync(
        self,
        sender: str,
        message: str,
        message_id: str,
        secret: str | None = SMSSYNC_SECRET,
        **extra: str,
    ) -> TestResponse:
        form = {
            "from": sender,
            "message": message,
            "message_id": message_id,
            "sent_to": OUR_NUMBER,
            "device_id": "1",
            "sent_timestamp": "1764669600000",
            **extra,
        }
        if secret is not None:
            form["secret"] = secret
        return self.client.post(
            "/sms/smssync",
            data=urllib.parse.urlencode(form).encode("ascii"),
            content_type="application/x-www-form-urlencoded",
        )

    def twilio_params(self, sender: str, body: str, sid: str) -> dict[str, str]:
        return {
            "From": sender,
            "To": OUR_NUMBER,
            "Body": body,
            "MessageSid": sid,
            "AccountSid": TWILIO_SID,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }

    def twilio(
        self,
        sender: str,
        body: str,
        sid: str,
        *,
        token: str = TWILIO_TOKEN,
        signed_url: str | None = None,
        path: str = "/sms/twilio",
        params: dict[str, str] | None = None,
        signature: str | None = None,
    ) -> TestResponse:
        """Signed with Twilio's own RequestValidator over ``PUBLIC_URL + path``."""
        sent = params if params is not None else self.twilio_params(sender, body, sid)
        if signature is None:
            url = signed_url if signed_url is not None else PUBLIC_URL + path
            signature = RequestValidator(token).compute_signature(url, MultiDict(sent))
        headers = {"X-Twilio-Signature": signature} if signature else {}
        return self.client.post(
            path,
            data=urllib.parse.urlencode(sent).encode("ascii"),
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )

    def webhook(
        self,
        sender: str,
        text: str,
        message_id: str,
        *,
        secret: str = WEBHOOK_SECRET,
        raw: bytes | None = None,
        header: str | None = None,
    ) -> TestResponse:
        body = raw
        if body is None:
            body = json.dumps(
                {"from": sender, "to": OUR_NUMBER, "text": text, "id": message_id}
            ).encode("utf-8")
        if header is None:
            header = sign(secret, body)
        headers = {"X-Sesim-Signature": header} if header else {}
        return self.client.post(
            "/sms/webhook", data=body, content_type="application/json", headers=headers
        )

    def send(self, provider: str, sender: str, text: str, message_id: str) -> TestResponse:
        if provider == "smssync":
            return self.smssync(sender, text, message_id)
        if provider == "twilio":
            return self.twilio(sender, text, message_id)
        return self.webhook(sender, text, message_id)

    # -- SMSSync's task checking -----------------------------------------------------------
    def poll(self, secret: str = SMSSYNC_SECRET) -> TestResponse:
        return self.client.get(
            "/sms/smssync?" + urllib.parse.urlencode({"task": "send", "secret": secret})
        )

    def confirm(self, uuids: list[str]) -> TestResponse:
        return self.client.post(
            "/sms/smssync?task=sent",
            data=json.dumps({"queued_messages": uuids}).encode(),
            content_type="application/json; charset=utf-8",
        )

    def smssync_deliver(self) -> list[dict[str, str]]:
        """One task round as SMSSync does it: poll, confirm, and "send" what the server
        confirmed. Returns the messages the phone would send."""
        answer = self.poll()
        assert answer.status_code == 200, answer.data
        payload = json.loads(answer.data)["payload"]
        assert payload["task"] == "send" and payload["secret"] == SMSSYNC_SECRET
        messages: list[dict[str, str]] = payload["messages"]
        if not messages:
            return []
        confirmed = self.confirm([m["uuid"] for m in messages])
        assert confirmed.status_code == 200, confirmed.data
        uuids = json.loads(confirmed.data)["message_uuids"]
        return [m for m in messages if m["uuid"] in uuids]

    # -- the intake server's background work: the real courier, on a test clock ---------
    def wait(self, seconds: float) -> int:
        """Let ``seconds`` pass for the joiner; returns how many reports it made or
        added to."""
        self.clock.now += seconds
        return self.courier.flush_due()

    def flush(self) -> list[str]:
        """Let the join window pass; returns the sources made or added to."""
        before = {s.id: len(self.store.service.items(s.id)) for s in self.sources()}
        self.wait(JOIN_WINDOW + 1)
        return [
            s.id for s in self.sources() if len(self.store.service.items(s.id)) != before.get(s.id)
        ]

    def deliver(self) -> int:
        """One pass of the courier's outbox delivery (Twilio and the webhook push through
        their Senders; SMSSync's rows wait for the phone's poll)."""
        return self.courier.deliver()

    # -- what the reviewers see ------------------------------------------------------------
    def sources(self) -> list[Any]:
        """Every source (id, channel) in the store."""
        from securedrop_like import models

        db = self.store.service.db
        ids = [str(r[0]) for r in db.reader().execute("SELECT id FROM sources").fetchall()]
        return [models.source_by_id(db.reader(), i) for i in ids]

    def texts_of(self, source_id: str) -> list[str]:
        """Every item of the source, decrypted with the demo reviewer key."""
        service = self.store.service
        out = []
        for item in service.items(source_id):
            sink = io.BytesIO()
            service.decrypt_item_to(item, self.instance.reviewer_key, sink)
            out.append(sink.getvalue().decode("utf-8"))
        return out


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def sms_gateways(instance: Instance, **tables: dict[str, Any]) -> Iterator[SmsGateways]:
    from intake import sms
    from intake.app import create_app
    from intake.courier import make_courier
    from securedrop_like.channels import channel_private_key

    with recorder(lambda _: (201, "application/json", b'{"sid":"SM0"}')) as api:
        config = intake_config(instance, api, **tables)
        app = create_app(config)
        app.config["TESTING"] = True
        ctx = app.extensions["intake"]
        clock = Clock()
        courier = make_courier(
            ctx,
            app,
            channel_private_key(config),
            {provider: sms for provider in ctx.settings},
            JOIN_WINDOW,
            clock=clock,
        )
        try:
            yield SmsGateways(instance, config, app, app.test_client(), api, courier, clock)
        finally:
            app.extensions["intake"].store.close()
