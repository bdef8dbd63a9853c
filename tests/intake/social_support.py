"""Shared pieces of the Messenger and X tests: demo credentials, the providers' request
bodies exactly as their documentation shows them, and signing as the providers do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.courier import Courier, make_courier
from securedrop_like.channels import channel_private_key
from tests.conftest import Instance
from tests.intake.app_support import FakeClock
from tests.intake.core_support import count
from tests.intake.recorder import Recorder, recorder

PAGE_ID = "104857600012345"
PSID = "6021877345678901"  # her page-scoped id: the "address" on Messenger
X_USER_ID = "1400000000000000001"  # our account
X_SENDER = "3805104374"  # her user id: the "address" on X

MESSENGER_SECRETS = {
    "messenger_app_secret": "app-secret-7f3a9c",
    "messenger_verify_token": "verify-token-51b2e",
    "messenger_page_token": "EAAPageToken0123456789abcdef",
}
X_SECRETS = {
    "x_consumer_key": "xvz1evFS4wEEPTGEFPHBog",
    "x_consumer_secret": "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
    "x_access_token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
    "x_access_token_secret": "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
}


def messenger_section(api_base: str) -> dict[str, Any]:
    return {"page_id": PAGE_ID, "api_base": api_base, "api_version": "v21.0"}


def x_section(api_base: str) -> dict[str, Any]:
    return {"user_id": X_USER_ID, "api_base": api_base}


# -- Messenger ----------------------------------------------------------------------------


def messenger_body(
    *messages: tuple[str, str], psid: str = PSID, extra: list[Any] | None = None
) -> bytes:
    """A Messenger Platform webhook POST body: one entry, one ``messaging`` event per
    (mid, text), as Meta's webhook reference shows it."""
    events: list[Any] = [
        {
            "sender": {"id": psid},
            "recipient": {"id": PAGE_ID},
            "timestamp": 1458692752478 + n,
            "message": {"mid": mid, "text": text},
        }
        for n, (mid, text) in enumerate(messages)
    ]
    events += extra or []
    payload = {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": 1458692752478, "messaging": events}],
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def hub_signature(
    body: bytes, secret: str = MESSENGER_SECRETS["messenger_app_secret"]
) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": "sha256=" + digest, "Content-Type": "application/json"}


# -- X -------------------------------------------------------------------------------------


def x_body(*messages: tuple[str, str], sender: str = X_SENDER, for_user: str = X_USER_ID) -> bytes:
    """An Account Activity API POST body with ``direct_message_events`` (one
    ``message_create`` per (event id, text)), as X's documentation shows it."""
    events = [
        {
            "type": "message_create",
            "id": event_id,
            "created_timestamp": "1392078023603",
            "message_create": {
                "target": {"recipient_id": for_user if sender != for_user else X_SENDER},
                "sender_id": sender,
                "source_app_id": "268278",
                "message_data": {
                    "text": text,
                    "entities": {"hashtags": [], "symbols": [], "urls": [], "user_mentions": []},
                },
            },
        }
        for event_id, text in messages
    ]
    payload = {
        "for_user_id": for_user,
        "direct_message_events": events,
        "users": {sender: {"id": sender, "name": "N", "screen_name": "n"}},
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def x_signature(data: bytes, secret: str = X_SECRETS["x_consumer_secret"]) -> str:
    digest = hmac.new(secret.encode(), data, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def x_headers(body: bytes, secret: str = X_SECRETS["x_consumer_secret"]) -> dict[str, str]:
    return {
        "x-twitter-webhooks-signature": x_signature(body, secret),
        "Content-Type": "application/json",
    }


# -- the intake app over a real instance --------------------------------------------------


def with_intake(config: Any, section: dict[str, Any], secrets: dict[str, str]) -> Any:
    """``config`` with ``[intake]`` = ``section`` and secrets/intake.toml (0600)."""
    path = config.secrets_dir / "intake.toml"
    path.write_text("".join(f'{k} = "{v}"\n' for k, v in secrets.items()), "utf-8")
    path.chmod(0o600)
    return config.with_changes(extra={**config.extra, "intake": section})


@dataclass
class Social:
    """The intake app with Messenger and X enabled, their APIs at a recording server."""

    app: Flask
    client: FlaskClient
    rec: Recorder
    config: Any
    courier: Courier
    clock: FakeClock
    join_window: float

    @property
    def intake(self) -> Any:
        return self.app.extensions["intake"]

    @property
    def store(self) -> Any:
        return self.intake.store

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Any:
        return self.client.post(path, data=body, headers=headers)

    def settle(self) -> list[str]:
        """What the courier does once the join window is over: flush every thread
        whose window has passed, then deliver the outbox through each module's Sender.
        Returns the sources it made."""
        before = set(self._source_ids())
        self.clock.now += self.join_window + 1
        self.courier.flush_due()
        with self.app.app_context():
            self.courier.deliver()
        return [s for s in self._source_ids() if s not in before]

    def _source_ids(self) -> list[str]:
        rows = self.store.service.db.reader().execute("SELECT id FROM sources").fetchall()
        return sorted(r[0] for r in rows)

    def answers(self, lang: str, receipt: str | None) -> list[str]:
        from intake import texts

        with self.app.app_context():
            return list(texts.answer(lang, receipt))

    def sent_texts(self, start: int = 0) -> list[str]:
        out = []
        with self.rec.lock:
            seen = list(self.rec.requests[start:])
        for r in seen:
            doc = json.loads(r.body)
            out.append(doc["message"]["text"] if "message" in doc else doc["text"])
        return out


@contextmanager
def social_app(config: Any, join_window: int = 90) -> Iterator[Social]:
    """The intake app over ``config`` with Messenger and X enabled, and its courier
    (not started: a test moves its clock and calls it)."""
    from intake.app import create_app
    from intake.settings import load_settings

    with recorder() as rec:
        section = {
            "join_window_seconds": join_window,
            "public_url": "https://intake.example.org",
            "messenger": messenger_section(rec.url),
            "x": x_section(rec.url),
        }
        configured = with_intake(config, section, {**MESSENGER_SECRETS, **X_SECRETS})
        settings = load_settings(configured)
        app = create_app(configured, settings=settings)
        clock = FakeClock()
        courier = make_courier(
            app.extensions["intake"],
            app,
            channel_private_key(configured),
            settings.modules,
            settings.join_window_seconds,
            clock=clock,
        )
        try:
            yield Social(
                app,
                app.test_client(),
                rec,
                configured,
                courier,
                clock,
                settings.join_window_seconds,
            )
        finally:
            app.extensions["intake"].store.close()


@pytest.fixture
def social(instance: Instance) -> Iterator[Social]:
    """:func:`social_app` over the test's instance."""
    with social_app(instance.config) as s:
        yield s


def stored(social: Social) -> tuple[int, int]:
    """(parts waiting, messages seen) in the intake tables."""
    return count(social.config, "intake_parts"), count(social.config, "intake_seen")


RECEIPT_RE = re.compile(r"\d{4} \d{4} \d{4} \d{4} \d{4}|\d{20}")


def receipt_in(texts: list[str]) -> str:
    """The receipt in the answers she was sent (the outbox keeps no order)."""
    found = [m.group(0) for t in texts for m in RECEIPT_RE.finditer(t)]
    assert len(found) == 1, "not exactly one receipt in the answers"
    return found[0]
